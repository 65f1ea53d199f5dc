"""The home page per role: what needs the product owner now, each item one click from
where it is resolved; failing and running evals for the engineer; the portfolio's state
for a viewer; the SME's inbox and the reviewer's sign-offs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from context import services as context_services
from context.models import ContextGap, ContextSource
from evals.models import EvalRun
from genai_po.actors import Actor
from genai_po.registry import attention_sources
from genai_po.roles import Role
from metrics.models import Alert
from tests.factories.context import make_gap, make_source
from tests.factories.governance import (
    make_incident,
    make_plan_run,
    make_release,
    make_use_case_with_plan,
)
from tests.metrics.helpers import alert_rule

pytestmark = pytest.mark.django_db
HOME = "/o/{}/"
PRODUCT_CHECKS = [
    "Blocked releases",
    "Regressions in the latest runs",
    "Overdue SME questions",
    "Alert breaches",
    "Stale sources",
    "Incident reports near their deadline",
]


def _home(client, member):
    client.force_login(member.user)
    response = client.get(HOME.format(member.organization.slug))
    assert response.status_code == 200
    return response.content.decode()


def _regression(org):
    """A plan whose latest run fails a case that passed in the run before."""
    uc, _requirement, plan = make_use_case_with_plan(org, cases=3)
    make_plan_run(org, plan, [True, True, True])
    run = make_plan_run(org, plan, [True, False, True])
    return uc, plan, run


def _overdue_gap(org, sme, *, question="Do gift cards expire?"):
    gap = make_gap(org, question=question)
    gap = context_services.gap_route(
        actor=Actor.system(organization=org, label="test"), gap=gap, assignee=sme.user
    )
    ContextGap.objects.for_org(org).filter(pk=gap.pk).update(
        due_at=timezone.now() - timedelta(hours=5)
    )
    return gap


def _stale_source(org, name="Warranty terms 2024"):
    source = make_source(org, name=name)
    ContextSource.objects.for_org(org).filter(pk=source.pk).update(
        freshness="stale", next_review_due=timezone.now().date() - timedelta(days=3)
    )
    return source


def _alert(org, uc):
    rule = alert_rule(org, uc)
    now = timezone.now()
    return Alert.objects.create(
        organization=org, rule=rule, use_case=uc, value=25.0, threshold=5.0,
        summary="Error rate 25.0% above 5%", window_start=now - timedelta(hours=24),
        window_end=now, fired_at=now - timedelta(hours=2),
    )  # fmt: skip


def _serious_incident(org, uc):
    return make_incident(
        org, uc, serious=True, serious_kind="widespread", serious_rationale="An outage"
    )


def test_with_nothing_waiting_the_product_owner_reads_what_was_checked(
    client, org_a, member_factory
):
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    html = _home(client, po)
    assert "What needs you now" in html
    assert "Nothing needs you now." in html
    for label in PRODUCT_CHECKS:
        assert label in html
    assert "Top of your backlog" in html
    assert "The backlog is empty" in html


def test_the_product_owner_sees_each_kind_with_a_link_to_where_it_is_resolved(
    client, org_a, member_factory
):
    po = member_factory(org_a, Role.PRODUCT_OWNER, full_name="Priya Product")
    sme = member_factory(org_a, Role.SME, full_name="Sara Expert")
    uc, plan, run = _regression(org_a)
    release = make_release(org_a, uc)
    gap = _overdue_gap(org_a, sme)
    source = _stale_source(org_a)
    alert = _alert(org_a, uc)
    incident = _serious_incident(org_a, uc)

    html = _home(client, po)

    assert "Nothing needs you now." not in html
    # Blocked releases, and why, linked to where the first blocker is resolved.
    assert f"{release.key} v1" in html
    assert "Blocked:" in html or "Insufficient evidence:" in html
    # The regression, named by its cases, linked to its run.
    assert f"/o/org-a/evals/runs/{run.pk}/" in html
    assert "1 case newly failing against run #1 (CASE-2)" in html
    # The overdue question, with whom it waits on.
    assert f"/o/org-a/context/gaps/{gap.number}/" in html
    assert "5 h overdue, assigned to Sara Expert" in html
    # The stale source, the alert breach and the incident's reporting deadline.
    assert f"/o/org-a/context/sources/{source.pk}/" in html
    assert f"#alert-{alert.pk}" in html
    assert "not acknowledged" in html
    assert f"/o/org-a/governance/incidents/{incident.number}/" in html
    assert "the Article 73 report is due in" in html
    # In the stated order.
    positions = [html.index(f"<h3>{label}</h3>") for label in PRODUCT_CHECKS]
    assert positions == sorted(positions)


def test_a_regression_fixed_by_the_next_run_leaves_the_home_page(client, org_a, member_factory):
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    _uc, plan, run = _regression(org_a)
    assert "newly failing" in _home(client, po)
    make_plan_run(org_a, plan, [True, True, True])
    assert "newly failing" not in _home(client, po)


def test_an_acknowledged_alert_and_an_answered_question_leave_the_home_page(
    client, org_a, member_factory
):
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    sme = member_factory(org_a, Role.SME)
    uc, _requirement, _plan = make_use_case_with_plan(org_a)
    alert = _alert(org_a, uc)
    gap = _overdue_gap(org_a, sme)
    html = _home(client, po)
    assert "Alert breaches" in html and "Overdue SME questions" in html
    Alert.objects.for_org(org_a).filter(pk=alert.pk).update(acknowledged_at=timezone.now())
    ContextGap.objects.for_org(org_a).filter(pk=gap.pk).update(status="in_review")
    html = _home(client, po)
    assert "<h3>Alert breaches</h3>" not in html
    assert "<h3>Overdue SME questions</h3>" not in html


def test_another_organizations_work_never_shows(client, org_a, org_b, member_factory):
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    sme_b = member_factory(org_b, Role.SME)
    uc_b, _plan, run_b = _regression(org_b)
    make_release(org_b, uc_b)
    _overdue_gap(org_b, sme_b, question="Secret question of B?")
    _stale_source(org_b, name="Secret source of B")
    _alert(org_b, uc_b)
    _serious_incident(org_b, uc_b)
    html = _home(client, po)
    assert "Nothing needs you now." in html
    for secret in ("Secret question of B", "Secret source of B", f"runs/{run_b.pk}/", "REL-"):
        assert secret not in html


def test_the_engineer_sees_failing_and_running_evals_not_the_product_owners_work(
    client, org_a, member_factory
):
    engineer = member_factory(org_a, Role.ENGINEER)
    uc, _requirement, plan = make_use_case_with_plan(org_a)
    failing = make_plan_run(org_a, plan, [False, False, True])
    assert failing.thresholds_met is False
    _uc2, _requirement2, plan2 = make_use_case_with_plan(org_a)
    running = EvalRun.objects.create(
        organization=org_a, plan=plan2, number=1, trigger="api", status="running",
        case_version=plan2.case_version, total_items=3, started_at=timezone.now(),
    )  # fmt: skip
    make_release(org_a, uc)
    html = _home(client, engineer)
    assert "<h3>Failing evals</h3>" in html
    assert f"/o/org-a/evals/runs/{failing.pk}/" in html
    assert "33% passed; its thresholds are not met" in html
    assert "<h3>Running evals</h3>" in html
    assert f"/o/org-a/evals/runs/{running.pk}/" in html
    assert "0 of 3 results" in html
    assert "Blocked releases" not in html
    assert "Top of your backlog" not in html


def test_the_product_owner_does_not_get_the_engineers_running_list(client, org_a, member_factory):
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    assert "Running evals" not in _home(client, po)
    assert {s.key for s in attention_sources(Role.ENGINEER)} >= {"evals.failing", "evals.running"}
    assert not attention_sources(Role.VIEWER)


def test_the_viewer_sees_the_portfolios_state(client, org_a, member_factory):
    viewer = member_factory(org_a, Role.VIEWER)
    uc, _requirement, _plan = make_use_case_with_plan(org_a, title="Refund assistant")
    html = _home(client, viewer)
    assert "What needs you now" not in html
    assert "The portfolio" in html
    assert f"{uc.key}</a> Refund assistant" in html
    assert "Discover <strong>1</strong>" in html
    assert "Use in the last 30 days" in html
    assert "No telemetry in the last 30 days" in html


@pytest.mark.parametrize(
    ("role", "lands_on"),
    [(Role.SME, "/o/org-a/context/inbox/"), (Role.REVIEWER, "/o/org-a/governance/reviews/")],
)
def test_the_sme_and_the_reviewer_land_on_their_own_queue(
    client, org_a, member_factory, role, lands_on
):
    member = member_factory(org_a, role)
    client.force_login(member.user)
    response = client.get("/o/org-a/")
    assert response.status_code == 302
    assert response["Location"] == lands_on


def _queries(client, member) -> int:
    client.force_login(member.user)
    client.get("/o/org-a/")  # the first visit also records the organization as the last one
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/o/org-a/").status_code == 200
    return len(ctx.captured_queries)


def test_the_home_page_reads_a_bounded_number_of_queries(client, org_a, member_factory):
    """More gaps, sources, alerts and incidents add no query; releases and plans are read up
    to a cap (the first six releases and ten plans)."""
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    sme = member_factory(org_a, Role.SME)
    uc, _plan, _run = _regression(org_a)
    for n in range(2):
        _overdue_gap(org_a, sme, question=f"Question {n}?")
        _stale_source(org_a, name=f"Source {n}")
    _serious_incident(org_a, uc)
    few = _queries(client, po)
    for n in range(2, 9):
        _overdue_gap(org_a, sme, question=f"Question {n}?")
        _stale_source(org_a, name=f"Source {n}")
        _serious_incident(org_a, uc)
    assert _queries(client, po) == few
    html = _home(client, po)
    assert html.count("There are more: see them all") == 3  # questions, sources, incidents
