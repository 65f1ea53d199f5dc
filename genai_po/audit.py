"""Recording and verifying the audit trail: append-only, chained per organization with
HMAC-SHA-256 under keys from the environment (genai_po.audit_keys).

Each event's digest covers its content, its organization, the previous event's digest
and the id of the key that signed it. Without the key, someone who can write rows can
neither forge an event nor recompute the chain after a change; deleting the newest
events is caught by the chain head, and an exported head digest (`audit_verify`)
catches a rewrite even by someone who holds the key.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from genai_po.actors import Actor
from genai_po.inputs import digits_only
from genai_po.models import AuditChainHead, AuditEvent, Organization

GENESIS_HASH = "0" * 64


def _json_safe(value):
    """The value exactly as a JSON column gives it back, so hashing is reproducible."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def signing_key() -> tuple[str, bytes]:
    """(key id, secret) of the key that signs new events: the first configured."""
    key_id, secret = next(iter(settings.AUDIT_KEYS.items()))
    return key_id, secret


def event_digest(*, organization_id: int, fields: dict, prev_hash: str, key_id: str) -> str:
    """HMAC-SHA-256 of the event's canonical form, under the key named `key_id`.

    Raises KeyError when that key is not configured.
    """
    secret = settings.AUDIT_KEYS[key_id]
    payload = dict(fields, organization_id=organization_id, prev_hash=prev_hash, key_id=key_id)
    payload["created_at"] = payload["created_at"].astimezone(UTC).isoformat()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()


def hashed_fields(event: AuditEvent) -> dict:
    """The columns an event's digest covers (all but its id, links and digest)."""
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


def _locked_head(organization_id: int) -> AuditChainHead:
    """The chain head row, locked until the caller's transaction ends (made on first use)."""
    heads = AuditChainHead.objects.for_org(organization_id).select_for_update()
    head = heads.first()
    if head is None:
        AuditChainHead.objects.bulk_create(
            [AuditChainHead(organization_id=organization_id)], ignore_conflicts=True
        )
        head = heads.get()
    return head


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
    key_id, _ = signing_key()
    with transaction.atomic():
        # Locking the head row serializes appends to this organization's chain only.
        head = _locked_head(org.pk)
        event = AuditEvent(
            organization_id=org.pk,
            seq=head.seq + 1,
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
            prev_hash=head.hash,
            key_id=key_id,
        )
        event.hash = event_digest(
            organization_id=org.pk, fields=hashed_fields(event), prev_hash=event.prev_hash,
            key_id=key_id,
        )  # fmt: skip
        event.save()
        AuditChainHead.objects.for_org(org.pk).filter(pk=head.pk).update(
            seq=event.seq, hash=event.hash
        )
    return event


@dataclass(frozen=True)
class ChainReport:
    """Outcome of verifying one organization's chain, with the head it reached."""

    organization: Organization
    events_checked: int
    broken_seq: int | None = None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    @property
    def ok(self) -> bool:
        return self.broken_seq is None

    @property
    def head_digest(self) -> str:
        """`<seq>:<hash>` of the newest event: export it, check it later with --expect."""
        return f"{self.head_seq}:{self.head_hash}"


def chain_head_of(organization) -> AuditChainHead:
    """The recorded head (not saved when the organization has no event yet)."""
    org_id = getattr(organization, "pk", organization)
    head = AuditChainHead.objects.for_org(org_id).first()
    return head or AuditChainHead(organization_id=org_id)


def audit_chain_verify(*, organization: Organization) -> ChainReport:
    """Walk the chain in order and report the first link that does not hold."""
    org = organization
    head = chain_head_of(org)
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(org, checked, seq, reason, head.seq, head.hash)

    # Only up to the head read above: a write landing meanwhile is not tampering.
    events = (
        AuditEvent.objects.for_org(org)
        .filter(seq__lte=head.seq)
        .order_by("seq")
        .iterator(chunk_size=2000)
    )
    for event in events:
        checked += 1
        if event.seq != expected_seq:
            return broken(expected_seq, f"event #{expected_seq} is missing (deleted)")
        if event.prev_hash != prev_hash:
            return broken(event.seq, "its link to the previous event does not match")
        try:
            digest = event_digest(
                organization_id=org.pk, fields=hashed_fields(event), prev_hash=event.prev_hash,
                key_id=event.key_id,
            )  # fmt: skip
        except KeyError:
            return broken(
                event.seq,
                f"it is signed with key {event.key_id!r}, which GENAI_PO_AUDIT_KEYS does not "
                "list (keep old keys listed after a rotation)",
            )
        if not hmac.compare_digest(digest, event.hash):
            return broken(event.seq, "its content or digest was changed after writing")
        prev_hash, expected_seq = event.hash, expected_seq + 1
    newest = expected_seq - 1
    if head.seq == newest and head.hash != prev_hash:
        return broken(
            head.seq, "its digest does not match the organization's recorded head (rewritten)"
        )
    if head.seq != newest:
        return broken(
            expected_seq,
            f"the chain ends at #{newest} but the organization recorded #{head.seq} as its "
            "newest event (events were deleted)",
        )
    return ChainReport(org, checked, head_seq=head.seq, head_hash=head.hash)


def audit_head_check(*, organization: Organization, digest: str) -> str | None:
    """Why an exported `<seq>:<hash>` no longer holds in the chain, or None if it does."""
    seq_text, sep, expected = digest.strip().partition(":")
    if not sep or not digits_only(seq_text) or len(seq_text) > 18 or len(expected) != 64:
        return "the expected head must be <seq>:<64 hex digits>, as audit_verify prints it"
    event = AuditEvent.objects.for_org(organization).filter(seq=int(seq_text)).first()
    if event is None:
        return f"event #{seq_text} of the exported head is missing (deleted)"
    if not hmac.compare_digest(event.hash, expected.lower()):
        return (
            f"event #{seq_text} no longer has the digest exported earlier: the chain was "
            "rewritten up to it"
        )
    return None


def audit_created_at(value: datetime) -> str:
    """How an event time is shown in exports: ISO 8601, UTC."""
    return value.astimezone(UTC).isoformat()
