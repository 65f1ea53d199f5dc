"""What the evals area proves at the lifecycle gates, through the gate registry."""

import pytest

from evals.models import RunStatus
from tests.factories.evals import EvalPlanFactory, make_run
from tests.factories.usecases import UseCaseFactory
from usecases import gates, selectors
from usecases.models import Stage

pytestmark = pytest.mark.django_db

LATEST_RUN = "The latest run of the plan meets its thresholds"


def _deploy_check(use_case):
    use_case = type(use_case).objects.for_org(use_case.organization_id).get(pk=use_case.pk)
    readiness = selectors.readiness_of(use_case=use_case)
    (found,) = [
        (c.state, c.detail) for c in gates.checks_for(use_case, "deploy", readiness)
        if c.label == LATEST_RUN
    ]  # fmt: skip
    return found


def test_evals_registers_its_checks_for_evaluate_and_deploy():
    assert "evals.plan_exists" in gates.registered_gate_checks(Stage.EVALUATE)
    assert gates.registered_gate_checks(Stage.DEPLOY)[:3] == [
        "usecases.readiness", "usecases.risk", "evals.latest_run_meets_thresholds",
    ]  # fmt: skip


def test_the_deploy_gate_reads_the_latest_finished_run_of_every_active_plan(org_a):
    use_case = UseCaseFactory(organization=org_a)
    plan = EvalPlanFactory(use_case=use_case, name="Refund desk")

    assert _deploy_check(use_case) == (
        "missing", "No eval plan with cases: create one and run it."
    )  # fmt: skip

    make_run(org_a, plan, results=("pass",))
    assert _deploy_check(use_case) == ("met", "Refund desk: run #1, 100% passed.")

    # The newest run failed its thresholds: the gate is not met any more.
    failing = make_run(org_a, plan, results=("pass", "fail", "fail"))
    assert failing.thresholds_met is False
    assert _deploy_check(use_case) == (
        "missing", "Refund desk: run #2 did not meet its thresholds (33% passed)."
    )  # fmt: skip

    # A run still going, or cancelled, is no verdict: the latest finished one counts.
    make_run(org_a, plan, status=RunStatus.RUNNING)
    make_run(org_a, plan, status=RunStatus.CANCELLED, results=("pass",))
    assert _deploy_check(use_case)[1] == (
        "Refund desk: run #2 did not meet its thresholds (33% passed)."
    )


def test_every_active_plan_must_pass_and_archived_plans_do_not_count(org_a, actor_a):
    from evals import services

    use_case = UseCaseFactory(organization=org_a)
    good = EvalPlanFactory(use_case=use_case, name="A good plan")
    make_run(org_a, good, results=("pass",))
    never_run = EvalPlanFactory(use_case=use_case, name="B new plan")
    make_run(org_a, never_run, status=RunStatus.RUNNING)

    assert _deploy_check(use_case) == ("missing", "B new plan: no finished run yet.")

    services.plan_archive(actor=actor_a, plan=never_run, archived=True)
    assert _deploy_check(use_case) == ("met", "A good plan: run #1, 100% passed.")
