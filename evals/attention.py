"""What the evals area says needs someone now (registered in `EvalsConfig.ready()`):
regressions in the plans' latest runs for the product owner, and failing and running runs
for the engineer. Each source runs a fixed number of queries, or one more per plan it
compares (at most `COMPARED_PLANS`).
"""

from __future__ import annotations

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from evals import compare, selectors
from evals.models import ACTIVE_RUN_STATUSES, EvalResult, EvalRun, RunStatus
from genai_po.registry import ATTENTION_LIMIT, Attention

COMPARED_PLANS = 10  # the plans whose latest run is compared, most recently run first


def _run_url(organization, run_id: int, anchor: str = "") -> str:
    return reverse("run_detail", args=[organization.slug, run_id]) + anchor


def _latest_runs(organization, *, statuses=None) -> list[EvalRun]:
    """The latest full run of each active plan (optionally only those in `statuses`), most
    recent first; two queries."""
    plans = selectors.plans_of(organization).filter(last_run_id__isnull=False)
    if statuses:
        plans = plans.filter(last_run_status__in=statuses)
    ids = list(plans.values_list("last_run_id", flat=True))
    return list(
        EvalRun.objects.for_org(organization)
        .filter(pk__in=ids)
        .select_related("plan", "plan__use_case")
        .order_by("-finished_at", "-created_at", "-pk")
    )


def _shown_cases(numbers: list[int]) -> str:
    shown = ", ".join(f"CASE-{n}" for n in numbers[:3])
    return shown + ("…" if len(numbers) > 3 else "")


def regressions(request) -> list[Attention]:
    """Plans whose latest completed run fails cases that passed in its baseline."""
    org = request.organization
    out = []
    for run in _latest_runs(org, statuses=[RunStatus.COMPLETED])[:COMPARED_PLANS]:
        baseline = compare.baseline_for(run)
        if baseline is None:
            continue
        newly = compare.newly_failing(run, baseline)
        if not newly:
            continue
        n = len(newly)
        out.append(
            Attention(
                title=f"{run.plan.name} · run #{run.number}",
                url=_run_url(org, run.pk),
                why=f"{n} case{'s' * (n != 1)} newly failing against run #{baseline.number} "
                f"({_shown_cases(newly)})",
                when=run.finished_at,
                late=run.thresholds_met is False,
                use_case=run.plan.use_case.key,
            )
        )
    return out


def failing(request) -> list[Attention]:
    """Plans whose latest run failed to finish or misses its thresholds."""
    org = request.organization
    out = []
    for run in _latest_runs(org, statuses=[RunStatus.COMPLETED, RunStatus.FAILED]):
        if run.status == RunStatus.FAILED:
            why = f"the run failed: {run.error[:160]}" if run.error else "the run failed"
        elif run.thresholds_met is False:
            rate = "no pass rate" if run.pass_rate is None else f"{run.pass_rate:.0%} passed"
            why = f"{rate}; its thresholds are not met"
        else:
            continue
        out.append(
            Attention(
                title=f"{run.plan.name} · run #{run.number}",
                url=_run_url(org, run.pk),
                why=why,
                when=run.finished_at,
                late=run.status == RunStatus.FAILED,
                use_case=run.plan.use_case.key,
            )
        )
        if len(out) > ATTENTION_LIMIT:
            break
    return out


def running(request) -> list[Attention]:
    """Runs queued or running now, with their progress (two queries)."""
    org = request.organization
    runs = list(
        EvalRun.objects.for_org(org)
        .filter(status__in=ACTIVE_RUN_STATUSES)
        .select_related("plan", "plan__use_case")
        .order_by("created_at", "pk")[: ATTENTION_LIMIT + 1]
    )
    done = dict(
        EvalResult.objects.for_org(org)
        .filter(run_id__in=[r.pk for r in runs])
        .values("run_id")
        .annotate(n=Count("pk"))
        .values_list("run_id", "n")
    )
    now = timezone.now()
    out = []
    for run in runs:
        if run.status == RunStatus.QUEUED:
            minutes = int((now - run.created_at).total_seconds() // 60)
            why = f"queued for {minutes} min" if minutes else "queued"
        else:
            why = f"{done.get(run.pk, 0):,} of {run.total_items:,} results"
        out.append(
            Attention(
                title=f"{run.plan.name} · run #{run.number}",
                url=_run_url(org, run.pk),
                why=why,
                when=run.started_at or run.created_at,
                use_case=run.plan.use_case.key,
            )
        )
    return out


def evals_url(request) -> str:
    return reverse("evals_home", args=[request.organization.slug])
