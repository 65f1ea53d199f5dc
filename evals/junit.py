"""A run as JUnit XML, the format every CI system shows: one testcase per (case, repetition).

Streamed from the database in pages, so a large run is never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.sax.saxutils import quoteattr

from evals.models import EvalResult, EvalRun, ResultStatus

_INVALID_XML = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters: drop them."""
    return (text or "").translate(_INVALID_XML)


def _attr(text) -> str:
    return quoteattr(_clean(str(text)))


def _cdata(text: str) -> str:
    return "<![CDATA[" + _clean(text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _reasons(result: EvalResult) -> str:
    lines = [
        f"{'PASS' if a.get('passed') else 'FAIL'} {a.get('label') or a.get('type')}: "
        f"{a.get('reason', '')}"
        for a in result.assertions or []
    ]
    return "\n".join(lines)


def junit_lines(run: EvalRun) -> Iterator[str]:
    plan_name = run.plan.name
    summary = run.summary or {}
    counts = summary.get("counts") or {}
    total = counts.get("done", 0)
    failures = counts.get("failed", 0)
    errors = counts.get("errored", 0) + counts.get("dead", 0)
    seconds = 0.0
    if run.started_at and run.finished_at:
        seconds = (run.finished_at - run.started_at).total_seconds()
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield (
        f'<testsuites name={_attr("GenAI PO evals")} tests="{total}" '
        f'failures="{failures}" errors="{errors}" time="{seconds:.3f}">\n'
    )
    yield (
        f'  <testsuite name={_attr(f"{plan_name} · Run #{run.number}")} tests="{total}" '
        f'failures="{failures}" errors="{errors}" time="{seconds:.3f}">\n'
    )
    yield "    <properties>\n"
    props = {
        "status": run.status,
        "pass_rate": run.pass_rate,
        "thresholds_met": run.thresholds_met,
        "case_version": run.case_version,
        "target": run.target_label,
        "label": run.label,
    }
    for key, value in props.items():
        yield f"      <property name={_attr(key)} value={_attr('' if value is None else value)}/>\n"
    yield "    </properties>\n"
    results = (
        EvalResult.objects.for_org(run.organization_id)
        .filter(run_id=run.pk)
        .select_related("case")
        .only(
            "case_number",
            "repetition",
            "status",
            "latency_ms",
            "assertions",
            "error",
            "output",
            "case__name",
            "case__prompt",
            "case__messages",
            "case__position",
        )  # fmt: skip
        .order_by("case__position", "case_number", "repetition")
    )
    for result in results.iterator(chunk_size=500):
        name = f"CASE-{result.case_number}"
        if run.repetitions > 1:
            name += f" #{result.repetition + 1}"
        title = result.case.name or result.case.input_text[:80]
        if title:
            name += f" {title}"
        seconds = (result.latency_ms or 0) / 1000
        head = f'    <testcase classname={_attr(plan_name)} name={_attr(name)} time="{seconds:.3f}"'
        if result.status == ResultStatus.PASS:
            yield head + "/>\n"
            continue
        yield head + ">\n"
        if result.status == ResultStatus.FAIL:
            reasons = _reasons(result)
            message = next(
                (a.get("reason", "") for a in result.assertions or [] if not a.get("passed")), ""
            )
            body = f"{reasons}\n\nOutput:\n{result.output}"
            yield f"      <failure message={_attr(message[:300])}>{_cdata(body)}</failure>\n"
        else:
            kind = "dead" if result.status == ResultStatus.DEAD else "error"
            yield (
                f"      <error type={_attr(kind)} message={_attr(result.error[:300])}>"
                f"{_cdata(result.error)}</error>\n"
            )
        yield "    </testcase>\n"
    yield "  </testsuite>\n</testsuites>\n"
