"""Reads of the tenancy core; each takes the organization (or the user) first."""

from django.utils import timezone

from genai_po.models import Invitation, Membership, Organization, User


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
