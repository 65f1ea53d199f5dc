"""The metrics API: dashboard figures and chart data, alert rules and alerts, business
metric readings, value assumptions and online scoring; organization first."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from metrics import ingest, rollups
from metrics.models import Alert, AlertRule, BusinessMetricReading, OnlineScoring
from tests.factories.evals import EvalPlanFactory
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/metrics/"


def _telemetry(org, uc):
    now = timezone.now()
    ingest.ingest(org.pk, [
        {"event_id": f"api-{n}", "use_case": uc.key, "type": "interaction",
         "outcome": "success" if n % 4 else "escalated", "user": f"u{n % 3}", "cost": 0.02,
         "occurred_at": (now - timedelta(hours=n)).isoformat()}
        for n in range(40)
    ])  # fmt: skip
    rollups.rollup_organization(org.pk)


def test_the_dashboard_gives_figures_charts_and_formulas(api_a, org_a):
    uc = UseCaseFactory(organization=org_a)
    _telemetry(org_a, uc)
    body = api_a.get(f"{BASE}dashboard/", {"use_case": uc.pk, "range": "7d"}).json()
    assert body["use_case"] == uc.key and body["range"]["preset"] == "7d"
    assert body["totals"]["interactions"] == 40
    assert body["rates"]["escalation_rate"] == 10 / 40
    assert body["cost_per_success"] == pytest.approx(0.02 * 40 / 30)
    assert body["users"]["ever"] == 3
    assert body["charts"]["outcomes"]["columns"][:2] == ["bucket", "interactions"]
    assert sum(r[1] for r in body["charts"]["outcomes"]["rows"]) == 40
    assert "÷" in body["definitions"]["escalation_rate"]
    portfolio = api_a.get(f"{BASE}dashboard/").json()
    assert portfolio["use_case"] is None and portfolio["totals"]["interactions"] == 40


def test_the_dashboard_refuses_bad_ranges_and_other_organizations_use_cases(api_a, org_a, org_b):
    theirs = UseCaseFactory(organization=org_b)
    _telemetry(org_b, theirs)
    response = api_a.get(f"{BASE}dashboard/", {"use_case": theirs.pk})
    assert response.status_code == 400 and "No such use case" in response.json()["message"]
    for params in ({"range": "5y"}, {"start": "2026-11-10", "end": "2026-11-01"},
                   {"start": "2026-11-10"}, {"use_case": 10**30}, {"colour": "red"}):  # fmt: skip
        assert api_a.get(f"{BASE}dashboard/", params).status_code == 400, params
    assert api_a.get(f"{BASE}dashboard/").json()["totals"]["interactions"] == 0


def test_alert_rules_through_the_api(api_a, org_a, org_b):
    uc = UseCaseFactory(organization=org_a)
    created = api_a.post(f"{BASE}alert-rules/", {
        "use_case": uc.pk, "metric": "escalation_rate", "condition": "rises_by",
        "threshold": "2", "action": "incident",
    }, format="json")  # fmt: skip
    assert created.status_code == 201 and created.json()["key"] == "AR-1"
    assert api_a.get(f"{BASE}alert-rules/").json()["results"][0]["use_case_key"] == uc.key
    patched = api_a.patch(f"{BASE}alert-rules/1/", {"threshold": "3"}, format="json")
    assert patched.status_code == 200 and patched.json()["threshold"] == "3.0000"
    for bad in ({"threshold": "0.5"}, {"metric": "mood"}, {"use_case": UseCaseFactory(
            organization=org_b).pk}, {"window_hours": 10**12}, {"surprise": 1}):  # fmt: skip
        response = api_a.patch(f"{BASE}alert-rules/1/", bad, format="json")
        assert response.status_code == 400, bad
    assert str(AlertRule.objects.for_org(org_a).get().threshold) == "3.0000"
    assert api_a.delete(f"{BASE}alert-rules/1/").status_code == 204
    assert not AlertRule.objects.for_org(org_a).exists()


def test_alerts_list_and_acknowledge(api_a, org_a, token_factory):
    uc = UseCaseFactory(organization=org_a)
    rule = api_a.post(f"{BASE}alert-rules/", {"use_case": uc.pk, "metric": "error_rate",
                                              "condition": "above", "threshold": 5},
                      format="json").json()  # fmt: skip
    now = timezone.now()
    alert = Alert.objects.create(
        organization=org_a, rule_id=AlertRule.objects.for_org(org_a).get().pk, use_case=uc,
        value=9, threshold=5, summary="error rate 9%", window_start=now, window_end=now,
        fired_at=now,
    )  # fmt: skip
    listed = api_a.get(f"{BASE}alerts/", {"state": "open"}).json()["results"]
    assert [a["id"] for a in listed] == [alert.pk] and listed[0]["rule"] == rule["key"]
    _, read_only = token_factory(org_a, scopes=["read"])
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {read_only}")
    assert reader.post(f"{BASE}alerts/{alert.pk}/acknowledge/", {}).status_code == 403
    done = api_a.post(f"{BASE}alerts/{alert.pk}/acknowledge/", {"note": "on it"}, format="json")
    assert done.status_code == 200 and done.json()["acknowledgment_note"] == "on it"
    again = api_a.post(f"{BASE}alerts/{alert.pk}/acknowledge/", {}, format="json")
    assert again.status_code == 400 and "already" in again.json()["message"]
    assert api_a.get(f"{BASE}alerts/", {"state": "open"}).json()["results"] == []
    # A rule that fired keeps its history: it can be turned off, not deleted.
    kept = api_a.delete(f"{BASE}alert-rules/{rule['number']}/")
    assert kept.status_code == 400 and "turn it off" in kept.json()["message"]
    assert Alert.objects.for_org(org_a).filter(pk=alert.pk).exists()


def test_readings_assumptions_and_online_scoring(api_a, org_a, org_b):
    uc = UseCaseFactory(organization=org_a, metric_name="Handling time")
    theirs = UseCaseFactory(organization=org_b, metric_name="Secret")
    today = timezone.localdate().isoformat()
    made = api_a.post(f"{BASE}readings/", {"use_case": uc.pk, "measured_on": today,
                                           "value": 8.5}, format="json")  # fmt: skip
    assert made.status_code == 201 and made.json()["value"] == "8.50"
    refused = api_a.post(f"{BASE}readings/", {"use_case": theirs.pk, "measured_on": today,
                                              "value": 1}, format="json")  # fmt: skip
    assert refused.status_code == 400
    assert not BusinessMetricReading.objects.for_org(org_b).exists()
    assert len(api_a.get(f"{BASE}readings/", {"use_case": uc.pk}).json()["results"]) == 1

    defaults = api_a.get(f"{BASE}assumptions/").json()
    assert defaults["own"] is False and defaults["currency"] == "EUR"
    saved = api_a.put(f"{BASE}assumptions/?use_case={uc.pk}",
                      {"currency": "usd", "loaded_hourly_cost": "50"}, format="json")  # fmt: skip
    assert saved.status_code == 200 and saved.json()["currency"] == "USD"
    assert api_a.get(f"{BASE}assumptions/", {"use_case": uc.pk}).json()["own"] is True
    assert api_a.get(f"{BASE}assumptions/").json()["own"] is False  # the org's: untouched
    bad = api_a.put(f"{BASE}assumptions/", {"sme_hourly_cost": "-1"}, format="json")
    assert bad.status_code == 400

    plan = EvalPlanFactory(use_case=uc, scorers=[{"type": "not_contains"}])
    url = f"{BASE}online-scoring/?use_case={uc.pk}"
    assert api_a.get(url).json()["enabled"] is False
    on = api_a.put(url, {"plan": plan.pk, "sample_percent": "5", "enabled": True}, format="json")
    assert on.status_code == 200 and on.json()["sample_percent"] == "5.00"
    assert OnlineScoring.objects.for_org(org_a).get().plan == plan
    their_plan = EvalPlanFactory(use_case=theirs, scorers=[{"type": "not_contains"}])
    stolen = api_a.put(url, {"plan": their_plan.pk, "sample_percent": "5", "enabled": True},
                       format="json")  # fmt: skip
    assert stolen.status_code == 400
    assert api_a.get(f"{BASE}online-scoring/").status_code == 400
    assert api_a.get(f"{BASE}online-scoring/?use_case={theirs.pk}").status_code == 400
