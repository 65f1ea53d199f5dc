"""Writes of the evals area. Each checks the actor, validates, writes in one transaction
and audits. Secrets never reach the audit trail: targets record which secrets are set,
never their values."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evals import scorers as scoring
from evals.models import (
    ACTIVE_RUN_STATUSES,
    Cadence,
    CaseOrigin,
    CaseSetVersion,
    ChunkStatus,
    EgressSettings,
    EvalCase,
    EvalPlan,
    EvalResult,
    EvalRun,
    ResultStatus,
    RunChunk,
    RunStatus,
    RunTrigger,
    Target,
    TargetKind,
    Triage,
    TriageCategory,
    cases_at_version,
)
from evals.netguard import EgressPolicy
from evals.signals import context_gap_triaged
from evals.targets import TargetConfigError, parse_body_template, parse_headers
from evals.targets import parse_response_path as _parse_path
from genai_po.actors import Actor
from genai_po.fields import Secret
from genai_po.roles import Action
from governance.audit import audit_record
from usecases.models import Requirement, RequirementVerification, UseCase, VerificationKind

CHUNK_ITEMS = 50  # (case, repetition) items per leased chunk
CASE_TARGET_TYPE = "evals.evalcase"
MAX_TAGS = 20
MAX_TEXT = 100_000


# --------------------------------------------------------------------------- egress


def egress_settings_of(organization) -> EgressSettings:
    settings_row = EgressSettings.objects.for_org(organization).first()
    return settings_row or EgressSettings(organization_id=getattr(organization, "pk", organization))


def egress_policy_for(organization) -> EgressPolicy:
    row = egress_settings_of(organization)
    return EgressPolicy(
        allow_private=row.allow_private,
        allow_loopback=row.allow_loopback,
        allowed_networks=tuple(row.allowed_networks or ()),
    )


def _clean_networks(values: Iterable[str]) -> list[str]:
    clean, bad = [], []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            clean.append(str(ipaddress.ip_network(value, strict=True)))
        except ValueError:
            bad.append(value)
    if bad:
        raise ValidationError(
            {"allowed_networks": f"Not a CIDR network (e.g. 10.20.0.0/16): {', '.join(bad)}"}
        )
    return sorted(set(clean))


def egress_update(
    *, actor: Actor, allow_loopback: bool, allow_private: bool, allowed_networks: Iterable[str]
) -> EgressSettings:
    """Org admins choose which non-public addresses targets may reach."""
    actor.require(Action.MANAGE_ORG)
    networks = _clean_networks(allowed_networks)
    with transaction.atomic():
        row, _ = EgressSettings.objects.for_org(actor.organization).get_or_create(
            organization=actor.organization
        )
        before = {
            "allow_loopback": row.allow_loopback,
            "allow_private": row.allow_private,
            "allowed_networks": row.allowed_networks,
        }
        row.allow_loopback, row.allow_private = bool(allow_loopback), bool(allow_private)
        row.allowed_networks = networks
        row.save()
        after = {
            "allow_loopback": row.allow_loopback,
            "allow_private": row.allow_private,
            "allowed_networks": networks,
        }
        audit_record(actor=actor, action="egress.update", obj=row, before=before, after=after)
    return row


# --------------------------------------------------------------------------- targets

TARGET_FIELDS = [
    "name", "kind", "url", "model", "api_key", "system_prompt", "temperature", "max_tokens",
    "method", "body_template", "response_path", "headers", "timeout_s", "concurrency",
    "rate_limit_per_s", "max_attempts", "cost_per_1k_input", "cost_per_1k_output",
]  # fmt: skip
SECRET_FIELDS = ("api_key", "headers")


def _target_audit(target: Target) -> dict:
    """What the audit trail keeps of a target: never a secret, only whether one is set."""
    data = {
        f: getattr(target, f)
        for f in TARGET_FIELDS
        if f not in SECRET_FIELDS and f not in ("system_prompt", "body_template")
    }
    data["api_key_set"] = bool(target.api_key)
    data["header_names"] = list(target.header_names or [])
    data["system_prompt_chars"] = len(target.system_prompt or "")
    for key in ("cost_per_1k_input", "cost_per_1k_output"):
        data[key] = str(data[key]) if data[key] is not None else None
    return data


def _validate_target(target: Target) -> None:
    errors: dict[str, str] = {}
    if target.kind not in TargetKind.values:
        errors["kind"] = "Choose a kind of target."
    if target.kind == TargetKind.OPENAI_CHAT and not target.model.strip():
        errors["model"] = "Name the model the endpoint should use."
    if target.kind == TargetKind.HTTP_JSON:
        try:
            parse_body_template(target.body_template)
        except TargetConfigError as exc:
            errors["body_template"] = str(exc)
        try:
            _parse_path(target.response_path)
        except TargetConfigError as exc:
            errors["response_path"] = str(exc)
    if target.url and not target.url.lower().startswith(("http://", "https://")):
        errors["url"] = "Use an http:// or https:// URL."
    try:
        headers = parse_headers(target.headers.reveal() if target.headers else "")
        target.header_names = sorted(headers)
    except TargetConfigError as exc:
        errors["headers"] = str(exc)
    if errors:
        raise ValidationError(errors)
    try:
        target.full_clean(exclude=["organization", "api_key", "headers", "created_by"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    clash = Target.objects.for_org(target.organization_id).filter(name=target.name)
    if target.pk:
        clash = clash.exclude(pk=target.pk)
    if clash.exists():
        raise ValidationError({"name": "Another target has this name."})


def _apply_target(target: Target, data: dict) -> None:
    for field, value in data.items():
        if field not in TARGET_FIELDS:
            raise ValidationError({field: "Unknown field."})
        if field in SECRET_FIELDS:
            # None means "keep the stored secret"; "" clears it.
            if value is None:
                continue
            value = value if isinstance(value, Secret) else Secret(value)
        setattr(target, field, value)


def target_create(*, actor: Actor, data: dict) -> Target:
    actor.require(Action.RUN_EVALS)
    target = Target(organization=actor.organization, created_by=actor.user)
    _apply_target(target, data)
    _validate_target(target)
    with transaction.atomic():
        target.save()
        audit_record(actor=actor, action="target.create", obj=target, after=_target_audit(target))
    return target


def target_update(*, actor: Actor, target: Target, data: dict) -> Target:
    actor.require(Action.RUN_EVALS)
    actor.require_same_org(target)
    before = _target_audit(target)
    _apply_target(target, data)
    _validate_target(target)
    with transaction.atomic():
        target.save()
        audit_record(
            actor=actor, action="target.update", obj=target, before=before,
            after=_target_audit(target),
        )  # fmt: skip
    return target


def target_archive(*, actor: Actor, target: Target, archived: bool = True) -> Target:
    actor.require(Action.RUN_EVALS)
    actor.require_same_org(target)
    with transaction.atomic():
        target.archived_at = timezone.now() if archived else None
        target.save(update_fields=["archived_at", "updated_at"])
        audit_record(
            actor=actor, action="target.archive" if archived else "target.restore", obj=target
        )
    return target


def target_record_check(*, actor: Actor, target: Target, ok: bool, message: str) -> Target:
    """Keep the last "test connection" answer on the target (audited, without secrets)."""
    actor.require(Action.RUN_EVALS)
    actor.require_same_org(target)
    with transaction.atomic():
        target.last_checked_at = timezone.now()
        target.last_check_ok = ok
        target.last_check_message = message[:500]
        target.save(update_fields=["last_checked_at", "last_check_ok", "last_check_message"])
        audit_record(
            actor=actor, action="target.test_connection", obj=target,
            after={"ok": ok, "message": target.last_check_message},
        )  # fmt: skip
    return target


# --------------------------------------------------------------------------- plans

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
    if errors:
        raise ValidationError(errors)
    return clean


def _plan_audit(plan: EvalPlan) -> dict:
    data = {f: getattr(plan, f) for f in PLAN_FIELDS if f not in ("target", "judge_target")}
    data["target"] = plan.target_id
    data["judge_target"] = plan.judge_target_id
    data["pass_threshold"] = str(plan.pass_threshold)
    return data


def _next_run_at(cadence: str, now=None):
    now = now or timezone.now()
    if cadence == Cadence.DAILY:
        return now + timedelta(days=1)
    if cadence == Cadence.WEEKLY:
        return now + timedelta(days=7)
    return None


def plan_create(*, actor: Actor, use_case: UseCase, data: dict) -> EvalPlan:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    plan = EvalPlan(organization_id=use_case.organization_id, use_case=use_case,
                    created_by=actor.user)  # fmt: skip
    data = {"scorers": [{"type": "escalation"}], **data}
    for field, value in _clean_plan(plan, data).items():
        setattr(plan, field, value)
    try:
        plan.full_clean(exclude=["organization", "use_case", "created_by", "target",
                                 "judge_target"])  # fmt: skip
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    plan.next_run_at = _next_run_at(plan.cadence)
    with transaction.atomic():
        plan.save()
        audit_record(actor=actor, action="eval_plan.create", obj=plan, after=_plan_audit(plan))
    return plan


def plan_update(*, actor: Actor, plan: EvalPlan, data: dict) -> EvalPlan:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(plan)
    before = _plan_audit(plan)
    cadence_before = plan.cadence
    for field, value in _clean_plan(plan, data).items():
        setattr(plan, field, value)
    try:
        plan.full_clean(exclude=["organization", "use_case", "created_by", "target",
                                 "judge_target"])  # fmt: skip
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    if plan.cadence != cadence_before:
        plan.next_run_at = _next_run_at(plan.cadence)
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


# --------------------------------------------------------------------------- cases

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
                if len(value) > MAX_TEXT:
                    raise ValidationError({field: f"At most {MAX_TEXT:,} characters."})
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
    if errors:
        raise ValidationError(errors)
    return clean, requirements


def _requirements_by_key(plan: EvalPlan, keys: Iterable[str]) -> list[Requirement]:
    numbers, bad = set(), []
    for key in keys:
        key = str(key).strip().upper()
        if key.startswith("REQ-") and key[4:].isdigit():
            numbers.add(int(key[4:]))
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


def _lock_plan(plan: EvalPlan) -> EvalPlan:
    return EvalPlan.objects.for_org(plan.organization_id).select_for_update().get(pk=plan.pk)


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


def _sync_verifications(plan: EvalPlan, number: int, requirements: list[Requirement] | None,
                        name: str) -> None:  # fmt: skip
    """Keep one RequirementVerification per (requirement, live case) so the PRD shows it."""
    target_id = f"{plan.pk}:{number}"
    existing = RequirementVerification.objects.for_org(plan.organization_id).filter(
        target_type=CASE_TARGET_TYPE, target_id=target_id
    )
    wanted = {r.pk for r in requirements or []}
    existing.exclude(requirement_id__in=wanted).delete()
    have = set(existing.values_list("requirement_id", flat=True))
    existing.filter(requirement_id__in=wanted).update(name=name[:200])
    RequirementVerification.objects.bulk_create(
        RequirementVerification(
            organization_id=plan.organization_id,
            requirement_id=req_id,
            kind=VerificationKind.EVAL_CASE,
            name=name[:200],
            target_type=CASE_TARGET_TYPE,
            target_id=target_id,
        )  # fmt: skip
        for req_id in sorted(wanted - have)
    )


def _case_label(plan: EvalPlan, number: int, fields: dict) -> str:
    title = fields.get("name") or (fields.get("prompt") or "")[:80] or "chat case"
    return f"{plan.name} · CASE-{number}: {title}"


def _insert_case(plan: EvalPlan, actor: Actor, version: int, number: int, fields: dict,
                 requirements: list[Requirement]) -> EvalCase:  # fmt: skip
    case = EvalCase.objects.create(
        organization_id=plan.organization_id, plan=plan, number=number, version_added=version,
        created_by=actor.user, **fields,
    )  # fmt: skip
    if requirements:
        case.requirements.set(requirements)
    return case


def case_add(*, actor: Actor, plan: EvalPlan, data: dict) -> EvalCase:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(plan)
    fields, requirements = _clean_case(plan, data)
    if not _has_input(fields):
        raise ValidationError({"prompt": "Give the input: a prompt or chat messages."})
    with transaction.atomic():
        plan = _lock_plan(plan)
        plan.case_seq += 1
        number = plan.case_seq
        version = _new_version(plan, actor, f"Added CASE-{number}")
        fields.setdefault("position", number)
        case = _insert_case(plan, actor, version, number, fields, requirements or [])
        _sync_verifications(plan, number, requirements or [], _case_label(plan, number, fields))
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
        plan = _lock_plan(plan)
        fresh = EvalCase.objects.for_org(plan.organization_id).select_for_update().get(pk=case.pk)
        if fresh.version_removed is not None:
            raise ValidationError("Someone changed this case meanwhile; reload and try again.")
        version = _new_version(plan, actor, f"Edited {case.key}")
        EvalCase.objects.for_org(plan.organization_id).filter(pk=case.pk).update(
            version_removed=version
        )
        new = _insert_case(plan, actor, version, case.number, merged, requirements)
        _sync_verifications(plan, case.number, requirements, _case_label(plan, case.number, merged))
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
        plan = _lock_plan(plan)
        version = _new_version(plan, actor, f"Removed {case.key}")
        EvalCase.objects.for_org(plan.organization_id).filter(pk=case.pk).update(
            version_removed=version
        )
        _sync_verifications(plan, case.number, [], "")
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
        plan = _lock_plan(plan)
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
        links = []
        through = EvalCase.requirements.through
        for row, (fields, requirements) in zip(rows, prepared, strict=True):
            links.extend(through(evalcase_id=row.pk, requirement_id=r.pk) for r in requirements)
            if requirements:
                _sync_verifications(plan, row.number, requirements,
                                    _case_label(plan, row.number, fields))  # fmt: skip
        through.objects.bulk_create(links, batch_size=1000)
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


# --------------------------------------------------------------------------- runs


class RunRefused(ValidationError):
    """A run that cannot start, with the reason."""


def _run_config(plan: EvalPlan) -> dict:
    return {
        "pass_threshold": float(plan.pass_threshold) / 100,
        "requirement_thresholds": {k: v / 100 for k, v in plan.requirement_thresholds.items()},
        "tag_thresholds": {k: v / 100 for k, v in plan.tag_thresholds.items()},
        "scorers": plan.scorers,
        "forbidden_phrases": plan.forbidden_phrases,
        "approved_sources": plan.approved_sources,
        "judge_target_id": plan.judge_target_id,
    }


def _uses_judge(plan: EvalPlan) -> bool:
    if any(s.get("type") == "llm_judge" for s in plan.scorers):
        return True
    for specs in current_cases(plan).values_list("scorers", flat=True).iterator():
        if any(s.get("type") == "llm_judge" for s in specs or []):
            return True
    return False


def run_start(*, actor: Actor, plan: EvalPlan, trigger: str = RunTrigger.BROWSER, label: str = "",
              ci_metadata: dict | None = None) -> EvalRun:  # fmt: skip
    """Queue a run of the plan's current case set; the worker is told after commit."""
    from evals import tasks  # the task module imports the engine, which imports this one

    actor.require(Action.RUN_EVALS)
    actor.require_same_org(plan)
    if plan.archived_at:
        raise RunRefused("This plan is archived; restore it to run it.")
    if plan.target is None:
        raise RunRefused("Choose a target for this plan before running it.")
    if plan.target.archived_at:
        raise RunRefused(f"The target {plan.target.name} is archived; choose another.")
    if _uses_judge(plan) and plan.judge_target is None:
        raise RunRefused("Some scorers are LLM-as-judge: choose a judge target on the plan.")
    label = (label or "").strip()[:200]
    ci_metadata = {str(k)[:50]: str(v)[:300] for k, v in (ci_metadata or {}).items()}
    with transaction.atomic():
        plan = _lock_plan(plan)
        case_ids = current_cases(plan).order_by("position", "number").values_list("pk", flat=True)
        per_chunk = max(1, CHUNK_ITEMS // plan.repetitions)
        plan.run_seq += 1
        EvalPlan.objects.for_org(plan.organization_id).filter(pk=plan.pk).update(
            run_seq=plan.run_seq
        )
        now = timezone.now()
        run = EvalRun.objects.create(
            organization_id=plan.organization_id, plan=plan, number=plan.run_seq,
            trigger=trigger, case_version=plan.case_version, target=plan.target,
            target_label=f"{plan.target.name} ({plan.target.get_kind_display()})",
            repetitions=plan.repetitions, config=_run_config(plan), label=label,
            ci_metadata=ci_metadata, created_by=actor.user, created_by_label=actor.label,
        )  # fmt: skip
        chunks, batch, count = [], [], 0
        for case_id in case_ids.iterator(chunk_size=2000):
            batch.append(case_id)
            count += 1
            if len(batch) == per_chunk:
                chunks.append(batch)
                batch = []
        if batch:
            chunks.append(batch)
        if count == 0:
            raise RunRefused("This plan has no cases yet: add or import some first.")
        RunChunk.objects.bulk_create(
            (
                RunChunk(
                    organization_id=plan.organization_id,
                    run=run,
                    index=i,
                    case_ids=ids,
                    enqueued_at=now,
                )  # fmt: skip
                for i, ids in enumerate(chunks)
            ),
            batch_size=1000,
        )
        run.total_items = count * plan.repetitions
        run.save(update_fields=["total_items"])
        audit_record(actor=actor, action="eval_run.start", obj=run,
                     after={"plan": plan.pk, "number": run.number, "trigger": trigger,
                            "case_version": run.case_version, "items": run.total_items,
                            "label": label})  # fmt: skip
        transaction.on_commit(lambda: tasks.drive_run.delay(run.pk))
    return run


def run_cancel(*, actor: Actor, run: EvalRun) -> EvalRun:
    from evals import summary

    actor.require(Action.RUN_EVALS)
    actor.require_same_org(run)
    with transaction.atomic():
        updated = (
            EvalRun.objects.for_org(run.organization_id)
            .filter(pk=run.pk, status__in=ACTIVE_RUN_STATUSES)
            .update(status=RunStatus.CANCELLED, finished_at=timezone.now())
        )
        if not updated:
            raise RunRefused(f"Run #{run.number} has already finished; nothing to cancel.")
        RunChunk.objects.for_org(run.organization_id).filter(
            run=run, status__in=[ChunkStatus.PENDING, ChunkStatus.LEASED]
        ).update(status=ChunkStatus.DEAD, last_error="run cancelled")
        run.refresh_from_db()
        summary.store(run)
        audit_record(actor=actor, action="eval_run.cancel", obj=run)
    return run


def run_mark_baseline(*, actor: Actor, run: EvalRun) -> EvalRun:
    actor.require(Action.RUN_EVALS)
    actor.require_same_org(run)
    if run.status != RunStatus.COMPLETED:
        raise RunRefused("Only a completed run can be the baseline.")
    with transaction.atomic():
        previous = list(
            EvalRun.objects.for_org(run.organization_id)
            .filter(plan_id=run.plan_id, is_baseline=True)
            .exclude(pk=run.pk)
            .values_list("number", flat=True)
        )
        EvalRun.objects.for_org(run.organization_id).filter(plan_id=run.plan_id).exclude(
            pk=run.pk
        ).update(is_baseline=False)
        EvalRun.objects.for_org(run.organization_id).filter(pk=run.pk).update(is_baseline=True)
        run.is_baseline = True
        audit_record(actor=actor, action="eval_run.baseline", obj=run,
                     before={"baseline": previous}, after={"baseline": [run.number]})  # fmt: skip
    return run


def triage_set(*, actor: Actor, run: EvalRun, case: EvalCase, category: str, note: str) -> Triage:
    """Record why a case failed. Triaging as a context gap sends `context_gap_triaged`."""
    actor.require(Action.RUN_EVALS)
    actor.require_same_org(run, case)
    if category not in TriageCategory.values:
        raise ValidationError({"category": "Choose what went wrong."})
    note = (note or "").strip()
    if len(note) > 5000:
        raise ValidationError({"note": "At most 5,000 characters."})
    failed = (
        EvalResult.objects.for_org(run.organization_id)
        .filter(run=run, case=case)
        .exclude(status=ResultStatus.PASS)
        .exists()
    )
    if not failed:
        raise ValidationError("Only a case that failed in this run can be triaged.")
    with transaction.atomic():
        triage = Triage.objects.for_org(run.organization_id).filter(run=run, case=case).first()
        before = {"category": triage.category, "note": triage.note} if triage else None
        if triage is None:
            triage = Triage(organization_id=run.organization_id, run=run, case=case)
        triage.category, triage.note = category, note
        triage.author, triage.author_label = actor.user, actor.label
        triage.save()
        audit_record(actor=actor, action="eval_triage.set", obj=triage, before=before,
                     after={"run": run.number, "case": case.key, "category": category,
                            "note": note[:500]})  # fmt: skip
        if category == TriageCategory.CONTEXT_GAP:
            transaction.on_commit(
                lambda: context_gap_triaged.send(sender=Triage, triage=triage, actor=actor)
            )
    return triage


def start_due_plans(now=None) -> int:
    """Start a scheduled run for every plan whose cadence says it is due (beat, each minute)."""
    now = now or timezone.now()
    due = (
        EvalPlan.objects.across_orgs()
        .filter(archived_at__isnull=True, next_run_at__lte=now)
        .exclude(cadence=Cadence.NONE)
        .select_related("target", "organization")
    )
    started = 0
    for plan in due.iterator():
        claimed = (
            EvalPlan.objects.for_org(plan.organization_id)
            .filter(pk=plan.pk, next_run_at=plan.next_run_at)
            .update(next_run_at=_next_run_at(plan.cadence, now))
        )
        if not claimed:
            continue  # another beat tick took it
        busy = (
            EvalRun.objects.for_org(plan.organization_id)
            .filter(plan=plan, status__in=ACTIVE_RUN_STATUSES, trigger=RunTrigger.SCHEDULE)
            .exists()
        )
        if busy:
            continue
        actor = Actor.system(organization=plan.organization, label="schedule")
        try:
            run_start(actor=actor, plan=plan, trigger=RunTrigger.SCHEDULE, label="scheduled")
            started += 1
        except ValidationError as exc:
            audit_record(actor=actor, action="eval_run.schedule_skipped", obj=plan,
                         after={"reason": "; ".join(exc.messages)})  # fmt: skip
    return started


# --------------------------------------------------------------------------- external results

EXTERNAL_MAX_BYTES = 20 * 1024 * 1024
EXTERNAL_MAX_LINES = 100_000
_EXTERNAL_KEYS = {
    "case", "output", "passed", "score", "latency_ms", "repetition", "error", "tokens_in",
    "tokens_out", "assertions",
}  # fmt: skip


def _external_rows(plan: EvalPlan, data: bytes) -> tuple[list[dict], list[str]]:
    """Parse uploaded JSONL results; (rows, problems) with line numbers."""
    import json

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
            obj = json.loads(line)
        except ValueError as exc:
            problems.append(f"line {line_no}: not valid JSON ({exc.msg}).")
            continue
        if not isinstance(obj, dict):
            problems.append(f"line {line_no}: each line must be a JSON object.")
            continue
        unknown = sorted(set(obj) - _EXTERNAL_KEYS)
        if unknown:
            problems.append(f"line {line_no}: unknown keys {', '.join(unknown)}.")
            continue
        ref = str(obj.get("case", "")).strip().upper().removeprefix("CASE-")
        if not ref.isdigit() or int(ref) not in cases:
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
        plan = _lock_plan(plan)
        plan.run_seq += 1
        EvalPlan.objects.for_org(plan.organization_id).filter(pk=plan.pk).update(
            run_seq=plan.run_seq
        )
        now = timezone.now()
        run = EvalRun.objects.create(
            organization_id=plan.organization_id, plan=plan, number=plan.run_seq,
            trigger=RunTrigger.EXTERNAL, case_version=plan.case_version, status=RunStatus.RUNNING,
            target_label="uploaded results", repetitions=max(r["repetition"] for r in rows) + 1,
            config=_run_config(plan), label=(label or "").strip()[:200],
            ci_metadata={str(k)[:50]: str(v)[:300] for k, v in (ci_metadata or {}).items()},
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
    return run
