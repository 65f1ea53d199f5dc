"""Reads of the evals area for pages and the API: few queries, no N+1."""

from __future__ import annotations

import re

from django.db.models import Case, Count, IntegerField, OuterRef, Prefetch, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

from evals.models import (
    EvalCase,
    EvalPlan,
    EvalResult,
    EvalRun,
    ResultStatus,
    RunScope,
    RunStatus,
    Triage,
    cases_at_version,
)
from usecases.models import Requirement

TREND_RUNS = 30
# A quoted phrase in PRD prose: 'like this', "like this" or “like this”.
_QUOTED = re.compile(
    r"""(?<![A-Za-z])'((?:[^'\n]|'(?=[a-z])){3,120}?)'(?![A-Za-z])"""
    r'|"([^"\n]{3,120})"|“([^”\n]{3,120})”'
)


def prd_forbidden_phrases(use_case) -> list[str]:
    """Quoted phrases of the PRD's forbidden actions and bad examples: what an answer must
    never say, as a starting list for the plan's must-not-contain scorer."""
    from usecases.models import Prd

    prd = Prd.objects.for_org(use_case.organization_id).filter(use_case=use_case).first()
    if prd is None:
        return []
    text = "\n".join(prd.section(key) for key in ("forbidden_actions", "bad_examples"))
    phrases = []
    for match in _QUOTED.finditer(text):
        phrase = next(group for group in match.groups() if group).strip(" .…")
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return phrases[:50]


def current_case_count(organization):
    """An expression for annotating plans: how many cases their current version holds."""
    cases = (
        EvalCase.objects.for_org(organization)
        .filter(cases_at_version(OuterRef("case_version")), plan=OuterRef("pk"))
        .order_by()
        .values("plan")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(cases, output_field=IntegerField()), 0)


def latest_runs(organization):
    """Runs of the plan being annotated (OuterRef), newest first."""
    return (
        EvalRun.objects.for_org(organization)
        .filter(plan=OuterRef("pk"), scope=RunScope.FULL)
        .order_by("-number")
    )


def plans_of(organization, *, use_case=None, archived: bool = False):
    """Plans with their case count and latest run, in one query."""
    latest = latest_runs(organization)
    plans = (
        EvalPlan.objects.for_org(organization)
        .filter(archived_at__isnull=not archived)
        .select_related("use_case", "target")
        .annotate(
            case_count=current_case_count(organization),
            last_run_id=Subquery(latest.values("pk")[:1]),
            last_run_number=Subquery(latest.values("number")[:1]),
            last_run_status=Subquery(latest.values("status")[:1]),
            last_run_pass_rate=Subquery(latest.values("pass_rate")[:1]),
            last_run_thresholds_met=Subquery(latest.values("thresholds_met")[:1]),
        )
    )
    if use_case is not None:
        plans = plans.filter(use_case=use_case)
    return plans


def case_count(plan: EvalPlan) -> int:
    return (
        EvalCase.objects.for_org(plan.organization_id)
        .filter(cases_at_version(plan.case_version), plan=plan)
        .count()
    )


def current_cases(plan: EvalPlan, *, version: int | None = None, q: str = ""):
    """The cases of a version of the plan's set (the current one by default), with the keys
    of their requirements."""
    requirements = Requirement.objects.for_org(plan.organization_id).only("id", "number")
    cases = (
        EvalCase.objects.for_org(plan.organization_id)
        .filter(cases_at_version(plan.case_version if version is None else version), plan=plan)
        .prefetch_related(Prefetch("requirements", queryset=requirements))
        .order_by("position", "number")
    )
    if q:
        match = Q(prompt__icontains=q) | Q(name__icontains=q) | Q(tags__icontains=q)
        key = re.fullmatch(r"(CASE|REQ)-(\d{1,9})", q.strip().upper())
        if key and key.group(1) == "CASE":  # the keys the table shows find their rows
            match |= Q(number=int(key.group(2)))
        elif key:
            match |= Q(requirements__number=int(key.group(2)))
        cases = cases.filter(match).distinct()
    return cases


