"""Helpers of the audit-trail tests: writing events as a service would, reading them back,
and tampering with them as someone who can write to the database would."""

import contextlib
import csv
import hashlib
import hmac
import io
import json

from django.core.management import call_command
from django.db import connection

from genai_po.actors import Actor
from genai_po.audit import audit_record, chain_head_of, hashed_fields
from genai_po.models import AuditChainHead, AuditEvent

TABLE = AuditEvent._meta.db_table


def actor_of(membership, request=None) -> Actor:
    return Actor.for_member(
        user=membership.user,
        organization=membership.organization,
        role=membership.role,
        request=request,
    )


def head_seq(org) -> int:
    return chain_head_of(org).seq


def events_of(org, after_seq: int = 0) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_org(org).filter(seq__gt=after_seq).order_by("seq"))


def only_new_event(org, after_seq: int) -> AuditEvent:
    new = events_of(org, after_seq)
    assert len(new) == 1, [str(e) for e in new]
    return new[0]


def record(
    org, n: int = 1, *, actor: Actor | None = None, action: str = "test.event"
) -> list[AuditEvent]:
    """`n` events written straight through `audit_record`, as a service would."""
    actor = actor or Actor.system(organization=org, label="test")
    return [
        audit_record(
            actor=actor, action=action, object_type="test.thing", object_id=i, after={"n": i}
        )
        for i in range(1, n + 1)
    ]


def verify(slug: str, *extra: str) -> str:
    out = io.StringIO()
    call_command("audit_verify", "--org", slug, *extra, stdout=out)
    return out.getvalue().strip()


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# --- Someone who can write to the database, but does not hold GENAI_PO_AUDIT_KEYS


@contextlib.contextmanager
def append_only_trigger_off():
    """A database superuser switches triggers off for their session, as replication does
    (SET LOCAL: it ends with the test's transaction anyway)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = origin")


def forged_digest(event: AuditEvent, prev_hash: str, secret: bytes = b"guessed-key") -> str:
    """What an attacker without the key computes: the canonical form under a key of theirs."""
    payload = dict(
        hashed_fields(event),
        organization_id=event.organization_id,
        prev_hash=prev_hash,
        key_id=event.key_id,
    )
    payload["created_at"] = payload["created_at"].isoformat()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()


def sql(statement: str, params) -> int:
    with connection.cursor() as cursor, append_only_trigger_off():
        cursor.execute(statement, params)
        return cursor.rowcount


def tamper_delete(org, seq: int) -> None:
    """Delete an event in SQL, bypassing the ORM and the trigger."""
    assert sql(f"DELETE FROM {TABLE} WHERE organization_id = %s AND seq = %s", [org.pk, seq]) == 1  # noqa: S608


def tamper_after(org, seq: int, after: dict, *, rehash_chain: bool = False) -> None:
    """Rewrite an event's `after` in SQL; with `rehash_chain`, recompute its digest and every
    later one and move the head, as the attack on a plain SHA-256 chain did."""
    events = {e.seq: e for e in AuditEvent.objects.for_org(org).filter(seq__gte=seq)}
    events[seq].after = after
    assert (
        sql(
            f"UPDATE {TABLE} SET after = %s::jsonb WHERE organization_id = %s AND seq = %s",  # noqa: S608
            [json.dumps(after), org.pk, seq],
        )
        == 1
    )
    if not rehash_chain:
        return
    prev = AuditEvent.objects.for_org(org).get(seq=seq).prev_hash
    for n in sorted(events):
        digest = forged_digest(events[n], prev)
        sql(
            f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE organization_id = %s AND seq = %s",  # noqa: S608
            [prev, digest, org.pk, n],
        )
        prev = digest
    AuditChainHead.objects.for_org(org).update(hash=prev)
