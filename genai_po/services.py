"""Writes of the tenancy core. Each validates, writes in one transaction and audits."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.models import ApiToken, Invitation, Membership, Organization, User
from genai_po.roles import Action, Role, Scope, role_can

TOKEN_PREFIX = "gpo_"  # noqa: S105 - a public prefix, not a secret
RESERVED_SLUGS = {"new", "api", "admin", "static", "accounts", "o", "invitations"}
_INVITATION_SALT = "genai_po.invitation"


# --- Organizations


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    if base in RESERVED_SLUGS:
        base = f"{base}-org"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def organization_create(*, user: User, name: str, slug: str = "", request=None) -> Organization:
    """Create an organization with `user` as its first owner."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the organization a name."})
    if len(name) > 120:
        raise ValidationError({"name": "Keep the name under 120 characters."})
    if slug and (slug in RESERVED_SLUGS or slugify(slug) != slug):
        raise ValidationError({"slug": "Use lower-case letters, digits and hyphens."})
    with transaction.atomic():
        try:
            with transaction.atomic():  # savepoint: the slug may be taken concurrently
                org = Organization.objects.create(
                    name=name, slug=slug or _unique_slug(name), created_by=user
                )
        except IntegrityError as exc:
            raise ValidationError({"slug": "This address is taken."}) from exc
        membership = Membership.objects.create(organization=org, user=user, role=Role.OWNER)
        actor = Actor.for_member(user=user, organization=org, role=Role.OWNER, request=request)
        audit_record(
            actor=actor,
            action="organization.create",
            obj=org,
            after={"name": org.name, "slug": org.slug},
        )
        audit_record(
            actor=actor,
            action="membership.create",
            obj=membership,
            after={"user": user.email, "role": Role.OWNER},
        )
    return org


def organization_update(*, actor: Actor, organization: Organization, name: str) -> Organization:
    actor.require(Action.MANAGE_ORG)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the organization a name."})
    with transaction.atomic():
        before = {"name": organization.name}
        organization.name = name
        organization.save(update_fields=["name"])
        audit_record(
            actor=actor,
            action="organization.update",
            obj=organization,
            before=before,
            after={"name": name},
        )
    return organization


def user_switch_organization(*, user: User, organization: Organization) -> None:
    """Remember the organization the user works in, for the next sign-in."""
    if user.last_organization_id != organization.pk:
        User.objects.filter(pk=user.pk).update(last_organization=organization)
        user.last_organization = organization


# --- Members


def _owner_count(organization) -> int:
    return Membership.objects.for_org(organization).filter(role=Role.OWNER).count()


def _lock_owners(organization) -> None:
    # Serializes concurrent demotions/removals so the last owner can't slip away.
    list(
        Membership.objects.for_org(organization)
        .filter(role=Role.OWNER)
        .select_for_update()
        .values_list("pk", flat=True)
    )


def membership_add(*, actor: Actor, user: User, role: str) -> Membership:
    """Add an existing user directly (demo data, staff tools); people normally get invited."""
    actor.require(Action.MANAGE_MEMBERS)
    if role == Role.OWNER:
        actor.require(Action.MANAGE_OWNERS)
    with transaction.atomic():
        membership = Membership.objects.create(
            organization=actor.organization, user=user, role=role
        )
        audit_record(
            actor=actor,
            action="membership.create",
            obj=membership,
            after={"user": user.email, "role": role},
        )
    return membership


def membership_role_change(*, actor: Actor, membership: Membership, role: str) -> Membership:
    """Change a member's role; only owners touch the owner role; an owner always remains."""
    actor.require(Action.MANAGE_MEMBERS)
    actor.require_same_org(membership)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if Role.OWNER in (role, membership.role):
        actor.require(Action.MANAGE_OWNERS)
    if role == membership.role:
        return membership
    with transaction.atomic():
        _lock_owners(membership.organization_id)
        if membership.role == Role.OWNER and _owner_count(membership.organization_id) <= 1:
            raise ValidationError(
                {"role": "This is the last owner: make another member owner first."}
            )
        before = {"role": membership.role}
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            actor=actor,
            action="membership.role_change",
            obj=membership,
            before=before,
            after={"role": role, "user": membership.user.email},
        )
        _void_invitations_of(actor=actor, organization_id=membership.organization_id,
                             user_id=membership.user_id)  # fmt: skip
    return membership


def _void_invitations_of(*, actor: Actor, organization_id: int, user_id: int) -> None:
    """Revoke the pending invitations a member may no longer send (after a demotion or a
    removal): void stays void, even if they get the right back later."""
    pending = Invitation.objects.for_org(organization_id).filter(
        invited_by_id=user_id, accepted_at__isnull=True, revoked_at__isnull=True
    )
    now = timezone.now()
    for invitation in pending:
        if invitation_inviter_can_still_invite(invitation):
            continue
        Invitation.objects.for_org(organization_id).filter(pk=invitation.pk).update(revoked_at=now)
        audit_record(actor=actor, action="invitation.void", obj=invitation,
                     after={"email": invitation.email, "role": invitation.role,
                            "reason": "its inviter can no longer invite"})  # fmt: skip


