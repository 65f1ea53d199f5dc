"""What a run's results say: counts, pass rates per requirement and tag, latency
percentiles, tokens and cost, flaky cases, thresholds. Computed in the database (a
handful of aggregate queries and one streamed pass over the tags), never by loading
all results into memory."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from evals.models import EvalResult, EvalRun, ResultStatus, RunStatus

FLAKY_LIST_LIMIT = 50


def _results(run: EvalRun):
    return EvalResult.objects.for_org(run.organization_id).filter(run_id=run.pk)


def percentile(run: EvalRun, fraction: float) -> float | None:
    """Nearest-rank percentile of latency, read with one ordered offset query."""
    measured = _results(run).filter(latency_ms__isnull=False)
    n = measured.count()
    if n == 0:
        return None
    rank = max(1, -(-int(fraction * 1000) * n // 1000))  # ceil(fraction * n)
    value = measured.order_by("latency_ms").values_list("latency_ms", flat=True)[rank - 1]
    return round(value, 1)


def counts(run: EvalRun) -> dict[str, int]:
    agg = _results(run).aggregate(
        done=Count("pk"),
        passed=Count("pk", filter=Q(status=ResultStatus.PASS)),
        failed=Count("pk", filter=Q(status=ResultStatus.FAIL)),
        errored=Count("pk", filter=Q(status=ResultStatus.ERROR)),
        dead=Count("pk", filter=Q(status=ResultStatus.DEAD)),
    )
    agg["total"] = run.total_items
    return agg


def _rate(passed: int, total: int) -> float | None:
    return round(passed / total, 4) if total else None


def by_requirement(run: EvalRun) -> list[dict]:
    rows = (
        _results(run)
        .filter(case__requirements__isnull=False)
        .values("case__requirements__number", "case__requirements__statement")
        .annotate(total=Count("pk"), passed=Count("pk", filter=Q(status=ResultStatus.PASS)))
        .order_by("case__requirements__number")
    )
    return [
        {
            "key": f"REQ-{r['case__requirements__number']}",
            "statement": (r["case__requirements__statement"] or "")[:200],
            "total": r["total"],
            "passed": r["passed"],
            "pass_rate": _rate(r["passed"], r["total"]),
        }
        for r in rows
    ]


def by_tag(run: EvalRun) -> list[dict]:
    totals: Counter[str] = Counter()
    passes: Counter[str] = Counter()
    stream = _results(run).values_list("status", "case__tags").iterator(chunk_size=2000)
    for status, tags in stream:
        for tag in tags or ():
            totals[tag] += 1
            if status == ResultStatus.PASS:
                passes[tag] += 1
    return [
        {
            "key": tag,
            "total": totals[tag],
            "passed": passes[tag],
            "pass_rate": _rate(passes[tag], totals[tag]),
        }  # fmt: skip
        for tag in sorted(totals)
    ]


def flaky(run: EvalRun) -> tuple[int, list[int]]:
    """Cases whose repetitions disagree: (how many, the first case numbers)."""
    if run.repetitions < 2:
        return 0, []
    rows = (
        _results(run)
        .values("case_number")
        .annotate(n=Count("pk"), p=Count("pk", filter=Q(status=ResultStatus.PASS)))
        .filter(p__gt=0)
        .exclude(p=F("n"))
        .order_by("case_number")
    )
    total = rows.count()
    return total, [r["case_number"] for r in rows[:FLAKY_LIST_LIMIT]]


def usage(run: EvalRun) -> dict:
    agg = _results(run).aggregate(
        tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=Sum("cost")
    )
    cost = agg["cost"]
    return {
        "tokens_in": agg["tokens_in"],
        "tokens_out": agg["tokens_out"],
        "cost": str(cost.quantize(Decimal("0.0001"))) if cost is not None else None,
    }


def thresholds(run: EvalRun, overall: float | None, reqs: list[dict], tags: list[dict]):
    """Each threshold of the run's frozen config, what was reached, and whether it is met."""
    config = run.config or {}
    report = []
    required = config.get("pass_threshold")
    if required is not None:
        report.append(_check("overall", "", required, overall))
    req_rates = {r["key"]: r["pass_rate"] for r in reqs}
    for key, value in sorted((config.get("requirement_thresholds") or {}).items()):
        report.append(_check("requirement", key, value, req_rates.get(key)))
    tag_rates = {t["key"]: t["pass_rate"] for t in tags}
    for key, value in sorted((config.get("tag_thresholds") or {}).items()):
        report.append(_check("tag", key, value, tag_rates.get(key)))
    return report


def _check(scope: str, key: str, required: float, actual: float | None) -> dict:
    return {
        "scope": scope,
        "key": key,
        "required": round(required, 4),
        "actual": actual,
        "met": actual is not None and actual + 1e-9 >= required,
    }


def compute(run: EvalRun) -> dict:
    """The whole summary of a run, as stored in ``EvalRun.summary``."""
    c = counts(run)
    overall = _rate(c["passed"], c["done"])
    reqs, tags = by_requirement(run), by_tag(run)
    flaky_count, flaky_cases = flaky(run)
    report = thresholds(run, overall, reqs, tags)
    return {
        "counts": c,
        "pass_rate": overall,
        "latency_p50_ms": percentile(run, 0.50),
        "latency_p95_ms": percentile(run, 0.95),
        "usage": usage(run),
        "requirements": reqs,
        "tags": tags,
        "flaky_count": flaky_count,
        "flaky_cases": flaky_cases,
        "threshold_report": report,
        "thresholds_met": bool(report) and all(r["met"] for r in report) and c["done"] > 0,
    }


def columns(stats: dict, status: str) -> dict:
    """The EvalRun columns a summary fills."""
    c = stats["counts"]
    return {
        "passed": c["passed"],
        "failed": c["failed"],
        "errored": c["errored"] + c["dead"],
        "pass_rate": stats["pass_rate"],
        "thresholds_met": stats["thresholds_met"] if status == RunStatus.COMPLETED else False,
        "summary": stats,
    }


def store(run: EvalRun) -> None:
    """Write the summary of a finished (cancelled or failed) run as it stands."""
    values = columns(compute(run), run.status)
    EvalRun.objects.for_org(run.organization_id).filter(pk=run.pk).update(**values)
    for field, value in values.items():
        setattr(run, field, value)


def failure_message(run: EvalRun, stats: dict) -> str:
    c = stats["counts"]
    first = (
        _results(run)
        .filter(status__in=[ResultStatus.ERROR, ResultStatus.DEAD])
        .order_by("case_number", "repetition")
        .values_list("case_number", "error")
        .first()
    )
    if first is None:
        return "No case produced a result."
    number, error = first
    return (
        f"No case could be evaluated ({c['errored']} errors, {c['dead']} dead). "
        f"First: CASE-{number}: {error}"
    )


def progress(run: EvalRun) -> dict:
    """Live progress for the browser and the API: counts and an ETA from the rate so far."""
    from django.utils import timezone

    c = counts(run)
    eta = None
    if run.status == RunStatus.RUNNING and run.started_at and c["done"]:
        elapsed = (timezone.now() - run.started_at).total_seconds()
        remaining = max(run.total_items - c["done"], 0)
        eta = round(elapsed / c["done"] * remaining, 1) if elapsed > 0 else None
    percent = round(100 * c["done"] / run.total_items) if run.total_items else 0
    return {**c, "percent": min(percent, 100), "eta_seconds": eta}
