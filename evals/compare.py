"""A run against its baseline: newly failing, fixed, unchanged, with the output diff.

The baseline is the plan's run marked baseline, else the previous completed run. Cases
are matched by their number (CASE-n), so an edited case still compares with itself.
A case passes in a run when every repetition passed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from django.db.models import Count, F, Q

from evals.models import EvalResult, EvalRun, ResultStatus, RunScope, RunStatus

NEWLY_FAILING, FIXED = "newly_failing", "fixed"
STILL_PASSING, STILL_FAILING = "still_passing", "still_failing"
ADDED, REMOVED = "added", "removed"
LABELS = {
    NEWLY_FAILING: "Newly failing",
    FIXED: "Fixed",
    STILL_FAILING: "Still failing",
    STILL_PASSING: "Still passing",
    ADDED: "New cases",
    REMOVED: "No longer in the set",
}


def baseline_for(run: EvalRun) -> EvalRun | None:
    if run.rechecks_id:  # a re-check compares with the run it re-checks
        return EvalRun.objects.for_org(run.organization_id).filter(pk=run.rechecks_id).first()
    runs = EvalRun.objects.for_org(run.organization_id).filter(
        plan_id=run.plan_id, scope=RunScope.FULL
    )
    marked = runs.filter(is_baseline=True, status=RunStatus.COMPLETED).exclude(pk=run.pk).first()
    if marked is not None:
        return marked
    return (
        runs.filter(status=RunStatus.COMPLETED, number__lt=run.number).order_by("-number").first()
    )


def case_outcomes(run: EvalRun) -> dict[int, bool]:
    """case number -> passed (every repetition passed)."""
    rows = (
        EvalResult.objects.for_org(run.organization_id)
        .filter(run_id=run.pk)
        .values("case_number")
        .annotate(n=Count("pk"), p=Count("pk", filter=Q(status=ResultStatus.PASS)))
    )
    return {r["case_number"]: r["n"] > 0 and r["p"] == r["n"] for r in rows}


@dataclass
class Comparison:
    baseline: EvalRun
    groups: dict[str, list[int]] = field(default_factory=dict)

    def count(self, key: str) -> int:
        return len(self.groups.get(key, []))

    def of(self, case_number: int) -> str | None:
        for key, numbers in self.groups.items():
            if case_number in numbers:
                return key
        return None

    def as_dict(self, limit: int = 200) -> dict:
        return {
            "baseline": {"id": self.baseline.pk, "number": self.baseline.number},
            "counts": {key: len(numbers) for key, numbers in self.groups.items()},
            "cases": {
                key: [f"CASE-{n}" for n in numbers[:limit]] for key, numbers in self.groups.items()
            },  # fmt: skip
        }


def compare(run: EvalRun, baseline: EvalRun | None = None) -> Comparison | None:
    baseline = baseline or baseline_for(run)
    if baseline is None or baseline.pk == run.pk:
        return None
    now, before = case_outcomes(run), case_outcomes(baseline)
    if run.scope == RunScope.CASES:  # some cases again: the others were not left out
        before = {number: passed for number, passed in before.items() if number in now}
    groups: dict[str, list[int]] = {key: [] for key in LABELS}
    for number in sorted(set(now) | set(before)):
        if number not in before:
            groups[ADDED].append(number)
        elif number not in now:
            groups[REMOVED].append(number)
        elif before[number] and not now[number]:
            groups[NEWLY_FAILING].append(number)
        elif not before[number] and now[number]:
            groups[FIXED].append(number)
        elif now[number]:
            groups[STILL_PASSING].append(number)
        else:
            groups[STILL_FAILING].append(number)
    return Comparison(baseline, groups)


def newly_failing(run: EvalRun, baseline: EvalRun) -> list[int]:
    """The numbers of the cases that passed in `baseline` and fail in `run`, computed in the
    database in one aggregate (the release gate's regression check reads only these)."""
    now, before = Q(run_id=run.pk), Q(run_id=baseline.pk)
    passed = Q(status=ResultStatus.PASS)
    return list(
        EvalResult.objects.for_org(run.organization_id)
        .filter(run_id__in=[run.pk, baseline.pk])
        .values("case_number")
        .annotate(
            now_n=Count("pk", filter=now),
            now_p=Count("pk", filter=now & passed),
            before_n=Count("pk", filter=before),
            before_p=Count("pk", filter=before & passed),
        )
        .filter(now_n__gt=0, before_n__gt=0, before_p=F("before_n"))
        .exclude(now_p=F("now_n"))
        .order_by("case_number")
        .values_list("case_number", flat=True)
    )


def _first_output(run: EvalRun, case_number: int) -> EvalResult | None:
    return (
        EvalResult.objects.for_org(run.organization_id)
        .filter(run_id=run.pk, case_number=case_number)
        .order_by("repetition")
        .first()
    )


def output_diff(run: EvalRun, baseline: EvalRun, case_number: int) -> list[tuple[str, str]]:
    """Line diff of the first repetition's output: [(kind, text)], kind in + - space @."""
    old, new = _first_output(baseline, case_number), _first_output(run, case_number)
    a = (old.output or old.error) if old else ""
    b = (new.output or new.error) if new else ""
    if a == b:
        return []
    lines = difflib.unified_diff(
        _wrap(a), _wrap(b), fromfile=f"Run #{baseline.number}", tofile=f"Run #{run.number}",
        lineterm="", n=2,
    )  # fmt: skip
    out = []
    for line in list(lines)[2:]:
        kind = line[:1] if line[:1] in "+-@" else " "
        out.append((kind, line[1:] if kind != "@" else line))
    return out[:400]


def _wrap(text: str) -> list[str]:
    """Split long single-line answers into sentences so the diff is readable."""
    lines = []
    for line in text.splitlines() or [""]:
        parts = [p.strip() for p in line.replace(". ", ".\n").splitlines()]
        lines.extend(p for p in parts if p)
    return lines
