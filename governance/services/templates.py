"""Checklist templates of the organization: its own manual items (category, text, the
reviewer role that looks at each) and reviewer roles, always with every automatic item.
A release copies its template's items when it is made: editing a template never changes a
release already made."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action
from governance.models import ChecklistTemplate, GovernanceSettings, ItemKind, ReviewerRole
from governance.services.common import settings_of
from governance.templates import automatic_items

MAX_MANUAL_ITEMS = 40
KEY_LENGTH = 40  # a checklist item's key is in its URL


def _clean_items(rows) -> list[dict]:
    """The manual rows, numbered in errors ("item 3: ..."), each with a stable key."""
    if not isinstance(rows, list):
        raise ValidationError({"items": "Give the items as a list."})
    if len(rows) > MAX_MANUAL_ITEMS:
        raise ValidationError({"items": f"At most {MAX_MANUAL_ITEMS} manual items."})
    reserved = {row["key"] for row in automatic_items()}
    errors, items, keys = [], [], set()
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            errors.append(f"Item {number}: not an item.")
            continue
        text = " ".join(str(row.get("text") or "").split())
        category = " ".join(str(row.get("category") or "").split())
        role = str(row.get("reviewer_role") or "")
        for value in (text, category, role):
            try:
                inputs.check_value(value)
            except inputs.InputRefused as exc:
                errors.append(f"Item {number}: {exc}")
        if not text:
            errors.append(f"Item {number}: say what must be true before release.")
        elif len(text) > 500:
            errors.append(f"Item {number}: at most 500 characters.")
        if len(category) > 60:
            errors.append(f"Item {number}: a category of at most 60 characters.")
        if role and role not in ReviewerRole.values:
            errors.append(f"Item {number}: choose a reviewer role from the list.")
        key = slugify(str(row.get("key") or "")).replace("-", "_")[:KEY_LENGTH]
        if not key:
            key = slugify(text).replace("-", "_")[:KEY_LENGTH].strip("_") or f"item_{number}"
        base, n = key, 2
        while key in keys or key in reserved:
            suffix = f"_{n}"
            key, n = base[: KEY_LENGTH - len(suffix)] + suffix, n + 1
        keys.add(key)
        items.append({
            "key": key, "category": category or "Readiness", "text": text,
            "kind": ItemKind.MANUAL, "check_key": "", "reviewer_role": role,
        })  # fmt: skip
    if not items and not errors:
        errors.append("List at least one manual item: what a person attests before release.")
    if errors:
        raise ValidationError({"items": errors})
    return items


def _snapshot(template: ChecklistTemplate) -> dict:
    return {
        "name": template.name,
        "items": template.items,
        "reviewer_roles": template.reviewer_roles,
        "is_default": template.is_default,
    }


def template_save(
    *,
    actor: Actor,
    organization,
    template: ChecklistTemplate | None,
    name: str,
    reviewer_roles,
    items,
    is_default: bool = False,
) -> ChecklistTemplate:
    """Create (template None) or change a template; the automatic items are always in it.
    One template is the default of new releases."""
    actor.require(Action.MANAGE_ORG)
    org_id = getattr(organization, "pk", organization)
    errors: dict = {}
    name = " ".join(str(name or "").split())
    if not name:
        errors["name"] = "Name the template, e.g. “High-risk release”."
    elif problem := inputs.check_text(ChecklistTemplate, "name", name):
        errors["name"] = problem
    if not isinstance(reviewer_roles, list) or any(
        r not in ReviewerRole.values for r in reviewer_roles
    ):
        errors["reviewer_roles"] = "Choose reviewer roles from the list."
    elif not reviewer_roles:
        errors["reviewer_roles"] = "Choose at least one reviewer role."
    try:
        manual = _clean_items(items)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        manual = []
    if template is not None and template.is_default and not is_default:
        errors["is_default"] = "Make another template the default first."
    if errors:
        raise ValidationError(errors)
    roles = [r for r in ReviewerRole.values if r in reviewer_roles]
    before = None
    with transaction.atomic():
        # One save of the organization's templates at a time: the default moves in one step.
        settings_of(org_id)
        GovernanceSettings.objects.for_org(org_id).select_for_update().values_list(
            "pk", flat=True
        ).get()
        if template is None:
            template = ChecklistTemplate(organization_id=org_id)
        else:
            template = (
                ChecklistTemplate.objects.for_org(org_id).select_for_update().get(pk=template.pk)
            )
            before = _snapshot(template)
        if is_default:
            ChecklistTemplate.objects.for_org(org_id).exclude(pk=template.pk).update(
                is_default=False
            )
        template.name = name
        template.items = automatic_items() + manual
        template.reviewer_roles = roles
        template.is_default = is_default or template.is_default
        try:
            with transaction.atomic():
                template.save()
        except IntegrityError:
            raise ValidationError({"name": "Another template has this name."}) from None
        audit_record(
            actor=actor,
            action="checklist_template.saved",
            obj=template,
            before=before,
            after=_snapshot(template),
        )
    return template


def template_delete(*, actor: Actor, template: ChecklistTemplate) -> None:
    """Delete a template that is not the default (releases keep the items they copied)."""
    actor.require(Action.MANAGE_ORG)
    actor.require_same_org(template)
    if template.is_default:
        raise ValidationError(
            {"is_default": "The default template stays: make another one the default first."}
        )
    with transaction.atomic():
        audit_record(
            actor=actor, action="checklist_template.deleted", obj=template,
            before={"name": template.name, "items": template.items},
        )  # fmt: skip
        ChecklistTemplate.objects.for_org(template.organization_id).filter(pk=template.pk).delete()
