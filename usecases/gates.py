"""Lifecycle gates: what the guide asks before a use case enters each stage (section 05).

The checks come from a registry filled in `AppConfig.ready()`: this app registers the
brief, PRD and readiness checks, and each area that can prove something registers its
own (evals: an eval plan exists, the latest run meets its thresholds; governance: a
release is approved; ...). A check is met, missing, or unavailable (it depends on
something not built yet: it says so plainly and counts as not met, so moving on needs
an override).
"""

from collections.abc import Callable
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


def check(label: str, ok: bool, missing_detail: str, met_detail: str = "") -> Check:
    """A met or missing check, with the detail that fits."""
    return Check(label, MET if ok else MISSING, met_detail if ok else missing_detail)


# (use case, readiness) -> one Check or several
GateCheck = Callable[[UseCase, object], "Check | list[Check]"]


@dataclass(frozen=True)
class _Registered:
    key: str
    evaluate: GateCheck


_REGISTRY: dict[str, list[_Registered]] = {stage: [] for stage in STAGE_ORDER}


def register_gate_check(*, stage: str, key: str, evaluate: GateCheck) -> None:
    """Add a check to the gate of `stage`, after those registered before it (apps register
    in the order of INSTALLED_APPS). Registering a key again replaces it."""
    if stage not in _REGISTRY:
        raise ValueError(f"Unknown stage {stage!r}; stages: {', '.join(STAGE_ORDER)}.")
    checks = _REGISTRY[stage]
    for i, registered in enumerate(checks):
        if registered.key == key:
            checks[i] = _Registered(key, evaluate)
            return
    checks.append(_Registered(key, evaluate))


def registered_gate_checks(stage: str) -> list[str]:
    """Keys of the checks of a stage's gate, in order (for tests and docs)."""
    return [registered.key for registered in _REGISTRY[stage]]


def checks_for(uc: UseCase, stage: str, readiness) -> list[Check]:
    """The criteria to enter `stage`."""
    if stage not in _REGISTRY:
        raise ValueError(f"Unknown stage {stage!r}")
    checks: list[Check] = []
    for registered in _REGISTRY[stage]:
        result = registered.evaluate(uc, readiness)
        checks.extend(result if isinstance(result, list) else [result])
    return checks


def gate_for_move(uc: UseCase, to_stage: str, readiness) -> list[Check]:
    """Checks of every stage passed through when moving forward; none when moving back."""
    here, there = STAGE_ORDER.index(uc.stage), STAGE_ORDER.index(to_stage)
    checks: list[Check] = []
    for stage in STAGE_ORDER[here + 1 : there + 1]:
        checks.extend(checks_for(uc, stage, readiness))
    return checks


# --- The checks this app owns (registered in UsecasesConfig.ready)


def brief_checks(uc: UseCase, readiness) -> list[Check]:
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
        check("Brief describes problem, workflow and users", not empty,
              f"Fill in: {', '.join(empty)}."),
        check("An owner is named", uc.owner_id is not None, "Choose the use case's owner."),
        check("Success metric with baseline and target", metric_ok,
              "Give the business metric a name, a baseline and a target."),
    ]  # fmt: skip


def prd_checks(uc: UseCase, readiness) -> list[Check]:
    has_prd = hasattr(uc, "prd") and uc.prd.version > 0
    return [
        check("An AI PRD is written", has_prd, "Write the PRD."),
        check(
            "The PRD lists behavioral requirements",
            readiness.requirement_count > 0,
            "Add at least one requirement to the PRD.",
            f"{readiness.requirement_count} requirement(s).",
        ),
    ]


def readiness_check(uc: UseCase, readiness) -> Check:
    return check(
        "Every launch-blocking requirement has a verification and an owner",
        not readiness.unverified,
        f"{len(readiness.unverified)} launch-blocking requirement(s) without verification "
        "or owner: see the readiness list.",
    )


def risk_check(uc: UseCase, readiness) -> Check:
    return check(
        "Risk tier allows launch",
        uc.risk_tier != RiskTier.UNACCEPTABLE,
        "An unacceptable-risk use case must not be deployed.",
    )


def backlog_check(uc: UseCase, readiness) -> Check:
    """Met when no eval run of the use case has failures nobody triaged (the backlog's
    "eval failure" entries)."""
    from usecases.backlog import backlog_of

    waiting = backlog_of(uc.organization, use_case=uc, kinds=["eval_failure"]).entries
    return check(
        "Failures are triaged into a backlog",
        not waiting,
        f"{len(waiting)} run{'s' * (len(waiting) != 1)} with failures nobody triaged: "
        "triage them from the run page or the backlog.",
        "Every failure of the latest runs is triaged.",
    )


def register_own_checks() -> None:
    register_gate_check(stage=Stage.PROTOTYPE, key="usecases.brief", evaluate=brief_checks)
    register_gate_check(stage=Stage.EVALUATE, key="usecases.prd", evaluate=prd_checks)
    register_gate_check(stage=Stage.DEPLOY, key="usecases.readiness", evaluate=readiness_check)
    register_gate_check(stage=Stage.DEPLOY, key="usecases.risk", evaluate=risk_check)
    register_gate_check(stage=Stage.IMPROVE, key="usecases.backlog", evaluate=backlog_check)
