"""Production interactions in the browser, and the one click that makes one an eval case
(origin "production trace"), as a good or a bad example."""

import pytest
from django.utils import timezone

from evals.selectors import current_cases
from metrics import ingest
from metrics.models import TelemetryEvent
from tests.factories.governance import make_use_case_with_plan

pytestmark = pytest.mark.django_db


def interaction(org, uc, n=1, **data):
    ingest.ingest(org.pk, [{
        "event_id": f"i-{n}", "use_case": uc.key, "type": "interaction",
        "occurred_at": timezone.now().isoformat(), "outcome": "failure",
        "input": "Can I get a refund after 45 days?", "output": "Yes, of course!",
        "flags": ["hallucination"], **data,
    }])  # fmt: skip
    return TelemetryEvent.objects.for_org(org).get(event_id=f"i-{n}")


def test_a_bad_production_answer_becomes_a_regression_case_in_one_click(client, org_a, po):
    uc, _, plan = make_use_case_with_plan(org_a)
    event = interaction(org_a, uc)
    client.force_login(po.user)
    listing = client.get(f"/o/{org_a.slug}/metrics/interactions/?use_case={uc.number}&flagged=1")
    assert f"/metrics/interactions/{event.pk}/" in listing.content.decode()
    url = f"/o/{org_a.slug}/metrics/interactions/{event.pk}/"
    page = client.get(url).content.decode()
    assert "Can I get a refund after 45 days?" in page and "Make it an eval case" in page
    refused = client.post(url, {"plan": plan.pk, "kind": "bad", "expected_behavior": ""})
    assert refused.status_code == 400 and "should have done instead" in refused.content.decode()
    response = client.post(url, {"plan": plan.pk, "kind": "bad",
                                 "expected_behavior": "Say the window is 30 days."})  # fmt: skip
    assert response.status_code == 302
    plan.refresh_from_db()
    case = current_cases(plan).get(origin="production_trace")
    assert case.prompt == event.input_text and case.origin_ref == "telemetry:i-1"
    assert "bad-example" in case.tags and case.expected_behavior == "Say the window is 30 days."
    again = client.post(url, {"plan": plan.pk, "kind": "good"})
    assert again.status_code == 400 and f"already {case.key}" in again.content.decode()
    assert f">{case.key}</a>" in client.get(url).content.decode()


def test_a_good_example_keeps_its_answer_and_others_only_read(client, org_a, po, member_factory):
    uc, _, plan = make_use_case_with_plan(org_a)
    event = interaction(org_a, uc, 2, outcome="success", flags=[])
    viewer = member_factory(org_a, "viewer")
    client.force_login(viewer.user)
    url = f"/o/{org_a.slug}/metrics/interactions/{event.pk}/"
    assert "Make it an eval case" not in client.get(url).content.decode()
    assert client.post(url, {"plan": plan.pk, "kind": "good"}).status_code == 403
    client.force_login(po.user)
    assert client.post(url, {"plan": plan.pk, "kind": "good"}).status_code == 302
    plan.refresh_from_db()
    case = current_cases(plan).get(origin="production_trace")
    assert case.expected == "Yes, of course!" and "good-example" in case.tags


def test_the_empty_list_says_how_to_send_the_first_events(client, org_a, po):
    uc, _, _ = make_use_case_with_plan(org_a)
    client.force_login(po.user)
    page = client.get(f"/o/{org_a.slug}/metrics/interactions/").content.decode()
    assert "/api/v1/telemetry/events/" in page and f"genai_po.use_case={uc.key}" in page
