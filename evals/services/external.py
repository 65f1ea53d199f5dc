"""Results computed elsewhere (JSONL), recorded as a completed run."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evals.models import (
    EvalPlan,
    EvalResult,
    EvalRun,
    ResultStatus,
    RunStatus,
    RunTrigger,
)
from evals.run_events import notify_run_finished
from evals.services.cases import current_cases
from evals.services.plans import clean_ci_metadata, lock_plan, next_run_number
from evals.services.runs import run_config
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action

EXTERNAL_MAX_BYTES = 20 * 1024 * 1024
EXTERNAL_MAX_LINES = 100_000
_EXTERNAL_KEYS = {
    "case", "output", "passed", "score", "latency_ms", "repetition", "error", "tokens_in",
    "tokens_out", "assertions",
}  # fmt: skip


def _external_rows(plan: EvalPlan, data: bytes) -> tuple[list[dict], list[str]]:
    """Parse uploaded JSONL results; (rows, problems) with line numbers."""

    if len(data) > EXTERNAL_MAX_BYTES:
        return [], [f"The file is over {EXTERNAL_MAX_BYTES // (1024 * 1024)} MB."]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], ["The file is not UTF-8 text."]
    cases = {
        number: pk
        for pk, number in current_cases(plan).values_list("pk", "number").iterator(chunk_size=2000)
    }
    rows, problems, seen = [], [], set()
    for line_no, line in enumerate(text.splitlines(), 1):
        if len(problems) >= 50:
            break
        if not line.strip():
            continue
        if len(rows) >= EXTERNAL_MAX_LINES:
            problems.append(f"line {line_no}: more than {EXTERNAL_MAX_LINES:,} results.")
            break
        try:
            obj = inputs.loads(line)
        except inputs.InputRefused as exc:
            problems.append(f"line {line_no}: {exc}")
            continue
        except ValueError as exc:
            problems.append(f"line {line_no}: not valid JSON ({getattr(exc, 'msg', exc)}).")
            continue
        if not isinstance(obj, dict):
            problems.append(f"line {line_no}: each line must be a JSON object.")
            continue
        unknown = sorted(set(obj) - _EXTERNAL_KEYS)
        if unknown:
            problems.append(f"line {line_no}: unknown keys {', '.join(unknown)}.")
            continue
        ref = str(obj.get("case", "")).strip().upper().removeprefix("CASE-")
        if inputs.id_or_none(ref) not in cases:
            problems.append(f"line {line_no}: {obj.get('case')!r} is not a case of this plan.")
            continue
        number = int(ref)
        rep = obj.get("repetition", 0)
        if not isinstance(rep, int) or isinstance(rep, bool) or not 0 <= rep < 20:
            problems.append(f"line {line_no}: repetition must be a whole number from 0 to 19.")
            continue
        if (number, rep) in seen:
            problems.append(f"line {line_no}: CASE-{number} repetition {rep} appears twice.")
            continue
        error = obj.get("error") or ""
        passed = obj.get("passed")
        if not error and not isinstance(passed, bool):
            problems.append(f'line {line_no}: "passed" must be true or false.')
            continue
        score = obj.get("score")
        latency = obj.get("latency_ms")
        bad_number = next(
            (k for k, v in (("score", score), ("latency_ms", latency)) if v is not None
             and (isinstance(v, bool) or not isinstance(v, int | float) or v < 0)),
            None,
        )  # fmt: skip
        if bad_number:
            problems.append(f"line {line_no}: {bad_number} must be a number of at least 0.")
            continue
        seen.add((number, rep))
        status = ResultStatus.ERROR if error else ResultStatus.PASS if passed else ResultStatus.FAIL
        rows.append({
            "case_id": cases[number], "case_number": number, "repetition": rep, "status": status,
            "score": score if score is None else float(score), "latency_ms": latency,
            "output": str(obj.get("output") or "")[:20_000], "error": str(error)[:5000],
            "tokens_in": obj.get("tokens_in") if isinstance(obj.get("tokens_in"), int) else None,
            "tokens_out": obj.get("tokens_out") if isinstance(obj.get("tokens_out"), int)
            else None,
            "assertions": obj.get("assertions") if isinstance(obj.get("assertions"), list)
            else [{"type": "external", "passed": bool(passed), "score": 1.0 if passed else 0.0,
                   "reason": "computed outside GenAI PO", "weight": 1, "label": ""}],
        })  # fmt: skip
    if not rows and not problems:
        problems.append("The file has no results.")
    return rows, problems


def external_run_upload(*, actor: Actor, plan: EvalPlan, data: bytes, label: str = "",
                        ci_metadata: dict | None = None) -> EvalRun:  # fmt: skip
    """Record results computed elsewhere as a completed run. Bad lines: nothing is stored."""
    from evals import summary

    actor.require(Action.RUN_EVALS)
    actor.require_same_org(plan)
    rows, problems = _external_rows(plan, data)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        plan = lock_plan(plan)
        now = timezone.now()
        run = EvalRun.objects.create(
            organization_id=plan.organization_id, plan=plan, number=next_run_number(plan),
            trigger=RunTrigger.EXTERNAL, case_version=plan.case_version, status=RunStatus.RUNNING,
            target_label="uploaded results", repetitions=max(r["repetition"] for r in rows) + 1,
            config=run_config(plan), label=(label or "").strip()[:200],
            ci_metadata=clean_ci_metadata(ci_metadata),
            total_items=len(rows), created_by=actor.user, created_by_label=actor.label,
            started_at=now,
        )  # fmt: skip
        EvalResult.objects.bulk_create(
            (EvalResult(organization_id=plan.organization_id, run=run, **row) for row in rows),
            batch_size=1000,
        )
        stats = summary.compute(run)
        EvalRun.objects.for_org(run.organization_id).filter(pk=run.pk).update(
            status=RunStatus.COMPLETED, finished_at=now,
            **summary.columns(stats, RunStatus.COMPLETED),
        )  # fmt: skip
        run.refresh_from_db()
        audit_record(actor=actor, action="eval_run.upload", obj=run,
                     after={"plan": plan.pk, "number": run.number, "results": len(rows),
                            "pass_rate": run.pass_rate})  # fmt: skip
        notify_run_finished(run)
    return run