def runs_of(plan: EvalPlan):
    return (
        EvalRun.objects.for_org(plan.organization_id)
        .filter(plan=plan)
        .select_related("created_by")
        .order_by("-number")
    )


def recent_runs(organization, limit: int = 10):
    return (
        EvalRun.objects.for_org(organization)
        .select_related("plan", "plan__use_case")
        .order_by("-created_at")[:limit]
    )


def trend_points(plan: EvalPlan) -> list[dict]:
    """Pass rate of the last completed runs, oldest first (for the trend chart)."""
    rows = (
        EvalRun.objects.for_org(plan.organization_id)
        .filter(plan=plan, status=RunStatus.COMPLETED, pass_rate__isnull=False, scope=RunScope.FULL)
        .order_by("-number")
        .values("pk", "number", "pass_rate", "is_baseline", "label", "finished_at")[:TREND_RUNS]
    )
    return list(reversed(list(rows)))


def results_page(run: EvalRun, *, status: str = "", regressions=()):
    """The run's results as its page lists them: the regressions (cases of `regressions`
    that fail now) first, then the other results that did not pass, then the passes."""
    not_passed = ~Q(status=ResultStatus.PASS)
    first = Case(
        When(not_passed & Q(case_number__in=list(regressions)), then=Value(0)),
        When(not_passed, then=Value(1)),
        default=Value(2),
    )
    results = (
        EvalResult.objects.for_org(run.organization_id)
        .filter(run=run)
        .select_related("case")
        .defer("case__context", "case__expected_behavior")
        .annotate(failure_rank=first)
        .order_by("failure_rank", "case__position", "case_number", "repetition")
    )
    if status == "failing":
        results = results.exclude(status=ResultStatus.PASS)
    elif status in ResultStatus.values:
        results = results.filter(status=status)
    return results


def triages_for(run: EvalRun, case_ids) -> dict[int, Triage]:
    return {
        t.case_id: t
        for t in Triage.objects.for_org(run.organization_id).filter(run=run, case_id__in=case_ids)
    }


def plans_with_cases(use_case) -> list[tuple[str, int]]:
    """(name, current case count) of the use case's active plans that have cases."""
    return list(
        EvalPlan.objects.for_org(use_case.organization_id)
        .filter(use_case=use_case, archived_at__isnull=True)
        .annotate(case_count=current_case_count(use_case.organization_id))
        .filter(case_count__gt=0)
        .order_by("name", "pk")
        .values_list("name", "case_count")
    )


FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED)


def plans_with_latest_verdict(use_case) -> list[EvalPlan]:
    """The use case's active plans that have cases, each with its latest finished run
    (`verdict_run_*`: number, status, pass rate, thresholds met; None when none finished),
    in one query. A cancelled run is no verdict."""
    org = use_case.organization_id
    finished = (
        EvalRun.objects.for_org(org)
        .filter(plan=OuterRef("pk"), status__in=FINISHED, scope=RunScope.FULL)
        .order_by("-number")
    )
    return list(
        EvalPlan.objects.for_org(org)
        .filter(use_case=use_case, archived_at__isnull=True)
        .annotate(
            case_count=current_case_count(org),
            verdict_run_id=Subquery(finished.values("pk")[:1]),
            verdict_run_number=Subquery(finished.values("number")[:1]),
            verdict_run_pass_rate=Subquery(finished.values("pass_rate")[:1]),
            verdict_run_thresholds_met=Subquery(finished.values("thresholds_met")[:1]),
        )
        .filter(case_count__gt=0)
        .order_by("name", "pk")
    )


def latest_finished_runs(use_case) -> list[tuple[EvalPlan, EvalRun | None]]:
    """Each active plan of the use case that has cases, with its latest finished full run
    (None when none finished), in two queries: what a release's checklist judges."""
    plans = plans_with_latest_verdict(use_case)
    ids = [plan.verdict_run_id for plan in plans if plan.verdict_run_id]
    runs = {
        run.pk: run for run in EvalRun.objects.for_org(use_case.organization_id).filter(pk__in=ids)
    }
    return [(plan, runs.get(plan.verdict_run_id)) for plan in plans]
