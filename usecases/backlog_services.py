"""Writes of the backlog: feature items, a member's own rank, saved views."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.models import Membership
from genai_po.roles import Action
from usecases import backlog
from usecases.models import (
    BacklogItem,
    BacklogItemStatus,
    BacklogRank,
    BacklogView,
    UseCase,
)
from usecases.services import _member_user

ITEM_FIELDS = ["title", "description", "use_case", "value", "effort", "due_on", "owner"]


def _snapshot(item: BacklogItem) -> dict:
    return {
        "key": item.key,
        "title": item.title,
        "use_case": item.use_case.key if item.use_case else None,
        "value": item.value,
        "effort": item.effort,
        "due_on": item.due_on.isoformat() if item.due_on else None,
        "owner": item.owner.email if item.owner else None,
        "status": item.status,
    }


def _clean_item(organization, data: dict, *, creating: bool) -> dict:
    """The business rules of a feature item; forms and serializers have checked the shape."""
    clean, errors = {}, {}
    for field in ("title", "description"):
        if field in data:
            text = (data[field] or "").strip()
            if problem := inputs.check_text(BacklogItem, field, text):
                errors[field] = problem
            clean[field] = text
    if (creating or "title" in data) and not clean.get("title") and "title" not in errors:
        errors["title"] = "Say what the work is, in a few words."
    for field in ("value", "effort"):
        if field in data:
            value = data[field]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                errors[field] = "Choose 1 to 5."
            else:
                clean[field] = value
    if "due_on" in data:
        clean["due_on"] = data["due_on"] or None
    if "use_case" in data:
        use_case = data["use_case"]
        if use_case is not None and (
            not isinstance(use_case, UseCase) or use_case.organization_id != organization.pk
        ):
            errors["use_case"] = "Choose a use case of this organization."
        else:
            clean["use_case"] = use_case
    if "owner" in data:
        try:
            clean["owner"] = _member_user(organization, data["owner"], "owner")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return clean


def backlog_item_create(*, actor: Actor, data: dict) -> BacklogItem:
    """Add a feature item (BL-n, numbered per organization, never reused)."""
    actor.require(Action.EDIT_PRODUCT)
    org = actor.organization
    clean = _clean_item(org, data, creating=True)
    with transaction.atomic():
        # The organization row is the lock that numbers the items one after another.
        type(org).objects.select_for_update().only("id").get(pk=org.pk)
        last = BacklogItem.objects.for_org(org).aggregate(n=Max("number"))["n"] or 0
        item = BacklogItem.objects.create(
            organization=org, number=last + 1, created_by=actor.user, **clean
        )
        audit_record(actor=actor, action="backlog_item.create", obj=item, after=_snapshot(item))
    return item


def backlog_item_update(*, actor: Actor, item: BacklogItem, data: dict) -> BacklogItem:
    """Change a feature item's fields; records what changed."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(item)
    clean = _clean_item(item.organization, data, creating=False)
    changed = {f: v for f, v in clean.items() if getattr(item, f) != v}
    if not changed:
        return item
    with transaction.atomic():
        before = _snapshot(item)
        for field, value in changed.items():
            setattr(item, field, value)
        item.save(update_fields=[*changed, "updated_at"])
        audit_record(actor=actor, action="backlog_item.update", obj=item, before=before,
                     after=_snapshot(item))  # fmt: skip
    return item