def membership_remove(*, actor: Actor, membership: Membership) -> None:
    """Remove a member (or let members leave); the last owner can't be removed."""
    actor.require_same_org(membership)
    leaving = actor.user is not None and actor.user.pk == membership.user_id
    if not leaving:
        actor.require(Action.MANAGE_MEMBERS)
        if membership.role == Role.OWNER:
            actor.require(Action.MANAGE_OWNERS)
    with transaction.atomic():
        _lock_owners(membership.organization_id)
        if membership.role == Role.OWNER and _owner_count(membership.organization_id) <= 1:
            raise ValidationError(
                "This is the last owner of the organization: make another member owner first."
            )
        snapshot = {"user": membership.user.email, "role": membership.role}
        pk = membership.pk
        membership.delete()
        audit_record(
            actor=actor,
            action="membership.remove",
            object_type="genai_po.membership",
            object_id=pk,
            before=snapshot,
        )
        _void_invitations_of(actor=actor, organization_id=membership.organization_id,
                             user_id=membership.user_id)  # fmt: skip


# --- Invitations


def invitation_link(invitation: Invitation) -> str:
    """The signed, single-use link sent to the invitee."""
    signed = signing.dumps({"id": invitation.pk, "nonce": invitation.nonce}, salt=_INVITATION_SALT)
    return f"{settings.SITE_URL}/invitations/{signed}/"


def invitation_create(*, actor: Actor, email: str, role: str) -> Invitation:
    """Invite someone by email; the link is emailed by a worker after commit."""
    actor.require(Action.MANAGE_MEMBERS)
    org = actor.organization
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": "Enter a valid email address."}) from exc
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if role == Role.OWNER:
        actor.require(Action.MANAGE_OWNERS)
    # Serialize invitations per organization so two quick submissions can't both pass
    # the "already pending" check below.
    with transaction.atomic():
        Organization.objects.select_for_update().only("id").get(pk=org.pk)
        return _invitation_create_locked(actor=actor, org=org, email=email, role=role)


def _invitation_create_locked(*, actor: Actor, org: Organization, email: str, role: str):
    if Membership.objects.for_org(org).filter(user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member."})
    now = timezone.now()
    pending = Invitation.objects.for_org(org).filter(
        email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    )
    if pending.exists():
        raise ValidationError(
            {"email": f"{email} already has a pending invitation: revoke it to send a new one."}
        )
    with transaction.atomic():
        invitation = Invitation.objects.create(
            organization=org,
            email=email,
            role=role,
            nonce=secrets.token_urlsafe(24),
            invited_by=actor.user,
            expires_at=now + timedelta(seconds=settings.INVITATION_TTL_SECONDS),
        )
        audit_record(
            actor=actor,
            action="invitation.create",
            obj=invitation,
            after={"email": email, "role": role, "expires_at": invitation.expires_at.isoformat()},
        )
        from genai_po.tasks import invitation_send_email

        transaction.on_commit(lambda: invitation_send_email.delay(invitation.pk))
    return invitation


def invitation_revoke(*, actor: Actor, invitation: Invitation) -> Invitation:
    actor.require(Action.MANAGE_MEMBERS)
    actor.require_same_org(invitation)
    if invitation.status != "pending":
        raise ValidationError(f"This invitation is already {invitation.status}.")
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="invitation.revoke",
            obj=invitation,
            before={"status": "pending"},
            after={"status": "revoked"},
        )
    return invitation


def invitation_from_link(token: str) -> Invitation:
    """The invitation a link points to, or ValidationError with what is wrong."""
    try:
        data = signing.loads(token, salt=_INVITATION_SALT)
    except signing.BadSignature as exc:
        raise ValidationError("This invitation link is not valid.") from exc
    # A signed link names its organization implicitly: crossing orgs is the point here.
    invitation = (
        Invitation.objects.across_orgs()
        .select_related("organization")
        .filter(pk=data.get("id"))
        .first()
    )
    if invitation is None or not secrets.compare_digest(invitation.nonce, data.get("nonce", "")):
        raise ValidationError("This invitation link is not valid.")
    if invitation.status == "pending" and not invitation_inviter_can_still_invite(invitation):
        raise ValidationError(VOID_MESSAGE)
    if invitation.status == "revoked":  # no join button for a link that cannot join
        raise ValidationError("This invitation was revoked. Ask for a new one.")
    return invitation


def invitation_inviter_can_still_invite(invitation: Invitation) -> bool:
    """An invitation is void once its inviter may no longer invite (left, demoted, deleted):
    it carries their authority, not a right of its own."""
    if invitation.invited_by_id is None:
        return False
    membership = (
        Membership.objects.for_org(invitation.organization_id)
        .filter(user_id=invitation.invited_by_id)
        .first()
    )
    if membership is None or not role_can(membership.role, Action.MANAGE_MEMBERS):
        return False
    return invitation.role != Role.OWNER or role_can(membership.role, Action.MANAGE_OWNERS)


