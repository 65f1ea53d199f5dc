"""What the context services share: the organization's settings row (locked to hand out
numbers), members by role, and the gap history line."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from context.models import ContextGap, ContextSettings, GapEvent
from genai_po.actors import Actor
from genai_po.models import Membership


def settings_of(organization) -> ContextSettings:
    """The organization's context settings (made on first use)."""
    org_id = getattr(organization, "pk", organization)
    row = ContextSettings.objects.for_org(org_id).first()
    if row is None:
        ContextSettings.objects.bulk_create(
            [ContextSettings(organization_id=org_id)], ignore_conflicts=True
        )
        row = ContextSettings.objects.for_org(org_id).get()
    return row


def next_number(organization_id: int, counter: str) -> int:
    """The next number of `counter` ("gap_seq", "knowledge_seq"): locks the settings row
    until the caller's transaction ends, so numbers are handed out one after another."""
    settings_of(organization_id)
    row = ContextSettings.objects.for_org(organization_id).select_for_update().get()
    number = getattr(row, counter) + 1
    ContextSettings.objects.for_org(organization_id).filter(pk=row.pk).update(**{counter: number})
    return number


def member_of(organization_id: int, user) -> Membership | None:
    if user is None:
        return None
    return Membership.objects.for_org(organization_id).filter(user=user).first()


def require_member(organization_id: int, user, *, field: str, roles=None) -> None:
    """`user` belongs to the organization (with one of `roles`, if given)."""
    membership = member_of(organization_id, user)
    if membership is None:
        raise ValidationError({field: "Choose a member of this organization."})
    if roles is not None and membership.role not in roles:
        raise ValidationError({field: "This member's role cannot take this."})


def gap_event(gap: ContextGap, *, kind: str, text: str, actor: Actor) -> None:
    GapEvent.objects.create(
        organization_id=gap.organization_id,
        gap=gap,
        kind=kind,
        text=text[:500],
        actor_label=actor.label[:254],
    )
