"""The dashboards in the browser: figures with their formulas, charts whose data survives
htmx swaps, the date range, CSV per chart, empty states, and what each role may change."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from genai_po.roles import Role
from metrics import ingest, rollups
from metrics.models import Alert, AlertRule, BusinessMetricReading, OnlineScoring
from tests.factories.evals import EvalPlanFactory
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db


def telemetry(org, uc, days=3, per_day=10, prefix="t"):
    now = timezone.now()
    events = []
    for day in range(days):
        for n in range(per_day):
            events.append({
                "event_id": f"{prefix}-{uc.pk}-{day}-{n}", "use_case": uc.key,
                "type": "error" if n == 0 else "interaction",
                "outcome": "failure" if n < 2 else "success", "user": f"u{n % 4}",
                "occurred_at": (now - timedelta(days=day, minutes=5)).isoformat(),
                "cost": 0.01, "latency_ms": 900,
            })  # fmt: skip
    ingest.ingest(org.pk, events)
    rollups.rollup_organization(org.pk)


def url(org, uc=None, rest=""):
    if uc is None:
        return f"/o/{org.slug}/metrics/{rest}"
    return f"/o/{org.slug}/metrics/use-cases/{uc.number}/{rest}"


def test_the_use_case_dashboard_shows_figures_with_formulas_and_charts_with_data(client, org_a, po):
    uc = UseCaseFactory(organization=org_a, metric_name="Handling time", metric_unit="min",
                        metric_baseline=11, metric_target=7)  # fmt: skip
    telemetry(org_a, uc)
    client.force_login(po.user)
    page = client.get(url(org_a, uc)).content.decode()
    # 3 days × 10: 3 errors, 27 interactions; outcomes: 6 failures, 24 successes.
    assert "Task success rate" in page and "80.0%" in page  # 24 ÷ 30 with an outcome
    assert "Error rate" in page and "10.0%" in page  # 3 ÷ (27 + 3)
    assert "Events with outcome success ÷ events with an outcome" in page
    assert page.count("data-plotly-json=") >= 5  # in attributes: htmx keeps them
    assert 'hx-trigger="every 30s"' in page
    assert "chart.csv?chart=quality&amp;range=30d" in page
    assert "Record a measurement" in page and "Online scoring" in page


def test_htmx_gets_the_board_alone_and_the_range_is_kept(client, org_a, po):
    uc = UseCaseFactory(organization=org_a)
    telemetry(org_a, uc)
    client.force_login(po.user)
    response = client.get(url(org_a, uc, "?range=7d"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="board"') and "range=7d" in body
    assert "data-plotly-json=" in body and "<script" not in body
    assert "HX-Request" in response["Vary"]


def test_a_bad_range_is_explained_and_the_default_shown(client, org_a, po):
    uc = UseCaseFactory(organization=org_a)
    client.force_login(po.user)
    for query in ("?range=5y", "?start=2026-11-10&end=2026-11-01", "?start=x&end=y",
                  "?start=0001-01-01&end=9999-12-31"):  # fmt: skip
        response = client.get(url(org_a, uc, query))
        assert response.status_code == 400
        assert "Showing the last 30 days instead" in response.content.decode()
        # The date forms swap the board alone: the reason must be inside it.
        board = client.get(url(org_a, uc, query), HTTP_HX_REQUEST="true")
        assert board.status_code == 400 and board.content.decode().lstrip().startswith("<section")
        assert "Showing the last 30 days instead" in board.content.decode()


def test_an_empty_dashboard_gives_the_exporter_settings_to_copy(client, org_a, po):
    uc = UseCaseFactory(organization=org_a)
    client.force_login(po.user)
    page = client.get(url(org_a, uc)).content.decode()
    assert f"No telemetry from {uc.key} yet" in page
    # The example event is dated now, so sending it as shown puts it on the default range.
    assert f'"occurred_at": "{timezone.now():%Y-%m-%d}T' in page
    assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=" in page and "/otel/v1/traces" in page
    assert f"OTEL_RESOURCE_ATTRIBUTES=genai_po.use_case={uc.key}" in page
    assert 'data-copy-target="exporter-env"' in page
    portfolio = client.get(url(org_a)).content.decode()
    assert "No telemetry" in portfolio and "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" in portfolio


def test_each_chart_downloads_as_csv_with_the_range(client, org_a, po):
    uc = UseCaseFactory(organization=org_a)
    telemetry(org_a, uc)
    client.force_login(po.user)
    response = client.get(url(org_a, uc, "chart.csv?chart=outcomes&range=7d"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f"{uc.key}-outcomes-" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["bucket", "interactions", "successes"]
    assert sum(int(r[2]) for r in rows[1:]) == 24 and len(rows) == 4
    assert client.get(url(org_a, uc, "chart.csv?chart=nope")).status_code == 404
    portfolio = client.get(url(org_a, rest="chart.csv?chart=portfolio"))
    assert portfolio.status_code == 200 and uc.key in portfolio.content.decode()


def test_the_portfolio_lists_each_use_case_with_its_rates(client, org_a, org_b, po):
    first, second = UseCaseFactory(organization=org_a), UseCaseFactory(organization=org_a)
    telemetry(org_a, first)
    telemetry(org_a, second, days=1)
    telemetry(org_b, UseCaseFactory(organization=org_b, title="Org B secret"), prefix="b")
    client.force_login(po.user)
    page = client.get(url(org_a)).content.decode()
    assert first.key in page and second.key in page and "Org B secret" not in page
    assert "Interactions per use case" in page


def test_the_dashboard_reads_a_fixed_number_of_queries_whatever_the_volume(client, org_a, po):
    small, large = UseCaseFactory(organization=org_a), UseCaseFactory(organization=org_a)
    telemetry(org_a, small, days=2, per_day=5)
    telemetry(org_a, large, days=30, per_day=40, prefix="l")
    client.force_login(po.user)
    counts = []
    for uc in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(org_a, uc)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_product_owner_sets_scoring_readings_and_assumptions(client, org_a, po):
    uc = UseCaseFactory(organization=org_a, metric_name="Handling time")
    plan = EvalPlanFactory(use_case=uc, scorers=[{"type": "not_contains"}])
    client.force_login(po.user)
    done = client.post(url(org_a, uc), {"form": "scoring", "plan": plan.pk,
                                        "sample_percent": "12.5", "enabled": "on"})  # fmt: skip
    assert done.status_code == 302
    config = OnlineScoring.objects.for_org(org_a).get(use_case=uc)
    assert (config.plan, str(config.sample_percent), config.enabled) == (plan, "12.50", True)
    refused = client.post(url(org_a, uc), {"form": "scoring", "plan": plan.pk,
                                           "sample_percent": "0", "enabled": "on"})  # fmt: skip
    assert refused.status_code == 400
    today = timezone.localdate()
    assert client.post(url(org_a, uc), {"form": "reading", "measured_on": today,
                                        "value": "9.25"}).status_code == 302  # fmt: skip
    assert client.post(url(org_a, uc), {"form": "reading", "measured_on": today,
                                        "value": "8.75"}).status_code == 302  # fmt: skip
    reading = BusinessMetricReading.objects.for_org(org_a).get(use_case=uc)  # one per day
    assert str(reading.value) == "8.75"
    future = client.post(url(org_a, uc), {"form": "reading", "value": "1",
                                          "measured_on": today + timedelta(days=9)})  # fmt: skip
    assert future.status_code == 400 and "in the future" in future.content.decode()
    form = {"currency": "usd", "loaded_hourly_cost": "55", "minutes_saved_per_success": "4",
            "other_value_per_month": "0", "sme_hourly_cost": "80",
            "sme_minutes_per_answer": "15"}  # fmt: skip
    saved = client.post(url(org_a, rest=f"assumptions/?use_case={uc.number}"), form)
    assert saved.status_code == 302
    page = client.get(url(org_a, uc)).content.decode()
    assert "55.00 USD" in page and f"{uc.key}'s own" in page
    bad_form = form | {"currency": "E1R", "sme_hourly_cost": "-3"}
    bad = client.post(url(org_a, rest="assumptions/"), bad_form)
    assert bad.status_code == 400
    assert "three letters" in bad.content.decode() and "0 or more" in bad.content.decode()


def test_a_reading_needs_the_use_case_to_name_its_metric(client, org_a, po):
    uc = UseCaseFactory(organization=org_a, metric_name="")
    client.force_login(po.user)
    response = client.post(url(org_a, uc), {"form": "reading", "value": "3",
                                            "measured_on": timezone.localdate()})  # fmt: skip
    assert (
        response.status_code == 400 and "names no business metric yet" in response.content.decode()
    )


def test_viewers_read_dashboards_and_alerts_but_change_nothing(client, org_a, member_factory):
    viewer = member_factory(org_a, Role.VIEWER, email="v@a.example")
    uc = UseCaseFactory(organization=org_a, metric_name="Handling time")
    client.force_login(viewer.user)
    for path in (url(org_a, uc), url(org_a), url(org_a, rest="alerts/"),
                 url(org_a, rest="definitions/"), url(org_a, rest="assumptions/")):  # fmt: skip
        assert client.get(path).status_code == 200
    page = client.get(url(org_a, uc)).content.decode()
    assert "Record a measurement" not in page
    reading = {"form": "reading", "value": "1", "measured_on": "2026-01-01"}
    assert client.post(url(org_a, uc), reading).status_code == 403
    assert client.post(url(org_a, rest="alerts/"), {}).status_code == 403
    assert client.post(url(org_a, rest="assumptions/"), {}).status_code == 403
    assert not BusinessMetricReading.objects.for_org(org_a).exists()


def test_alert_rules_and_acknowledgment_in_the_browser(client, org_a, po):
    uc = UseCaseFactory(organization=org_a)
    client.force_login(po.user)
    form = {"use_case": uc.pk, "metric": "error_rate", "condition": "above", "threshold": "5",
            "window_hours": "24", "min_interactions": "20", "action": "notify",
            "enabled": "on"}  # fmt: skip
    assert client.post(url(org_a, rest="alerts/"), form).status_code == 302
    rule = AlertRule.objects.for_org(org_a).get()
    refused = client.post(url(org_a, rest="alerts/"), form | {"threshold": "500"})
    assert refused.status_code == 400 and "percentage" in refused.content.decode()
    edited = client.post(url(org_a, rest=f"alerts/rules/{rule.number}/"), form | {"threshold": "7"})
    assert edited.status_code == 302
    rule.refresh_from_db()
    assert str(rule.threshold) == "7.0000"
    now = timezone.now()
    alert = Alert.objects.create(
        organization=org_a, rule=rule, use_case=uc, value=9, threshold=7, fired_at=now,
        summary=f"{uc.key}: error rate 9% over the last 24 h, above 7%", window_start=now,
        window_end=now,
    )  # fmt: skip
    listing = client.get(url(org_a, rest="alerts/?state=open")).content.decode()
    assert alert.summary in listing and "Acknowledge" in listing
    home = client.get(f"/o/{org_a.slug}/").content.decode()
    assert "1 alert</strong> waiting for acknowledgment" in home
    ack = url(org_a, rest=f"alerts/{alert.pk}/acknowledge/")
    assert client.post(ack, {"note": "On it"}).status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by_label == po.user.email and alert.acknowledgment_note == "On it"
    assert "No alert waits" in client.get(url(org_a, rest="alerts/?state=open")).content.decode()


def test_the_definitions_page_lists_every_formula(client, org_a, po):
    from metrics.figures import DEFINITIONS

    client.force_login(po.user)
    page = client.get(url(org_a, rest="definitions/")).content.decode()
    for definition in DEFINITIONS:
        assert f'id="def-{definition.key}"' in page


def test_the_monitor_gate_needs_live_telemetry_and_an_alert_rule(org_a):
    from genai_po.actors import Actor
    from metrics.apps import _dashboards_live
    from metrics.services import rule_save

    uc = UseCaseFactory(organization=org_a)
    check = _dashboards_live(uc, None)
    assert not check.met and "no telemetry" in check.detail and "no alert rule" in check.detail
    telemetry(org_a, uc, days=1)
    rule_save(actor=Actor.system(organization=org_a, label="t"), data={
        "use_case": uc, "metric": "error_rate", "condition": "above", "threshold": 5,
    })  # fmt: skip
    assert _dashboards_live(uc, None).met
