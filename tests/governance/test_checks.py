"""The automatic checklist items against real runs, requirements, gaps, sources and incident
follow-ups: each met, blocked, or insufficient evidence ("no data" never passes)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from context import services as context_services
from governance import gate as release_gate
from governance.checks import BLOCKED, INSUFFICIENT, MET
from governance.models import FollowUpStatus, Incident, IncidentFollowUp
from tests.factories.context import make_gap, make_source
from tests.factories.governance import make_plan_run, make_release, make_use_case_with_plan
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db


def states(release) -> dict[str, str]:
    return {s.item.key: s.state for s in release_gate.evaluate(release).items}


def test_a_passing_recent_run_meets_the_run_check(org_a):
    uc, _, plan = make_use_case_with_plan(org_a)
    make_plan_run(org_a, plan, [True, True, True])
    assert states(make_release(org_a, uc))["eval_run_current"] == MET


def test_a_failing_run_blocks_the_gate(org_a):
    uc, _, plan = make_use_case_with_plan(org_a)
    make_plan_run(org_a, plan, [True, False, False])
    release = make_release(org_a, uc)
    gate = release_gate.evaluate(release)
    run_item = next(s for s in gate.items if s.item.key == "eval_run_current")
    assert run_item.state == BLOCKED and "did not meet its thresholds" in run_item.detail
    assert gate.verdict == BLOCKED


def test_no_run_at_all_is_insufficient_evidence_not_a_pass(org_a):
    uc, _, _ = make_use_case_with_plan(org_a)
    got = states(make_release(org_a, uc))
    assert got["eval_run_current"] == INSUFFICIENT
    assert got["no_regression"] == INSUFFICIENT


def test_a_use_case_without_a_plan_is_insufficient_evidence(org_a):
    release = make_release(org_a, UseCaseFactory(organization=org_a))
    assert states(release)["eval_run_current"] == INSUFFICIENT


def test_a_run_older_than_the_window_is_insufficient_evidence(org_a):
    uc, _, plan = make_use_case_with_plan(org_a)
    make_plan_run(org_a, plan, [True] * 3, finished_at=timezone.now() - timedelta(days=15))
    assert states(make_release(org_a, uc))["eval_run_current"] == INSUFFICIENT


def test_a_case_newly_failing_against_the_baseline_is_a_regression(org_a):
    uc, _, plan = make_use_case_with_plan(org_a, cases=5)
    make_plan_run(org_a, plan, [True] * 5, baseline=True)
    release = make_release(org_a, uc)
    make_plan_run(org_a, plan, [True, True, True, True, False])  # 80%: thresholds met
    gate = release_gate.evaluate(release)
    item = next(s for s in gate.items if s.item.key == "no_regression")
    assert item.state == BLOCKED and "1 newly failing case" in item.detail
    assert next(s for s in gate.items if s.item.key == "eval_run_current").state == MET


def test_no_regression_is_met_against_a_baseline(org_a):
    uc, _, plan = make_use_case_with_plan(org_a)
    make_plan_run(org_a, plan, [True] * 3, baseline=True)
    make_plan_run(org_a, plan, [True] * 3)
    assert states(make_release(org_a, uc))["no_regression"] == MET


def test_a_launch_blocking_requirement_needs_enough_passing_cases(org_a):
    uc, _, plan = make_use_case_with_plan(org_a, cases=2)  # the default K is 3
    make_plan_run(org_a, plan, [True, True])
    assert states(make_release(org_a, uc))["requirements_verified"] == INSUFFICIENT
    uc, _, plan = make_use_case_with_plan(org_a, cases=4)
    make_plan_run(org_a, plan, [True, True, True, False])
    assert states(make_release(org_a, uc))["requirements_verified"] == BLOCKED
    uc, _, plan = make_use_case_with_plan(org_a, cases=3)
    make_plan_run(org_a, plan, [True] * 3)
    assert states(make_release(org_a, uc))["requirements_verified"] == MET


def test_no_launch_blocking_requirement_is_insufficient_evidence(org_a):
    uc, _, plan = make_use_case_with_plan(org_a, launch_blocking=False)
    make_plan_run(org_a, plan, [True] * 3)
    assert states(make_release(org_a, uc))["requirements_verified"] == INSUFFICIENT


def test_an_open_gap_on_a_launch_blocking_requirement_blocks(org_a):
    uc, requirement, plan = make_use_case_with_plan(org_a)
    release = make_release(org_a, uc)
    assert states(release)["no_blocking_gap"] == MET
    gap = make_gap(org_a, use_cases=[uc], requirements=[requirement])
    assert states(release)["no_blocking_gap"] == BLOCKED
    from tests.factories.context import system

    context_services.gap_set_status(actor=system(org_a), gap=gap, status="closed")
    assert states(release)["no_blocking_gap"] == MET


def test_a_p1_gap_blocks_and_a_gap_of_another_use_case_does_not(org_a):
    uc, _, _ = make_use_case_with_plan(org_a)
    release = make_release(org_a, uc)
    make_gap(org_a, question="Elsewhere?", use_cases=[UseCaseFactory(organization=org_a)],
             priority="p1")  # fmt: skip
    assert states(release)["no_blocking_gap"] == MET
    make_gap(org_a, question="Here, urgent?", use_cases=[uc], priority="p1")
    assert states(release)["no_blocking_gap"] == BLOCKED


def test_sources_must_be_fresh_and_exist(org_a):
    from context.models import ContextSource, SourceUseCase

    uc, _, _ = make_use_case_with_plan(org_a)
    release = make_release(org_a, uc)
    assert states(release)["sources_fresh"] == INSUFFICIENT
    source = make_source(org_a)  # approved
    SourceUseCase.objects.create(organization=org_a, source=source, use_case=uc)
    assert states(release)["sources_fresh"] == MET
    ContextSource.objects.for_org(org_a).filter(pk=source.pk).update(freshness="stale")
    assert states(release)["sources_fresh"] == BLOCKED


def test_an_open_follow_up_of_a_severe_incident_blocks(org_a):
    uc, _, _ = make_use_case_with_plan(org_a)
    release = make_release(org_a, uc)
    now = timezone.now()
    incident = Incident.objects.create(
        organization=org_a, number=1, title="Wrong refund", summary="s", reporter_label="x",
        channel="end_user", use_case=uc, occurred_at=now, discovered_at=now, aware_at=now,
        incident_type="confabulation", severity=2, created_by_label="x",
    )  # fmt: skip
    assert states(release)["incident_follow_ups"] == BLOCKED  # open, not mitigated yet
    Incident.objects.for_org(org_a).filter(pk=incident.pk).update(status="mitigated")
    assert states(release)["incident_follow_ups"] == MET
    follow_up = IncidentFollowUp.objects.create(organization=org_a, incident=incident, title="Fix")
    assert states(release)["incident_follow_ups"] == BLOCKED
    follow_up.status = FollowUpStatus.DONE
    follow_up.save()
    assert states(release)["incident_follow_ups"] == MET
    Incident.objects.for_org(org_a).filter(pk=incident.pk).update(severity=3)
    IncidentFollowUp.objects.create(organization=org_a, incident=incident, title="Later")
    assert states(release)["incident_follow_ups"] == MET  # severity 3 does not block
