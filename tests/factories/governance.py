"""Factories of the governance area: a use case with a plan whose runs have real results,
launch-blocking requirements behind them, and releases made through the services."""

from datetime import timedelta

from django.utils import timezone

from evals import summary
from evals.models import EvalResult, EvalRun
from genai_po.actors import Actor
from governance.services import hitl, releases
from tests.factories.evals import EvalPlanFactory, make_case
from tests.factories.usecases import RequirementFactory, UseCaseFactory


def system(org) -> Actor:
    return Actor.system(organization=org, label="factory")


def make_use_case_with_plan(org, *, cases=3, launch_blocking=True, **use_case):
    """A use case, one launch-blocking requirement, and a plan of `cases` cases verifying it."""
    uc = UseCaseFactory(organization=org, **{"risk_tier": "minimal", **use_case})
    requirement = RequirementFactory(use_case=uc, organization=org, launch_blocking=launch_blocking)
    plan = EvalPlanFactory(use_case=uc, organization=org)
    for n in range(cases):
        make_case(org, plan, prompt=f"Question {n}?", requirement_keys=[requirement.key])
    plan.refresh_from_db()
    return uc, requirement, plan


def make_plan_run(org, plan, outcomes, *, finished_at=None, baseline=False):
    """A finished full run of the plan's current cases, case i passing if outcomes[i]."""
    from evals.selectors import current_cases

    cases = list(current_cases(plan))
    plan.run_seq += 1
    plan.save(update_fields=["run_seq"])
    run = EvalRun.objects.create(
        organization=org, plan=plan, number=plan.run_seq, trigger="api", status="completed",
        case_version=plan.case_version, target=plan.target, target_label="factory target",
        config={"pass_threshold": 0.8, "scorers": plan.scorers}, total_items=len(cases),
        started_at=timezone.now(), finished_at=finished_at or timezone.now(), repetitions=1,
        is_baseline=baseline,
    )  # fmt: skip
    EvalResult.objects.bulk_create(
        [
            EvalResult(
                organization=org,
                run=run,
                case=case,
                case_number=case.number,
                repetition=0,
                status="pass" if ok else "fail",
                output="answer",
                latency_ms=100,
                score=1.0 if ok else 0.0,
                assertions=[],
            )  # fmt: skip
            for case, ok in zip(cases, outcomes, strict=False)
        ]
    )
    summary.store(run)
    run.refresh_from_db()
    if finished_at is not None:
        EvalRun.objects.for_org(org).filter(pk=run.pk).update(finished_at=finished_at)
        run.refresh_from_db()
    return run


POLICY = [
    {"name": "Answer a question", "description": "From published knowledge", "reversibility":
     "reversible", "risk": "low", "autonomy": "autonomous", "reason": "Read-only"},
    {"name": "Issue a refund", "description": "Money back to the card", "reversibility":
     "costly", "risk": "high", "autonomy": "human_review", "reason": "Moves money"},
    {"name": "Close the account", "description": "", "reversibility": "irreversible",
     "risk": "high", "autonomy": "forbidden", "reason": "Never without the customer"},
]  # fmt: skip


def make_policy(org, uc, actions=None):
    return hitl.policy_save(actor=system(org), use_case=uc, actions=actions or POLICY)


def make_release(org, uc, *, owner=None, risk_tier=None, template_id=None, **data):
    """A draft release of `uc` (at the use case's risk tier unless `risk_tier` says)."""
    actor = (
        Actor.for_member(user=owner.user, organization=org, role=owner.role)
        if owner
        else system(org)
    )
    return releases.release_create(
        actor=actor,
        use_case=uc,
        data={"name": "v1", "risk_tier": risk_tier or uc.risk_tier, **data},
        template_id=template_id,
    )


def incident_data(uc, **data):
    """A complete incident report of `uc`, aware an hour ago."""
    now = timezone.now()
    return {
        "title": "Promised a refund outside the policy",
        "summary": "The assistant told a customer a 60-day-old order could be refunded.",
        "use_case": uc,
        "channel": "end_user",
        "incident_type": "confabulation",
        "severity": 2,
        "reporter_label": "Customer via ticket 4411",
        "occurred_at": now - timedelta(hours=3),
        "discovered_at": now - timedelta(hours=2),
        "aware_at": now - timedelta(hours=1),
        **data,
    }


def make_incident(org, uc, *, owner=None, **data):
    from governance.services import incidents

    actor = (
        Actor.for_member(user=owner.user, organization=org, role=owner.role)
        if owner
        else system(org)
    )
    return incidents.incident_create(actor=actor, data=incident_data(uc, **data))
