"""The demo's release: REL-1 of the refund use case in review, blocked by the baseline run
that misses its thresholds, its security sign-off pending with the reviewer."""

import pytest
from django.core.management import call_command

from genai_po.models import Organization, User
from governance import gate as release_gate
from governance import selectors
from governance.models import Release

pytestmark = pytest.mark.django_db


def test_the_demo_release_is_in_review_with_its_run_blocking_and_a_sign_off_pending():
    call_command("seed_demo", verbosity=0)
    org = Organization.objects.get(slug="acme-support")
    release = Release.objects.for_org(org).select_related("use_case", "organization").get()
    assert (release.key, release.status) == ("REL-1", "in_review")
    assert release.hitl_policy is not None and release.knowledge_snapshot
    gate = release_gate.evaluate(release)
    states = {s.item.key: s.state for s in gate.items}
    assert states["eval_run_current"] == "blocked"
    assert all(s.state == "met" for s in gate.items if s.item.kind == "manual")
    assert gate.verdict == "blocked"
    reviewer = User.objects.get(email="reviewer@acme-support.example")
    (pending,) = selectors.review_queue(org, reviewer)
    assert pending["release"] == release and pending["roles"][0].role == "security"
    call_command("seed_demo", verbosity=0)
    assert Release.objects.for_org(org).count() == 1


def test_the_demo_incident_is_closed_with_its_follow_ups_and_regression_case():
    from governance.models import Incident

    call_command("seed_demo", verbosity=0)
    org = Organization.objects.get(slug="acme-support")
    incident = Incident.objects.for_org(org).select_related("regression_case").get()
    assert (incident.key, incident.status) == ("INC-1", "closed")
    assert sorted(incident.follow_ups.values_list("status", flat=True)) == ["accepted", "done"]
    case = incident.regression_case
    assert case is not None and (case.origin, case.origin_ref) == ("incident", "INC-1")
    assert case.plan.use_case_id == incident.use_case_id
    call_command("seed_demo", verbosity=0)
    assert Incident.objects.for_org(org).count() == 1
