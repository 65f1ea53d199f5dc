"""Eval plans: scorers, thresholds, repetitions and cadence of a use case's evals."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evals import scorers as scoring
from evals.models import (
    Cadence,
    EvalPlan,
    TargetKind,
)
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action
from usecases.models import Requirement, UseCase

PLAN_FIELDS = [
    "name", "description", "target", "judge_target", "scorers", "forbidden_phrases",
    "approved_sources", "pass_threshold", "requirement_thresholds", "tag_thresholds",
    "repetitions", "cadence",
]  # fmt: skip


def _clean_percent_map(value, field: str, *, keys_like: str) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError({field: f'Give an object like {{"{keys_like}": 95}}.'})
    clean = {}
    for key, pct in value.items():
        try:
            number = float(pct)
        except (TypeError, ValueError):
            raise ValidationError({field: f"{key}: {pct!r} is not a number."}) from None
        if not 0 <= number <= 100:
            raise ValidationError({field: f"{key}: a pass rate is between 0 and 100."})
        clean[str(key).strip()] = number
    return clean


def _clean_plan(plan: EvalPlan, data: dict) -> dict:
    clean, errors = {}, {}
    for field, value in data.items():
        if field not in PLAN_FIELDS:
            errors[field] = "Unknown field."
            continue
        try:
            if field in ("target", "judge_target"):
                if value is not None and getattr(value, "organization_id", None) != (
                    plan.organization_id
                ):
                    raise ValidationError({field: "Choose a target of this organization."})
                if (
                    field == "judge_target"
                    and value is not None
                    and value.kind != TargetKind.OPENAI_CHAT
                ):
                    raise ValidationError(
                        {field: "A judge must be an OpenAI-compatible chat endpoint."}
                    )
            elif field == "scorers":
                try:
                    value = scoring.validate_specs(value or [])
                except scoring.ScorerSpecError as exc:
                    raise ValidationError({field: str(exc)}) from exc
            elif field in ("forbidden_phrases", "approved_sources"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValidationError({field: "Give a list of phrases."})
                value = [v.strip() for v in value if v.strip()][:200]
            elif field == "requirement_thresholds":
                value = _clean_percent_map(value, field, keys_like="REQ-1")
                known = {
                    f"REQ-{n}"
                    for n in Requirement.objects.for_org(plan.organization_id)
                    .filter(use_case_id=plan.use_case_id)
                    .values_list("number", flat=True)
                }
                unknown = sorted(set(value) - known)
                if unknown:
                    raise ValidationError(
                        {field: f"Not a requirement of this use case: {', '.join(unknown)}"}
                    )
            elif field == "tag_thresholds":
                value = _clean_percent_map(value, field, keys_like="refunds")
            elif field == "cadence" and value not in Cadence.values:
                raise ValidationError({field: "Choose none, daily or weekly."})
            clean[field] = value
        except ValidationError as exc:
            errors.update(exc.message_dict)
    errors.update(inputs.text_errors(EvalPlan, clean))
    if errors:
        raise ValidationError(errors)
    return clean


def _plan_audit(plan: EvalPlan) -> dict:
    data = {f: getattr(plan, f) for f in PLAN_FIELDS if f not in ("target", "judge_target")}
    data["target"] = plan.target_id
    data["judge_target"] = plan.judge_target_id
    data["pass_threshold"] = str(plan.pass_threshold)
    return data


def next_run_at(cadence: str, now=None):
    now = now or timezone.now()
    if cadence == Cadence.DAILY:
        return now + timedelta(days=1)
    if cadence == Cadence.WEEKLY:
        return now + timedelta(days=7)
    return None


def _apply_plan(plan: EvalPlan, data: dict) -> None:
    """Set validated fields on the plan (in memory); raises ValidationError by field."""
    for field, value in _clean_plan(plan, data).items():
        setattr(plan, field, value)
    try:
        plan.full_clean(exclude=["organization", "use_case", "created_by", "target",
                                 "judge_target"])  # fmt: skip
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


def plan_create(*, actor: Actor, use_case: UseCase, data: dict) -> EvalPlan:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    plan = EvalPlan(organization_id=use_case.organization_id, use_case=use_case,
                    created_by=actor.user)  # fmt: skip
    _apply_plan(plan, {"scorers": [{"type": "escalation"}], **data})
    plan.next_run_at = next_run_at(plan.cadence)
    with transaction.atomic():
        plan.save()
        audit_record(actor=actor, action="eval_plan.create", obj=plan, after=_plan_audit(plan))
    return plan


def plan_update(*, actor: Actor, plan: EvalPlan, data: dict) -> EvalPlan:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(plan)
    before = _plan_audit(plan)
    cadence_before = plan.cadence
    _apply_plan(plan, data)
    if plan.cadence != cadence_before:
        plan.next_run_at = next_run_at(plan.cadence)
    with transaction.atomic():
        # Only the plan's own fields: the counters (runs, cases, versions) belong to
        # other writers and a stale copy must not put them back.
        plan.save(update_fields=[*PLAN_FIELDS, "next_run_at", "updated_at"])
        audit_record(actor=actor, action="eval_plan.update", obj=plan, before=before,
                     after=_plan_audit(plan))  # fmt: skip
    return plan


def plan_archive(*, actor: Actor, plan: EvalPlan, archived: bool = True) -> EvalPlan:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(plan)
    with transaction.atomic():
        plan.archived_at = timezone.now() if archived else None
        plan.save(update_fields=["archived_at", "updated_at"])
        audit_record(actor=actor, action="eval_plan.archive" if archived else "eval_plan.restore",
                     obj=plan)  # fmt: skip
    return plan


def lock_plan(plan: EvalPlan) -> EvalPlan:
    """The plan row, locked until the transaction ends: its counters are ours to bump."""
    return EvalPlan.objects.for_org(plan.organization_id).select_for_update().get(pk=plan.pk)


def next_run_number(plan: EvalPlan) -> int:
    """Hand out the plan's next run number; the plan must be locked (``lock_plan``)."""
    plan.run_seq += 1
    EvalPlan.objects.for_org(plan.organization_id).filter(pk=plan.pk).update(run_seq=plan.run_seq)
    return plan.run_seq


def clean_ci_metadata(ci_metadata: dict | None) -> dict[str, str]:
    """CI facts sent with a run (commit, branch, link), as short strings."""
    return {str(k)[:50]: str(v)[:300] for k, v in (ci_metadata or {}).items()}
