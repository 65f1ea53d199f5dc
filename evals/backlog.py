"""The evals area's backlog source: failures waiting for triage (registered in
`EvalsConfig.ready()`).

Each active (not archived) plan makes at most one entry: its latest finished full run
(completed or failed, as the release gate reads it; `selectors.FINISHED`), when that run
holds failing cases nobody has triaged. A failing case is one with a result that did not
pass (fail, error or dead: the run page's "Not passed" filter, and what `triage_set`
accepts); a triage is per (run, case), so repetitions of one case count once. The entry
leaves when every failing case of the run is triaged, or when a newer run finishes.

- impact: 4 when an untriaged failing case is newly failing (it passed in the run's
  baseline, as `compare.baseline_for` picks it and the run page shows it: the plan's marked
  baseline, else the previous completed run) or verifies a launch-blocking requirement
  that is not retired; else 3.
- urgency: by the run's age since it finished: under a day 2, under 3 days 3, under 7 days
  4, else 5.
- effort: by the number of untriaged cases: up to 10 is 1, up to 50 is 2, more is 3.
- owner: the use case's owner (a plan has no owner of its own; its creator is not one).

One query whatever the number of plans, runs and results: the runs are picked, counted and
checked by subqueries, with their plan, use case and owner joined.
"""

from __future__ import annotations

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from evals.models import (
    EvalCaseRequirement,
    EvalPlan,
    EvalResult,
    EvalRun,
    ResultStatus,
    RunScope,
    RunStatus,
    Triage,
)
from evals.selectors import FINISHED
from usecases.backlog import BacklogEntry, url_maker
from usecases.models import RequirementStatus

KIND = "eval_failure"


def _untriaged_failures(organization):
    """Failing results of the run being annotated (OuterRef) whose case has no triage."""
    triaged = Triage.objects.for_org(organization).filter(
        run_id=OuterRef("run_id"), case_id=OuterRef("case_id")
    )
    return (
        EvalResult.objects.for_org(organization)
        .filter(run_id=OuterRef("pk"))
        .exclude(status=ResultStatus.PASS)
        .exclude(Exists(triaged))
    )


def _baseline_id(organization):
    """`compare.baseline_for` of a full run, as an expression: the plan's marked baseline
    (completed, not the run itself), else its previous completed full run."""
    full = EvalRun.objects.for_org(organization).filter(
        plan_id=OuterRef("plan_id"), scope=RunScope.FULL, status=RunStatus.COMPLETED
    )
    marked = full.filter(is_baseline=True).exclude(pk=OuterRef("pk")).order_by("-number")
    previous = full.filter(number__lt=OuterRef("number")).order_by("-number")
    return Coalesce(Subquery(marked.values("pk")[:1]), Subquery(previous.values("pk")[:1]))


def _passed_in_baseline(organization):
    """The result being tested (OuterRef) is of a case that passed every repetition in the
    baseline of its run (the run is two levels out)."""
    same_case = EvalResult.objects.for_org(organization).filter(
        run_id=OuterRef(OuterRef("baseline_id")), case_number=OuterRef("case_number")
    )
    return Exists(same_case.filter(status=ResultStatus.PASS)) & ~Exists(
        same_case.exclude(status=ResultStatus.PASS)
    )


def latest_runs_awaiting_triage(organization, *, use_case=None):
    """The latest finished full run of each active plan, when it has untriaged failing
    cases: `untriaged` (how many cases), `serious` (one of them is newly failing or verifies
    a launch-blocking requirement), with plan, use case and owner. One query."""
    finished = (
        EvalRun.objects.for_org(organization)
        .filter(plan_id=OuterRef("pk"), status__in=FINISHED, scope=RunScope.FULL)
        .order_by("-number")
    )
    plans = EvalPlan.objects.for_org(organization).filter(archived_at__isnull=True)
    if use_case is not None:
        plans = plans.filter(use_case=use_case)
    # From the plans, not the runs: one index probe per plan, however many runs it has.
    latest = plans.annotate(latest=Subquery(finished.values("pk")[:1])).values("latest")
    untriaged = _untriaged_failures(organization)
    count = (
        untriaged.order_by()
        .values("run_id")
        .annotate(n=Count("case_id", distinct=True))
        .values("n")
    )
    blocking = EvalCaseRequirement.objects.for_org(organization).filter(
        case_id=OuterRef("case_id"), requirement__launch_blocking=True
    )
    blocking = blocking.exclude(requirement__status=RequirementStatus.RETIRED)
    serious = untriaged.filter(Q(Exists(blocking)) | _passed_in_baseline(organization))
    return (
        EvalRun.objects.for_org(organization)
        .filter(pk__in=latest)
        .annotate(untriaged=Subquery(count, output_field=IntegerField()))
        .filter(untriaged__gt=0)
        .annotate(baseline_id=_baseline_id(organization))
        .annotate(serious=Exists(serious))
        .select_related("plan", "plan__use_case", "plan__use_case__owner")
        .order_by("pk")
    )


def _age(finished, now) -> tuple[int, str]:
    seconds = max(0.0, (now - finished).total_seconds())
    days = int(seconds // 86400)
    if days < 1:
        hours = int(seconds // 3600)
        when = "finished within the hour" if hours < 1 else f"finished {hours} h ago"
    else:
        when = f"finished {days} day{'s' * (days != 1)} ago"
    return (2 if days < 1 else 3 if days < 3 else 4 if days < 7 else 5), when


def _effort(count: int) -> int:
    return 1 if count <= 10 else 2 if count <= 50 else 3


def eval_failure_entries(organization, *, use_case=None) -> list[BacklogEntry]:
    """One entry per plan whose latest finished run has failures waiting for triage."""
    now = timezone.now()
    url_of = url_maker("run_detail", organization.slug)
    out = []
    for run in latest_runs_awaiting_triage(organization, use_case=use_case):
        plan, n = run.plan, run.untriaged
        finished = run.finished_at or run.created_at
        urgency, why = _age(finished, now)
        failures = "1 failure" if n == 1 else f"{n} failures"
        out.append(
            BacklogEntry(
                kind=KIND,
                key=str(run),
                title=f"{failures} of {plan.name} wait{'s' * (n == 1)} for triage",
                url=f"{url_of(run.pk)}?status=failing",
                obj=run,
                created_at=finished,
                impact=4 if run.serious else 3,
                urgency=urgency,
                effort=_effort(n),
                owner=plan.use_case.owner,
                use_case=plan.use_case,
                why=why,
            )
        )
    return out
