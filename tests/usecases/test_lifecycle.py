"""The lifecycle view: each stage of a use case with the artifacts it produced (from every
area's registration) and what is missing; the gate to enter each stage."""

import pytest
from django.utils import timezone

from genai_po.roles import Role
from tests.factories.context import make_source
from tests.factories.governance import make_plan_run, make_release, make_use_case_with_plan
from tests.factories.usecases import UseCaseFactory
from tests.metrics.helpers import alert_rule
from usecases import lifecycle, selectors
from usecases.models import STAGE_ORDER

pytestmark = pytest.mark.django_db


def _stages(uc):
    uc.refresh_from_db()
    return {s.stage: s for s in lifecycle.lifecycle_of(uc, selectors.readiness_of(use_case=uc))}


def _artifact(stages, stage, label):
    return next(a for a in stages[stage].artifacts if a.label == label)


def test_every_stage_has_the_artifacts_each_area_registered():
    assert lifecycle.registered_stage_artifacts("discover") == ["usecases.brief"]
    assert lifecycle.registered_stage_artifacts("prototype")[0] == "usecases.prd"
    assert set(lifecycle.registered_stage_artifacts("evaluate")) >= {
        "evals.plans",
        "context.inventory",
    }
    assert lifecycle.registered_stage_artifacts("deploy") == [
        "governance.release",
        "governance.oversight",
    ]
    assert lifecycle.registered_stage_artifacts("monitor") == ["metrics.dashboard"]
    assert set(lifecycle.registered_stage_artifacts("improve")) == {
        "usecases.backlog",
        "context.knowledge",
    }
    with pytest.raises(ValueError, match="Unknown stage"):
        lifecycle.register_stage_artifact(stage="launch", key="x", describe=lambda uc: None)


def test_a_new_use_case_misses_everything_after_its_brief(org_a):
    uc = UseCaseFactory(organization=org_a, problem="", workflow="", target_users="",
                        value_hypothesis="", metric_name="", owner=None)  # fmt: skip
    stages = _stages(uc)
    assert list(stages) == list(STAGE_ORDER)
    brief = _artifact(stages, "discover", "Brief")
    assert brief.state == lifecycle.MISSING
    assert "Write the problem" in brief.missing and "Name an owner" in brief.missing
    assert _artifact(stages, "prototype", "AI PRD").missing == ("Write the PRD from the brief",)
    assert _artifact(stages, "evaluate", "Eval plans and runs").state == lifecycle.MISSING
    assert _artifact(stages, "deploy", "Release").state == lifecycle.MISSING
    assert _artifact(stages, "monitor", "Dashboard and alerts").state == lifecycle.MISSING
    assert stages["discover"].current and not stages["prototype"].reached
    assert stages["discover"].gate == []  # nothing gates the first stage
    assert [c.label for c in stages["prototype"].gate][0].startswith("Brief describes")


def test_artifacts_turn_produced_as_the_work_is_done(org_a, member_factory):
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    uc, _requirement, plan = make_use_case_with_plan(org_a, owner=po.user)
    stages = _stages(uc)
    plans = _artifact(stages, "evaluate", "Eval plans and runs")
    assert plans.state == lifecycle.PARTIAL
    assert plans.missing == (f"Run {plan.name}",)

    make_plan_run(org_a, plan, [True, True, True])
    release = make_release(org_a, uc)
    rule = alert_rule(org_a, uc)
    assert rule.enabled
    stages = _stages(uc)
    plans = _artifact(stages, "evaluate", "Eval plans and runs")
    assert plans.state == lifecycle.PRODUCED
    assert f"{plan.name} run #1 100% passed" in plans.summary
    assert f"/evals/runs/{plan.runs.get().pk}/" in plans.url
    release_artifact = _artifact(stages, "deploy", "Release")
    assert release_artifact.state == lifecycle.PARTIAL
    assert release_artifact.missing == (
        f"Resolve {release.key}'s checklist and submit it for review",
    )
    dashboard = _artifact(stages, "monitor", "Dashboard and alerts")
    assert dashboard.state == lifecycle.PARTIAL  # the rule exists; no telemetry yet
    assert dashboard.missing == ("Send telemetry from the AI system (none in the last 7 days)",)


def test_a_failing_run_and_a_stale_source_say_what_to_do(org_a):
    from context.models import ContextSource, SourceUseCase

    uc, _requirement, plan = make_use_case_with_plan(org_a)
    make_plan_run(org_a, plan, [False, False, True])
    source = make_source(org_a, name="Warranty terms")
    SourceUseCase.objects.create(organization=org_a, source=source, use_case=uc)
    ContextSource.objects.for_org(org_a).filter(pk=source.pk).update(
        freshness="stale", next_review_due=timezone.now().date()
    )
    stages = _stages(uc)
    assert _artifact(stages, "evaluate", "Eval plans and runs").missing == (
        f"Make {plan.name} meet its thresholds (run #1)",
    )
    inventory = _artifact(stages, "evaluate", "Context inventory")
    assert (inventory.state, inventory.summary, inventory.missing) == (
        lifecycle.PARTIAL,
        "1 source, 1 stale",
        ("Review 1 stale source",),
    )
    backlog = _artifact(stages, "improve", "Backlog")
    assert backlog.missing == ("Triage the failures of 1 run",)


def test_the_page_shows_every_stage_and_is_scoped_to_the_organization(
    client, org_a, org_b, member_factory
):
    viewer = member_factory(org_a, Role.VIEWER)
    uc = UseCaseFactory(organization=org_a, title="Refund answers")
    other = UseCaseFactory(organization=org_b, number=uc.number + 40)
    client.force_login(viewer.user)
    response = client.get(f"/o/org-a/use-cases/{uc.number}/lifecycle/")
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("1. Discover", "2. Prototype", "3. Evaluate", "4. Deploy", "5. Monitor",
                  "6. Improve"):  # fmt: skip
        assert label in html
    assert 'aria-current="step"' in html
    assert "Move the use case" not in html  # a viewer cannot move it
    assert client.get(f"/o/org-a/use-cases/{other.number}/lifecycle/").status_code == 404
    detail = client.get(f"/o/org-a/use-cases/{uc.number}/").content.decode()
    assert f"/o/org-a/use-cases/{uc.number}/lifecycle/" in detail
