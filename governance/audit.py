"""Recording and verifying the audit trail: append-only, hash-chained per organization."""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from genai_po.actors import Actor
from genai_po.models import Organization
from governance.models import AuditEvent

GENESIS_HASH = "0" * 64


def _json_safe(value):
    """The value exactly as a JSON column gives it back, so hashing is reproducible."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def _event_digest(*, organization_id: int, fields: dict, prev_hash: str) -> str:
    payload = dict(fields, organization_id=organization_id, prev_hash=prev_hash)
    payload["created_at"] = payload["created_at"].astimezone(UTC).isoformat()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hashed_fields(event: AuditEvent) -> dict:
    return {
        "seq": event.seq,
        "created_at": event.created_at,
        "actor_user_id": event.actor_user_id,
        "actor_token_id": event.actor_token_id,
        "actor_label": event.actor_label,
        "actor_role": event.actor_role,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "ip": event.ip,
    }


def audit_record(
    *,
    actor: Actor,
    action: str,
    obj=None,
    object_type: str = "",
    object_id: str | int = "",
    before: dict | None = None,
    after: dict | None = None,
    organization: Organization | None = None,
) -> AuditEvent:
    """Append one event to the organization's chain, inside the caller's transaction."""
    org = organization or actor.organization
    if org is None:
        raise ValueError("An audit event needs an organization.")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    with transaction.atomic():
        # Locking the organization row serializes appends to its chain.
        head = (
            Organization.objects.select_for_update()
            .only("id", "audit_head_seq", "audit_head_hash")
            .get(pk=org.pk)
        )
        event = AuditEvent(
            organization_id=org.pk,
            seq=head.audit_head_seq + 1,
            created_at=timezone.now(),
            actor_user=actor.user,
            actor_token=actor.token,
            actor_label=actor.label[:254],
            actor_role=actor.role,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            before=_json_safe(before),
            after=_json_safe(after),
            request_id=actor.request_id,
            ip=actor.ip,
            prev_hash=head.audit_head_hash,
        )
        event.hash = _event_digest(
            organization_id=org.pk, fields=_hashed_fields(event), prev_hash=event.prev_hash
        )
        event.save()
        Organization.objects.filter(pk=org.pk).update(
            audit_head_seq=event.seq, audit_head_hash=event.hash
        )
    return event


@dataclass(frozen=True)
class ChainReport:
    """Outcome of verifying one organization's chain."""

    organization: Organization
    events_checked: int
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def audit_chain_verify(*, organization: Organization) -> ChainReport:
    """Walk the chain in order and report the first link that does not hold."""
    org = Organization.objects.get(pk=organization.pk)
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    # Only up to the head read above: a write landing meanwhile is not tampering.
    events = (
        AuditEvent.objects.for_org(org)
        .filter(seq__lte=org.audit_head_seq)
        .order_by("seq")
        .iterator(chunk_size=2000)
    )
    for event in events:
        checked += 1
        if event.seq != expected_seq:
            return ChainReport(
                org, checked, expected_seq, f"event #{expected_seq} is missing (deleted)"
            )
        if event.prev_hash != prev_hash:
            return ChainReport(
                org, checked, event.seq, "its link to the previous event does not match"
            )
        digest = _event_digest(
            organization_id=org.pk, fields=_hashed_fields(event), prev_hash=event.prev_hash
        )
        if digest != event.hash:
            return ChainReport(org, checked, event.seq, "its content was changed after writing")
        prev_hash, expected_seq = event.hash, expected_seq + 1
    if org.audit_head_seq == expected_seq - 1 and org.audit_head_hash != prev_hash:
        return ChainReport(
            org,
            checked,
            org.audit_head_seq,
            "its hash does not match the organization's recorded head (rewritten)",
        )
    if org.audit_head_seq != expected_seq - 1:
        return ChainReport(
            org,
            checked,
            expected_seq,
            f"the chain ends at #{expected_seq - 1} but the organization recorded "
            f"#{org.audit_head_seq} as its newest event (events were deleted)",
        )
    return ChainReport(org, checked)


def audit_created_at(value: datetime) -> str:
    """How an event time is shown in exports: ISO 8601, UTC."""
    return value.astimezone(UTC).isoformat()
