"""Lifecycle gates: what the guide asks before a use case enters each stage.

Each check is met, missing, or unavailable (it depends on an area not built yet:
it says so plainly and counts as not met, so moving on needs an override).
"""

from dataclasses import dataclass

from usecases.models import STAGE_ORDER, RiskTier, Stage, UseCase

MET, MISSING, UNAVAILABLE = "met", "missing", "unavailable"


@dataclass(frozen=True)
class Check:
    label: str
    state: str
    detail: str = ""

    @property
    def met(self) -> bool:
        return self.state == MET


def _check(label: str, ok: bool, missing_detail: str, met_detail: str = "") -> Check:
    return Check(label, MET if ok else MISSING, met_detail if ok else missing_detail)


def _brief_checks(uc: UseCase) -> list[Check]:
    empty = [
        name
        for name, value in (
            ("problem", uc.problem),
            ("workflow", uc.workflow),
            ("target users", uc.target_users),
        )
        if not value.strip()
    ]
    metric_ok = (
        bool(uc.metric_name) and uc.metric_baseline is not None and (uc.metric_target is not None)
    )
    return [
        _check("Brief describes problem, workflow and users", not empty,
               f"Fill in: {', '.join(empty)}."),
        _check("An owner is named", uc.owner_id is not None, "Choose the use case's owner."),
        _check("Success metric with baseline and target", metric_ok,
               "Give the business metric a name, a baseline and a target."),
    ]  # fmt: skip


def _prd_checks(uc: UseCase, readiness) -> list[Check]:
    has_prd = hasattr(uc, "prd") and uc.prd.version > 0
    return [
        _check("An AI PRD is written", has_prd, "Write the PRD."),
        _check(
            "The PRD lists behavioral requirements",
            readiness.requirement_count > 0,
            "Add at least one requirement to the PRD.",
            f"{readiness.requirement_count} requirement(s).",
        ),
    ]


def _readiness_check(readiness) -> Check:
    return _check(
        "Every launch-blocking requirement has a verification and an owner",
        not readiness.unverified,
        f"{len(readiness.unverified)} launch-blocking requirement(s) without verification "
        "or owner: see the readiness list.",
    )


def _eval_plan_check(uc: UseCase) -> Check:
    from evals.selectors import plans_with_cases  # evals builds on use cases, not the reverse

    plans = plans_with_cases(uc)
    return _check(
        "An eval plan exists",
        bool(plans),
        "Create an eval plan with at least one case (Evals → New eval plan).",
        f"{plans[0][0]} ({plans[0][1]} case{'s' if plans[0][1] != 1 else ''})." if plans else "",
    )


def checks_for(uc: UseCase, stage: str, readiness) -> list[Check]:
    """The criteria to enter `stage` (section 05 of the guide)."""
    if stage == Stage.DISCOVER:
        return []
    if stage == Stage.PROTOTYPE:
        return _brief_checks(uc)
    if stage == Stage.EVALUATE:
        return [
            *_prd_checks(uc, readiness),
            _eval_plan_check(uc),
        ]  # fmt: skip
    if stage == Stage.DEPLOY:
        return [
            _readiness_check(readiness),
            _check("Risk tier allows launch", uc.risk_tier != RiskTier.UNACCEPTABLE,
                   "An unacceptable-risk use case must not be deployed."),
            Check("A release is approved", UNAVAILABLE,
                  "Releases and sign-offs arrive with the governance area, not built yet."),
        ]  # fmt: skip
    if stage == Stage.MONITOR:
        return [
            Check("Dashboards and an escalation process are live", UNAVAILABLE,
                  "Metrics dashboards arrive with the metrics area, not built yet."),
        ]  # fmt: skip
    if stage == Stage.IMPROVE:
        return [
            Check("Failures are triaged into a backlog", UNAVAILABLE,
                  "The backlog arrives with evals and context, not built yet."),
        ]  # fmt: skip
    raise ValueError(f"Unknown stage {stage!r}")


def gate_for_move(uc: UseCase, to_stage: str, readiness) -> list[Check]:
    """Checks of every stage passed through when moving forward; none when moving back."""
    here, there = STAGE_ORDER.index(uc.stage), STAGE_ORDER.index(to_stage)
    checks: list[Check] = []
    for stage in STAGE_ORDER[here + 1 : there + 1]:
        checks.extend(checks_for(uc, stage, readiness))
    return checks
