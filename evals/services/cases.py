"""Cases of a plan, as immutable revisions: every change opens a case-set version, so a
run pins exactly what it ran. Linked requirements show the case on the PRD (through
evals.verification)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evals import scorers as scoring
from evals.models import (
    CaseOrigin,
    CaseSetVersion,
    EvalCase,
    EvalCaseRequirement,
    EvalPlan,
    cases_at_version,
)
from evals.services.plans import lock_plan
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.inputs import digits_only
from genai_po.roles import Action
from usecases.models import Requirement

MAX_TAGS = 20

CASE_FIELDS = [
    "name", "prompt", "messages", "variables", "expected", "expected_behavior", "context",
    "tags", "scorers", "pass_threshold", "must_escalate", "origin", "origin_ref",
    "requirement_keys",
]  # fmt: skip
_COPIED = [f for f in CASE_FIELDS if f != "requirement_keys"] + ["position"]


def _clean_messages(value) -> list[dict]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationError({"messages": "Messages are a list of {role, content} objects."})
    clean = []
    for i, message in enumerate(value, 1):
        if (
            not isinstance(message, dict)
            or message.get("role") not in ("system", "user", "assistant")
            or not isinstance(message.get("content"), str)
        ):
            raise ValidationError(
                {"messages": f"Message {i} needs a role (system, user or assistant) and text."}
            )
        clean.append({"role": message["role"], "content": message["content"]})
    return clean


def _clean_case(plan: EvalPlan, data: dict) -> tuple[dict, list[Requirement] | None]:
    """Validated case fields, and the linked requirements (None when not given)."""
    clean, errors = {}, {}
    requirements = None
    for field, value in data.items():
        if field not in CASE_FIELDS:
            errors[field] = "Unknown field."
            continue
        try:
            if field in ("name",):
                value = (value or "").strip()
                if len(value) > 200:
                    raise ValidationError({field: "At most 200 characters."})
            elif field in ("prompt", "expected", "expected_behavior", "context", "origin_ref"):
                value = value or ""
                if problem := inputs.check_text(EvalCase, field, value):
                    raise ValidationError({field: problem})
            elif field == "messages":
                value = _clean_messages(value)
            elif field == "variables":
                value = value or {}
                if not isinstance(value, dict) or not all(
                    isinstance(k, str) and isinstance(v, str | int | float | bool)
                    for k, v in value.items()
                ):
                    raise ValidationError({field: "Variables are names with text or numbers."})
            elif field == "tags":
                if isinstance(value, str):
                    value = value.replace(";", ",").split(",")
                value = sorted({str(t).strip().lower()[:40] for t in value or [] if str(t).strip()})
                if len(value) > MAX_TAGS:
                    raise ValidationError({field: f"At most {MAX_TAGS} tags."})
            elif field == "scorers":
                try:
                    value = scoring.validate_specs(value or [])
                except scoring.ScorerSpecError as exc:
                    raise ValidationError({field: str(exc)}) from exc
            elif field == "pass_threshold":
                if value in (None, ""):
                    value = None
                else:
                    value = float(value)
                    if not 0 <= value <= 1:
                        raise ValidationError({field: "A weighted threshold is between 0 and 1."})
            elif field == "must_escalate":
                value = bool(value)
            elif field == "origin" and value not in CaseOrigin.values:
                raise ValidationError({field: "Unknown origin."})
            elif field == "requirement_keys":
                requirements = _requirements_by_key(plan, value or [])
                continue
            clean[field] = value
        except ValidationError as exc:
            errors.update(exc.message_dict)
    for field, value in clean.items():
        try:
            inputs.check_value(value)
        except inputs.InputRefused as exc:
            errors[field] = str(exc)
    if errors:
        raise ValidationError(errors)
    return clean, requirements


def _requirements_by_key(plan: EvalPlan, keys: Iterable[str]) -> list[Requirement]:
    numbers, bad = set(), []
    for key in keys:
        key = str(key).strip().upper()
        if key.startswith("REQ-") and digits_only(key[4:]):
            number = inputs.id_or_none(key[4:])
            if number is None or number > 2_147_483_647:
                bad.append(key[:40])
            else:
                numbers.add(number)
        elif key:
            bad.append(key)
    found = {
        r.number: r
        for r in Requirement.objects.for_org(plan.organization_id).filter(
            use_case_id=plan.use_case_id, number__in=numbers
        )
    }
    missing = sorted(f"REQ-{n}" for n in numbers - set(found)) + bad
    if missing:
        raise ValidationError(
            {"requirement_keys": f"Not a requirement of this use case: {', '.join(missing)}"}
        )
    return [found[n] for n in sorted(found)]


def _has_input(fields: dict) -> bool:
    return bool((fields.get("prompt") or "").strip() or fields.get("messages"))


def _new_version(plan: EvalPlan, actor: Actor, summary: str) -> int:
    """Open the next case-set version (the plan row is locked by the caller)."""
    plan.case_version += 1
    EvalPlan.objects.for_org(plan.organization_id).filter(pk=plan.pk).update(
        case_version=plan.case_version, case_seq=plan.case_seq, updated_at=timezone.now()
    )
    CaseSetVersion.objects.create(
        organization_id=plan.organization_id, plan=plan, number=plan.case_version,
        summary=summary[:300], author=actor.user, author_label=actor.label,
    )  # fmt: skip
    return plan.case_version


def _close_version(plan: EvalPlan) -> None:
    count = current_cases(plan).count()
    CaseSetVersion.objects.for_org(plan.organization_id).filter(
        plan=plan, number=plan.case_version
    ).update(case_count=count)


def current_cases(plan: EvalPlan):
    return EvalCase.objects.for_org(plan.organization_id).filter(
        cases_at_version(plan.case_version), plan=plan
    )


def _insert_case(plan: EvalPlan, actor: Actor, version: int, number: int, fields: dict,
                 requirements: list[Requirement]) -> EvalCase:  # fmt: skip
    case = EvalCase.objects.create(
        organization_id=plan.organization_id, plan=plan, number=number, version_added=version,
        created_by=actor.user, **fields,
    )  # fmt: skip
    # A new revision row: its links are all new.
    EvalCaseRequirement.objects.bulk_create(
        EvalCaseRequirement(
            organization_id=case.organization_id, case=case, requirement_id=requirement.pk
        )
        for requirement in requirements
    )
    return case


def case_add(*, actor: Actor, plan: EvalPlan, data: dict) -> EvalCase:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(plan)
    fields, requirements = _clean_case(plan, data)
    if not _has_input(fields):
        raise ValidationError({"prompt": "Give the input: a prompt or chat messages."})
    with transaction.atomic():
        plan = lock_plan(plan)
        plan.case_seq += 1
        number = plan.case_seq
        version = _new_version(plan, actor, f"Added CASE-{number}")
        fields.setdefault("position", number)
        case = _insert_case(plan, actor, version, number, fields, requirements or [])
        _close_version(plan)
        audit_record(actor=actor, action="eval_case.create", obj=case,
                     after={"key": case.key, "version": version, **_case_audit(case)})  # fmt: skip
    return case


def _case_audit(case: EvalCase) -> dict:
    return {
        "name": case.name,
        "prompt": case.prompt[:500],
        "tags": case.tags,
        "must_escalate": case.must_escalate,
        "scorers": [s.get("type") for s in case.scorers],
        "requirements": sorted(f"REQ-{r.number}" for r in case.requirements.all()),
    }


def _current_row(plan: EvalPlan, case: EvalCase) -> EvalCase:
    if case.version_removed is not None:
        raise ValidationError("This is an old revision of the case; open the current one.")
    return case


def case_update(*, actor: Actor, case: EvalCase, data: dict) -> EvalCase:
    """Copy-on-write: the old row closes at the new version, a new row opens with the change."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(case)
    plan = case.plan
    _current_row(plan, case)
    fields, requirements = _clean_case(plan, data)
    merged = {f: getattr(case, f) for f in _COPIED}
    merged.update(fields)
    if not _has_input(merged):
        raise ValidationError({"prompt": "Give the input: a prompt or chat messages."})
    if requirements is None:
        requirements = list(case.requirements.all())
    before = _case_audit(case)
    with transaction.atomic():
        plan = lock_plan(plan)
        fresh = EvalCase.objects.for_org(plan.organization_id).select_for_update().get(pk=case.pk)
        if fresh.version_removed is not None:
            raise ValidationError("Someone changed this case meanwhile; reload and try again.")
        version = _new_version(plan, actor, f"Edited {case.key}")
        EvalCase.objects.for_org(plan.organization_id).filter(pk=case.pk).update(
            version_removed=version
        )
        new = _insert_case(plan, actor, version, case.number, merged, requirements)
        _close_version(plan)
        audit_record(actor=actor, action="eval_case.update", obj=new, before=before,
                     after={"version": version, **_case_audit(new)})  # fmt: skip
    return new


