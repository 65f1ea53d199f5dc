"""Human-in-the-loop policies: each save is a new version, never an edit of the last."""

from __future__ import annotations

import hashlib
import json

from django.core.exceptions import ValidationError
from django.db import transaction

from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action
from governance.models import ActionRisk, Autonomy, HitlPolicy, Reversibility
from usecases.models import UseCase

MAX_ACTIONS = 100
LIMITS = {"name": 120, "description": 1000, "reason": 500}


def current_policy(use_case: UseCase) -> HitlPolicy | None:
    return (
        HitlPolicy.objects.for_org(use_case.organization_id)
        .filter(use_case=use_case)
        .order_by("-version")
        .first()
    )


def served_policy(use_case: UseCase) -> tuple[HitlPolicy | None, object | None]:
    """The policy the AI system enforces, with the release that approved it: the version
    pinned by the use case's approved (or released) release; before any approval, the
    newest version (served as not approved yet)."""
    from governance.selectors import approved_release_of

    release = approved_release_of(use_case)
    if release is not None and release.hitl_policy_id is not None:
        return release.hitl_policy, release
    return current_policy(use_case), None


def policy_document(policy: HitlPolicy, release=None) -> dict:
    """What the AI system is served: exactly the approved version."""
    return {
        "use_case": f"UC-{policy.use_case.number}",
        "version": policy.version,
        "approved_in": release.key if release is not None else None,
        "actions": policy.actions,
        "created_at": policy.created_at.isoformat().replace("+00:00", "Z")
        if policy.created_at
        else None,
    }


def _hash(use_case: UseCase, version: int, actions: list[dict]) -> str:
    body = json.dumps(
        {"use_case": use_case.pk, "version": version, "actions": actions},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def etag_of(policy: HitlPolicy) -> str:
    return f'"hitl-{policy.version}-{policy.content_hash[:24]}"'


def clean_actions(raw) -> list[dict]:
    """The policy's actions, checked one by one (errors name the row: "action 2: ...")."""
    if not isinstance(raw, list):
        raise ValidationError({"actions": "Give the actions as a list."})
    if not raw:
        raise ValidationError({"actions": "List at least one action the AI system can take."})
    if len(raw) > MAX_ACTIONS:
        raise ValidationError({"actions": f"At most {MAX_ACTIONS} actions."})
    errors: list[str] = []
    clean: list[dict] = []
    seen: set[str] = set()
    for index, row in enumerate(raw, start=1):
        if not isinstance(row, dict):
            errors.append(f"Action {index}: give its fields.")
            continue
        item = {}
        for field, limit in LIMITS.items():
            value = row.get(field, "")
            if not isinstance(value, str):
                errors.append(f"Action {index}: {field} must be text.")
                value = ""
            value = value.strip()
            if len(value) > limit:
                errors.append(f"Action {index}: {field} is longer than {limit} characters.")
            elif "\x00" in value:
                errors.append(f"Action {index}: {field} contains a NUL character.")
            item[field] = value
        for field, choices in (
            ("reversibility", Reversibility),
            ("risk", ActionRisk),
            ("autonomy", Autonomy),
        ):
            value = row.get(field)
            if value not in choices.values:
                errors.append(f"Action {index}: choose its {field} ({', '.join(choices.values)}).")
            item[field] = value
        if not item["name"]:
            errors.append(f"Action {index}: name the action.")
        elif item["name"].lower() in seen:
            errors.append(f"Action {index}: “{item['name']}” is listed twice.")
        seen.add(item["name"].lower())
        if not item["reason"]:
            label = (
                Autonomy(item["autonomy"]).label.lower()
                if item.get("autonomy") in Autonomy.values
                else "set so"
            )
            errors.append(f"Action {index}: say why it is {label}.")
        if (
            item["autonomy"] == Autonomy.AUTONOMOUS
            and item["reversibility"] == Reversibility.IRREVERSIBLE
            and item["risk"] == ActionRisk.HIGH
        ):
            errors.append(
                f"Action {index}: an irreversible high-risk action cannot be autonomous; "
                "make it need human review, or forbid it."
            )
        clean.append(item)
    if errors:
        raise ValidationError({"actions": errors})
    return clean


def policy_save(*, actor: Actor, use_case: UseCase, actions, note: str = "") -> HitlPolicy:
    """A new version of the use case's policy (refused when nothing changed)."""
    actor.require(Action.EDIT_PRODUCT)
    clean = clean_actions(actions)
    note = (note or "").strip()
    if error := inputs.check_text(HitlPolicy, "note", note):
        raise ValidationError({"note": error})
    with transaction.atomic():
        UseCase.objects.for_org(use_case.organization_id).select_for_update().get(pk=use_case.pk)
        last = current_policy(use_case)
        if last is not None and last.actions == clean:
            raise ValidationError({"actions": f"Nothing changed since version {last.version}."})
        version = (last.version if last else 0) + 1
        policy = HitlPolicy.objects.create(
            organization_id=use_case.organization_id,
            use_case=use_case,
            version=version,
            actions=clean,
            note=note or ("First version" if version == 1 else ""),
            content_hash=_hash(use_case, version, clean),
            created_by=actor.user,
            created_by_label=actor.label[:254],
        )
        audit_record(
            actor=actor,
            action="hitl_policy.saved",
            obj=policy,
            after={
                "use_case": f"UC-{use_case.number}",
                "version": version,
                "actions": [f"{a['name']}: {a['autonomy']}" for a in clean],
            },
        )
    return policy
