"""Reads of the tenancy core; each takes the organization (or the user) first."""

from django.utils import timezone

from genai_po.actors import Actor
from genai_po.models import Invitation, Membership, Organization, User
from genai_po.roles import Action, Role, role_can


def memberships_of_user(*, user: User) -> list[Membership]:
    """The user's memberships in every organization: crossing orgs is the point here."""
    return list(
        Membership.objects.across_orgs()
        .filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def members_of_org(*, organization: Organization):
    return Membership.objects.for_org(organization).select_related("user").order_by("user__email")


def invitations_pending(*, organization: Organization) -> list[Invitation]:
    """Unused, unexpired invitations; each says whether it is `void` (its inviter may no
    longer invite, so the link no longer works)."""
    invitations = list(
        Invitation.objects.for_org(organization)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by")
        .order_by("-created_at")
    )
    roles = dict(
        Membership.objects.for_org(organization)
        .filter(user_id__in={i.invited_by_id for i in invitations if i.invited_by_id})
        .values_list("user_id", "role")
    )
    for invitation in invitations:
        role = roles.get(invitation.invited_by_id)
        invitation.void = not (
            role
            and role_can(role, Action.MANAGE_MEMBERS)
            and (invitation.role != Role.OWNER or role_can(role, Action.MANAGE_OWNERS))
        )
    return invitations


def members_editable_by(*, organization: Organization, members, actor: Actor) -> set[int]:
    """Ids of the listed memberships whose role the actor may change or remove.

    Not the actor's own row (they leave from General), not an owner unless the actor
    may manage owners, and never the last owner.
    """
    if not actor.can(Action.MANAGE_MEMBERS):
        return set()
    owners = Membership.objects.for_org(organization).filter(role=Role.OWNER).count()
    editable = set()
    for m in members:
        if actor.user is not None and m.user_id == actor.user.pk:
            continue
        if m.role == Role.OWNER and (not actor.can(Action.MANAGE_OWNERS) or owners <= 1):
            continue
        editable.add(m.pk)
    return editable
