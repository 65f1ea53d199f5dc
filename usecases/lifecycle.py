"""The lifecycle view of a use case: for each stage (discover → prototype → evaluate →
deploy → monitor → improve), the artifacts it produced and what is missing.

Artifacts come from a registry filled in `AppConfig.ready()`: this app registers the brief,
the PRD and the backlog; each area registers what it produces (evals: the playground's
exchanges, the plans and their runs; governance: the release; metrics: the dashboards;
context: the knowledge the loop brought back). Each describer takes the use case and
returns an `Artifact`, or None when it has nothing to say for this use case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from usecases import gates
from usecases.models import STAGE_ORDER, Stage, UseCase

PRODUCED, PARTIAL, MISSING = "produced", "partial", "missing"
STATE_LABELS = {PRODUCED: "Produced", PARTIAL: "Started", MISSING: "Missing"}

# What each stage is for, in a line (the playbook has the longer guidance).
STAGE_PURPOSE = {
    Stage.DISCOVER: "Is this worth building? A brief with the problem, the users and a "
    "measurable value.",
    Stage.PROTOTYPE: "Can the AI do it at all? Realistic inputs tried, and a PRD of what it "
    "must and must not do.",
    Stage.EVALUATE: "Does it do it reliably? Eval plans run against the real system.",
    Stage.DEPLOY: "May it go live? A release with its evidence and sign-offs.",
    Stage.MONITOR: "Does it work in use? Telemetry on dashboards, with alerts.",
    Stage.IMPROVE: "Does it get better? Failures turned into backlog work and knowledge.",
}


@dataclass(frozen=True)
class Artifact:
    label: str  # "Brief", "Eval plans and runs"
    state: str  # PRODUCED | PARTIAL | MISSING
    summary: str = ""  # what exists: "2 plans; latest run 92% passed"
    url: str = ""  # where it is made or read
    missing: tuple[str, ...] = ()  # what is still to do, in a few words each

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


Describer = Callable[[UseCase], "Artifact | None"]


@dataclass(frozen=True)
class _Registered:
    key: str
    describe: Describer


_REGISTRY: dict[str, list[_Registered]] = {stage: [] for stage in STAGE_ORDER}


def register_stage_artifact(*, stage: str, key: str, describe: Describer) -> None:
    """Add an artifact to `stage`, after those registered before it; a key registered again
    replaces the earlier one."""
    if stage not in _REGISTRY:
        raise ValueError(f"Unknown stage {stage!r}; stages: {', '.join(STAGE_ORDER)}.")
    rows = [r for r in _REGISTRY[stage] if r.key != key]
    _REGISTRY[stage] = rows + [_Registered(key, describe)]


def registered_stage_artifacts(stage: str) -> list[str]:
    return [r.key for r in _REGISTRY[stage]]


@dataclass
class StageView:
    stage: str
    label: str
    purpose: str
    current: bool
    reached: bool
    artifacts: list[Artifact] = field(default_factory=list)
    gate: list[gates.Check] = field(default_factory=list)  # the criteria to enter it

    @property
    def state(self) -> str:
        states = {a.state for a in self.artifacts}
        if not states or states == {MISSING}:
            return MISSING
        return PRODUCED if states == {PRODUCED} else PARTIAL

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def gate_met(self) -> int:
        return sum(1 for check in self.gate if check.met)

    @property
    def missing(self) -> list[str]:
        return [m for a in self.artifacts for m in a.missing]


def lifecycle_of(use_case: UseCase, readiness) -> list[StageView]:
    """Every stage of the use case, with its artifacts and its gate."""
    here = STAGE_ORDER.index(use_case.stage)
    views = []
    for i, stage in enumerate(STAGE_ORDER):
        artifacts = [a for r in _REGISTRY[stage] if (a := r.describe(use_case)) is not None]
        views.append(
            StageView(
                stage=stage,
                label=Stage(stage).label,
                purpose=STAGE_PURPOSE[stage],
                current=i == here,
                reached=i <= here,
                artifacts=artifacts,
                gate=gates.checks_for(use_case, stage, readiness) if i > 0 else [],
            )
        )
    return views


# --- The artifacts this app owns (registered in UsecasesConfig.ready)


def _url(name: str, use_case: UseCase) -> str:
    from django.urls import reverse

    return reverse(name, args=[use_case.organization.slug, use_case.number])


def brief_artifact(uc: UseCase) -> Artifact:
    fields = (
        ("the problem", uc.problem),
        ("the workflow", uc.workflow),
        ("the target users", uc.target_users),
        ("the value hypothesis", uc.value_hypothesis),
        ("the business metric", uc.metric_name),
    )
    empty = [name for name, value in fields if not (value or "").strip()]
    if uc.owner_id is None:
        empty.append("an owner")
    state = MISSING if len(empty) == len(fields) + 1 else PARTIAL if empty else PRODUCED
    done = len(fields) + 1 - len(empty)
    return Artifact(
        "Brief",
        state,
        f"{done} of {len(fields) + 1} parts written",
        _url("usecase_edit", uc),
        tuple(f"Write {name}" if name != "an owner" else "Name an owner" for name in empty),
    )


def prd_artifact(uc: UseCase) -> Artifact:
    from usecases.models import Requirement

    prd = getattr(uc, "prd", None)
    if prd is None or prd.version == 0:
        return Artifact("AI PRD", MISSING, "", _url("prd", uc), ("Write the PRD from the brief",))
    count = Requirement.objects.for_org(uc.organization_id).filter(use_case=uc).count()
    missing = () if count else ("Add behavioral requirements",)
    return Artifact(
        "AI PRD",
        PRODUCED if count else PARTIAL,
        f"version {prd.version}, {count} requirement{'s' * (count != 1)}",
        _url("prd", uc),
        missing,
    )


def backlog_artifact(uc: UseCase) -> Artifact:
    from usecases.backlog import backlog_of

    backlog = backlog_of(uc.organization, use_case=uc)
    untriaged = sum(1 for e in backlog.entries if e.kind == "eval_failure")
    n = len(backlog.entries)
    summary = f"{n} open entr{'ies' if n != 1 else 'y'}" if n else "no open work"
    missing = (
        (f"Triage the failures of {untriaged} run{'s' * (untriaged != 1)}",) if untriaged else ()
    )
    return Artifact("Backlog", PARTIAL if untriaged else PRODUCED, summary,
                    _url("usecase_backlog", uc), missing)  # fmt: skip
