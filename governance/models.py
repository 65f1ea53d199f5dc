"""Governance: for now the tamper-evident audit trail; releases and sign-offs come later."""

from django.conf import settings
from django.db import models

from genai_po.tenancy import OrgScopedManager, OrgScopedModel, OrgScopedQuerySet


class AppendOnlyError(RuntimeError):
    """Audit events are never changed or deleted."""


class AuditEventQuerySet(OrgScopedQuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only.")


class AuditEvent(OrgScopedModel):
    """One write made through a service, hash-chained per organization."""

    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    # Events are never rewritten, not even when their actor is deleted: no SET_NULL,
    # no database constraint; actor_label keeps who it was.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_token = models.ForeignKey(
        "genai_po.ApiToken",
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
    hash = models.CharField(max_length=64)

    objects = OrgScopedManager.from_queryset(AuditEventQuerySet)()

    # What the page, the CSV export and the API show of an event, in this order.
    PUBLIC_FIELDS = (
        "seq", "created_at", "actor_label", "actor_role", "action", "object_type",
        "object_id", "before", "after", "request_id", "ip", "prev_hash", "hash",
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
