"""Targets: the AI systems under test. Secrets never reach the audit trail: it records
which secrets are set, never their values."""

from __future__ import annotations

import dataclasses

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evals.models import (
    Target,
    TargetKind,
)
from evals.targets import (
    TargetConfig,
    TargetConfigError,
    check_connection,
    parse_body_template,
    parse_headers,
)
from evals.targets import parse_response_path as _parse_path
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.fields import Secret
from genai_po.roles import Action
from genai_po.secrets import SecretUnreadable

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
    errors.update(inputs.text_errors(Target, {
        f: getattr(target, f) for f in ("name", "url", "model", "system_prompt", "body_template",
                                        "response_path")
    }))  # fmt: skip
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


# "Test connection" waits for the answer inside the request: never longer than this.
CHECK_TIMEOUT_S = 30.0
UNREADABLE = (
    "Connection not tried: the stored API key or headers cannot be decrypted (the "
    "encryption key was changed or removed). Enter them again, save, then test."
)


def target_connection_check(*, actor: Actor, target: Target) -> Target:
    """One guarded call to the target with its saved settings, kept as its last check.

    The one path of the browser and the API: the sentence is redacted of every form of
    the target's secrets before it is stored, audited or answered.
    """
    actor.require(Action.RUN_EVALS)
    actor.require_same_org(target)
    from evals.services.egress import egress_policy_for

    try:
        cfg = TargetConfig.from_target(target)
    except SecretUnreadable:
        ok, message = False, UNREADABLE
    except TargetConfigError as exc:
        ok, message = False, f"Connection not tried: {exc}"
    else:
        cfg = dataclasses.replace(cfg, timeout_s=min(cfg.timeout_s, CHECK_TIMEOUT_S))
        result = check_connection(cfg, egress_policy_for(target.organization_id))
        ok, message = result.ok, cfg.redact(result.message)
    return target_record_check(actor=actor, target=target, ok=ok, message=message)


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