VOID_MESSAGE = (
    "This invitation is no longer valid: the person who sent it can no longer invite "
    "members. Ask for a new one."
)


def invitation_accept(*, user: User, token: str, request=None) -> Membership:
    """Join the organization: once, before expiry, as the invited email address."""
    invitation = invitation_from_link(token)
    with transaction.atomic():
        invitation = (
            Invitation.objects.for_org(invitation.organization_id)
            .select_for_update()
            .get(pk=invitation.pk)
        )
        status = invitation.status
        if status == "accepted":
            raise ValidationError("This invitation has already been used.")
        if status == "revoked":
            raise ValidationError("This invitation was revoked. Ask for a new one.")
        if status == "expired":
            raise ValidationError("This invitation has expired. Ask for a new one.")
        if not invitation_inviter_can_still_invite(invitation):
            raise ValidationError(VOID_MESSAGE)
        if invitation.email.lower() != user.email.lower():
            raise ValidationError(
                f"This invitation is for {invitation.email}. "
                "Sign in with that address to accept it."
            )
        org = invitation.organization
        if Membership.objects.for_org(org).filter(user=user).exists():
            raise ValidationError(f"You are already a member of {org.name}.")
        membership = Membership.objects.create(organization=org, user=user, role=invitation.role)
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        actor = Actor.for_member(user=user, organization=org, role=invitation.role, request=request)
        audit_record(
            actor=actor,
            action="invitation.accept",
            obj=invitation,
            before={"status": "pending"},
            after={"status": "accepted"},
        )
        audit_record(
            actor=actor,
            action="membership.create",
            obj=membership,
            after={"user": user.email, "role": membership.role},
        )
    return membership


# --- API tokens


def hash_token(raw: str) -> str:
    """SHA-256 of the token: tokens carry 256 random bits, so no slow hash is needed."""
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(
    *, actor: Actor, name: str, scopes: list[str], expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token; the raw value is returned once and never stored."""
    if actor.role != "system":
        actor.require(Action.MANAGE_TOKENS)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the token a name that says where it is used."})
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown:
        raise ValidationError(
            {"scopes": f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(Scope.values)}."}
        )
    if not scopes:
        raise ValidationError({"scopes": "Choose at least one scope."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    # A public part (shown as the prefix, to recognize the token) and a secret part of
    # 32 random bytes = 256 bits that is never shown again.
    raw = TOKEN_PREFIX + secrets.token_urlsafe(6) + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            _revoke_expired_named(actor=actor, name=name)
            token = ApiToken.objects.create(
                organization=actor.organization,
                name=name,
                prefix=raw[:12],
                token_hash=hash_token(raw),
                scopes=scopes,
                created_by=actor.user,
                expires_at=expires_at,
            )
            audit_record(
                actor=actor,
                action="api_token.create",
                obj=token,
                after={
                    "name": name,
                    "scopes": scopes,
                    "prefix": token.prefix,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            )
    except IntegrityError as exc:
        raise ValidationError({"name": f"An active token is already named {name!r}."}) from exc
    return token, raw


def _revoke_expired_named(*, actor: Actor, name: str) -> None:
    """An expired token gives its name up to its replacement (revoked, audited)."""
    expired = ApiToken.objects.for_org(actor.organization).filter(
        name=name, revoked_at__isnull=True, expires_at__lte=timezone.now()
    )
    for token in expired:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="api_token.revoke",
            obj=token,
            before={"status": "expired"},
            after={"status": "revoked", "reason": "replaced by a new token of the same name"},
        )


def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    actor.require(Action.MANAGE_TOKENS)
    actor.require_same_org(token)
    if token.revoked_at:
        raise ValidationError("This token is already revoked.")
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="api_token.revoke",
            obj=token,
            before={"status": "active"},
            after={"status": "revoked"},
        )
    return token


def api_token_authenticate(raw: str) -> ApiToken:
    """The token behind a bearer value, or PermissionDenied with a message for the 401."""
    if not raw.startswith(TOKEN_PREFIX):
        raise PermissionDenied("Invalid token.")
    # The hash is unique across organizations; the token then defines the scope.
    token = (
        ApiToken.objects.across_orgs()
        .select_related("organization")
        .filter(token_hash=hash_token(raw))
        .first()
    )
    if token is None:
        raise PermissionDenied("Invalid token.")
    if token.revoked_at:
        raise PermissionDenied("This token has been revoked.")
    now = timezone.now()
    if token.expires_at and token.expires_at <= now:
        raise PermissionDenied("This token has expired.")
    # Write last-used at most once a minute, not on every request.
    if token.last_used_at is None or token.last_used_at < now - timedelta(minutes=1):
        ApiToken.objects.for_org(token.organization_id).filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# --- Sessions


def user_sessions_end_all(*, user: User) -> None:
    """Sign the user out of every session, on every device."""
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["session_generation"])