def case_remove(*, actor: Actor, case: EvalCase) -> None:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(case)
    plan = case.plan
    _current_row(plan, case)
    with transaction.atomic():
        plan = lock_plan(plan)
        version = _new_version(plan, actor, f"Removed {case.key}")
        EvalCase.objects.for_org(plan.organization_id).filter(pk=case.pk).update(
            version_removed=version
        )
        _close_version(plan)
        audit_record(actor=actor, action="eval_case.delete", obj=case,
                     before=_case_audit(case), after={"version": version})  # fmt: skip


def cases_import(*, actor: Actor, plan: EvalPlan, drafts: list, source: str) -> int:
    """Add many cases in one new version. Validates every draft first: all or nothing.

    Raises ValidationError with messages like "line 7: Not a requirement of this use case".
    """
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(plan)
    problems, prepared = [], []
    for draft in drafts:
        data = {
            "name": draft.name, "prompt": draft.prompt, "messages": draft.messages,
            "variables": draft.variables, "expected": draft.expected,
            "expected_behavior": draft.expected_behavior, "context": draft.context,
            "tags": draft.tags, "scorers": draft.scorers, "pass_threshold": draft.pass_threshold,
            "must_escalate": draft.must_escalate, "origin": CaseOrigin.IMPORT,
            "origin_ref": source[:200], "requirement_keys": draft.requirement_keys,
        }  # fmt: skip
        try:
            fields, requirements = _clean_case(plan, data)
            if not _has_input(fields):
                raise ValidationError({"prompt": "Give the input: a prompt or chat messages."})
        except ValidationError as exc:
            for message in _flat_messages(exc):
                problems.append(f"line {draft.line}: {message}")
            continue
        prepared.append((fields, requirements or []))
    if problems:
        raise ValidationError(problems[:50])
    if not prepared:
        raise ValidationError("The file has no cases.")
    with transaction.atomic():
        plan = lock_plan(plan)
        first = plan.case_seq + 1
        plan.case_seq += len(prepared)
        version = _new_version(plan, actor, f"Imported {len(prepared)} cases from {source}")
        rows = [
            EvalCase(
                organization_id=plan.organization_id,
                plan=plan,
                number=first + i,
                version_added=version,
                created_by=actor.user,
                position=first + i,
                **fields,
            )  # fmt: skip
            for i, (fields, _) in enumerate(prepared)
        ]
        EvalCase.objects.bulk_create(rows, batch_size=500)
        # New case rows: no link exists yet, so every link is a plain insert.
        EvalCaseRequirement.objects.bulk_create(
            (
                EvalCaseRequirement(
                    organization_id=plan.organization_id,
                    case_id=row.pk,
                    requirement_id=requirement.pk,
                )  # fmt: skip
                for row, (_, requirements) in zip(rows, prepared, strict=True)
                for requirement in requirements
            ),
            batch_size=1000,
        )
        _close_version(plan)
        last = first + len(rows) - 1
        audit_record(actor=actor, action="eval_case.import", obj=plan,
                     after={"source": source[:200], "count": len(rows), "version": version,
                            "first": f"CASE-{first}", "last": f"CASE-{last}"})  # fmt: skip
    return len(prepared)


def _flat_messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            f"{field}: {message}" if field != "__all__" else message
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return list(exc.messages)
