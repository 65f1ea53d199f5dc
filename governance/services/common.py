"""What the governance services share: the organization's settings row (locked to hand
out numbers) and members by role."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from genai_po.models import Membership
from governance.models import GovernanceSettings


def settings_of(organization) -> GovernanceSettings:
    """The organization's governance settings (made on first use)."""
    org_id = getattr(organization, "pk", organization)
    row = GovernanceSettings.objects.for_org(org_id).first()
    if row is None:
        GovernanceSettings.objects.bulk_create(
            [GovernanceSettings(organization_id=org_id)], ignore_conflicts=True
        )
        row = GovernanceSettings.objects.for_org(org_id).get()
    return row


def next_number(organization_id: int, counter: str) -> int:
    """The next number of `counter` ("release_seq", "incident_seq"): locks the settings
    row until the caller's transaction ends."""
    settings_of(organization_id)
    row = GovernanceSettings.objects.for_org(organization_id).select_for_update().get()
    number = getattr(row, counter) + 1
    GovernanceSettings.objects.for_org(organization_id).filter(pk=row.pk).update(
        **{counter: number}
    )
    return number


def membership_of(organization_id: int, user) -> Membership | None:
    if user is None:
        return None
    return Membership.objects.for_org(organization_id).filter(user=user).first()


def require_member(
    organization_id: int, user, *, field: str, roles=None, refused: str = ""
) -> Membership:
    """`user` belongs to the organization (with one of `roles`, if given; else `refused`)."""
    membership = membership_of(organization_id, user)
    if membership is None:
        raise ValidationError({field: "Choose a member of this organization."})
    if roles is not None and membership.role not in roles:
        raise ValidationError({field: refused or "This member's role cannot take this."})
    return membership