def backlog_item_set_status(*, actor: Actor, item: BacklogItem, status: str) -> BacklogItem:
    """Mark an item done or dropped (it leaves the backlog), or open it again."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(item)
    if status not in BacklogItemStatus.values:
        raise ValidationError({"status": f"Choose one of {', '.join(BacklogItemStatus.values)}."})
    with transaction.atomic():
        locked = BacklogItem.objects.for_org(item.organization_id).select_for_update().get(
            pk=item.pk
        )  # fmt: skip
        if locked.status == status:
            return locked
        before = locked.status
        locked.status = status
        locked.closed_at = None if status == BacklogItemStatus.OPEN else timezone.now()
        locked.save(update_fields=["status", "closed_at", "updated_at"])
        audit_record(actor=actor, action="backlog_item.status", obj=locked,
                     before={"status": before}, after={"status": status})  # fmt: skip
    return locked


# --- A member's own rank


def _parse_ref(ref: str) -> tuple[int, int]:
    try:
        ct, _, oid = (ref or "").partition(".")
        return inputs._parse_int(ct), inputs._parse_int(oid)
    except (ValueError, inputs.InputRefused):
        raise ValidationError({"ref": "This entry is not in the backlog."}) from None


def backlog_rank_move(
    *, actor: Actor, ref: str, before: str = "", after: str = "", to_top: bool = False
) -> list[str]:
    """Place the entry `ref` in the member's own rank: just before the entry `before`, just
    after the entry `after`, or first. Answers the member's new order of refs.

    The order covers the whole backlog of the organization (entries not yet placed keep
    their suggested order), so a move made in a filtered view lands between the same two
    neighbours in every other view.
    """
    actor.require(Action.EDIT_PRODUCT)
    if actor.user is None:
        raise ValidationError({"ref": "Only a member keeps a rank of their own."})
    if sum(bool(x) for x in (before, after, to_top)) != 1:
        raise ValidationError({"ref": "Say where the entry goes: before or after another."})
    org = actor.organization
    for value in (ref, before, after):
        if value:
            _parse_ref(value)
    with transaction.atomic():
        # The member's row is the lock that keeps two moves of theirs from interleaving.
        list(
            Membership.objects.for_org(org).select_for_update().filter(user=actor.user)
            .values_list("pk")
        )  # fmt: skip
        order = [e.ref for e in backlog.backlog_of(org, user=actor.user, order="mine").entries]
        if ref not in order:
            raise ValidationError({"ref": "This entry is no longer in the backlog."})
        anchor = before or after
        if anchor and anchor not in order:
            raise ValidationError({"ref": "The entry it was placed next to has left the backlog."})
        if anchor == ref:
            return order
        order.remove(ref)
        if to_top:
            order.insert(0, ref)
        else:
            index = order.index(anchor)
            order.insert(index if before else index + 1, ref)
        BacklogRank.objects.for_org(org).filter(user=actor.user).delete()
        BacklogRank.objects.for_org(org).bulk_create(
            [
                BacklogRank(
                    organization=org,
                    user=actor.user,
                    content_type_id=ct,
                    object_id=oid,
                    position=position,
                )  # fmt: skip
                for position, (ct, oid) in enumerate(_parse_ref(r) for r in order)
            ]
        )
    return order


def backlog_rank_reset(*, actor: Actor) -> int:
    """Forget the member's own rank: the backlog follows the suggested rank again."""
    actor.require(Action.EDIT_PRODUCT)
    if actor.user is None:
        return 0
    deleted, _ = BacklogRank.objects.for_org(actor.organization).filter(user=actor.user).delete()
    return deleted


# --- Saved views


VIEW_FILTERS = ("kind", "owner", "use_case", "order")


def backlog_view_save(*, actor: Actor, name: str, filters: dict) -> BacklogView:
    """Save the member's current filters under a name (the same name replaces)."""
    actor.require(Action.VIEW)
    if actor.user is None:
        raise ValidationError({"name": "Only a member saves views."})
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the view."})
    if problem := inputs.check_text(BacklogView, "name", name):
        raise ValidationError({"name": problem})
    clean = {k: v for k, v in filters.items() if k in VIEW_FILTERS and v not in ("", None, [])}
    org = actor.organization
    for _attempt in range(2):
        try:
            with transaction.atomic():
                view, _ = BacklogView.objects.for_org(org).update_or_create(
                    organization=org, user=actor.user, name=name, defaults={"filters": clean}
                )
            return view
        except IntegrityError:  # the same name saved twice at once: the second updates
            continue
    raise ValidationError({"name": "This view is being saved elsewhere: try again."})


def backlog_view_delete(*, actor: Actor, view: BacklogView) -> None:
    actor.require_same_org(view)
    if view.user_id != getattr(actor.user, "pk", None):
        raise ValidationError({"name": "This view is someone else's."})
    view.delete()
