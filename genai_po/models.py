"""The tenancy core: users, organizations, memberships, invitations, API tokens, and the
audit trail every app writes to."""

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from genai_po.roles import Role
from genai_po.tenancy import OrgScopedManager, OrgScopedModel, OrgScopedQuerySet


class UserManager(BaseUserManager):
    """Users sign in with their email address, stored in lower case."""

    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person; belongs to organizations through memberships, with a role in each."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Raised by "sign out everywhere": every session signed with the old value ends.
    session_generation = models.PositiveIntegerField(default=0)
    last_organization = models.ForeignKey(
        "Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    def _get_session_auth_hash(self, secret=None):
        # Django checks this hash on every request; mixing in the generation lets a
        # user end all their sessions without changing their password.
        return salted_hmac(
            "genai_po.User.session_auth_hash",
            f"{self.password}|{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class Organization(models.Model):
    """A tenant: every piece of product data belongs to exactly one organization."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(OrgScopedModel):
    """A user's place in an organization: one role per organization."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__email"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class Invitation(OrgScopedModel):
    """A single-use, expiring invitation to join an organization with a role."""

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    # Random part of the signed link; the link itself is never stored.
    nonce = models.CharField(max_length=64)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} as {self.role}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class ApiToken(OrgScopedModel):
    """An organization's API token: only a SHA-256 hash of the secret is stored."""

    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, help_text="Shown to recognize the token.")
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                condition=Q(revoked_at__isnull=True),
                name="api_token_unique_active_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"


# --- The audit trail (written through genai_po.audit)


class AppendOnlyError(RuntimeError):
    """Audit events are never changed or deleted."""


class AuditEventQuerySet(OrgScopedQuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only.")


class AuditEvent(OrgScopedModel):
    """One write made through a service, chained per organization by HMAC-SHA-256.

    On PostgreSQL a trigger refuses UPDATE and DELETE of these rows (migration 0003).
    """

    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    # Events are never rewritten, not even when their actor is deleted: no SET_NULL,
    # no database constraint; actor_label keeps who it was.
    actor_user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_token = models.ForeignKey(
        ApiToken,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=254)
    actor_role = models.CharField(max_length=20)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    # The id of the GENAI_PO_AUDIT_KEYS entry whose secret signed `hash`.
    key_id = models.CharField(max_length=32)
    hash = models.CharField(max_length=64)

    objects = OrgScopedManager.from_queryset(AuditEventQuerySet)()

    # What the page, the CSV export and the API show of an event, in this order.
    PUBLIC_FIELDS = (
        "seq", "created_at", "actor_label", "actor_role", "action", "object_type",
        "object_id", "before", "after", "request_id", "ip", "prev_hash", "key_id", "hash",
    )  # fmt: skip

    class Meta:
        ordering = ["-seq"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "seq"], name="audit_event_unique_seq")
        ]
        indexes = [
            models.Index(fields=["organization", "action"], name="audit_event_action_idx"),
            models.Index(fields=["organization", "created_at"], name="audit_event_time_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        # Why here: append-only is a property of the row, whichever code path saves it.
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")


class AuditChainHead(OrgScopedModel):
    """The newest event of an organization's chain, moved in the same transaction as each
    new event (so deleting the newest events is detected too). Its own row, locked per
    append, so an audited write never locks the organization row."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="audit_chain_head_one_per_org")
        ]

    def __str__(self) -> str:
        return f"audit head #{self.seq} of {self.organization_id}"
