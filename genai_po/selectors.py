"""Reads of the tenancy core; each takes the organization (or the user) first."""

from django.utils import timezone

from genai_po.actors import Actor
from genai_po.models import Invitation, Membership, Organization, User
from genai_po.roles import Action, Role


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
    return list(
        Invitation.objects.for_org(organization)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by")
        .order_by("-created_at")
    )


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
