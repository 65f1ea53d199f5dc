"""Upgrading: the plain SHA-256 chains of before are verified, then signed with the key."""

import hashlib
import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from genai_po.audit import audit_chain_verify
from genai_po.models import AuditEvent, Organization

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("genai_po", "0002_audit_trail_in_core"),
    ("governance", "0003_audit_trail_moved_to_core"),
]


def _legacy_digest(fields: dict, org_id: int, prev_hash: str) -> str:
    payload = dict(fields, organization_id=org_id, prev_hash=prev_hash)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _legacy_chain(apps, org_id: int, count: int, *, break_at: int | None = None) -> None:
    """Events as the previous release wrote them; with `break_at`, one was altered since."""
    LegacyEvent = apps.get_model("genai_po", "AuditEvent")
    LegacyOrg = apps.get_model("genai_po", "Organization")
    prev = "0" * 64
    for seq in range(1, count + 1):
        when = datetime(2026, 11, seq, 9, 0, tzinfo=UTC)
        fields = {
            "seq": seq, "created_at": when.isoformat(), "actor_user_id": None,
            "actor_token_id": None, "actor_label": "seed", "actor_role": "system",
            "action": "legacy.event", "object_type": "test.thing", "object_id": str(seq),
            "before": None, "after": {"n": seq}, "request_id": "", "ip": None,
        }  # fmt: skip
        digest = _legacy_digest(fields, org_id, prev)
        stored = dict(
            fields, created_at=when, after={"n": "altered"} if seq == break_at else {"n": seq}
        )
        LegacyEvent.objects.create(organization_id=org_id, prev_hash=prev, hash=digest, **stored)
        prev = digest
    LegacyOrg.objects.filter(pk=org_id).update(audit_head_seq=count, audit_head_hash=prev)


def test_legacy_chains_are_verified_and_signed_again_with_the_key(org_a, org_b, settings):
    org_ids = (org_a.pk, org_b.pk)
    try:
        old_apps = _migrate(BEFORE)
        _legacy_chain(old_apps, org_ids[0], 3)
        _legacy_chain(old_apps, org_ids[1], 1)
        _migrate(_latest())
    finally:
        _migrate(_latest())

    key_id = next(iter(settings.AUDIT_KEYS))
    for org_id, count in zip(org_ids, (3, 1), strict=True):
        org = Organization.objects.get(pk=org_id)
        report = audit_chain_verify(organization=org)
        assert report.ok, report.reason
        assert report.events_checked == count
        events = AuditEvent.objects.for_org(org).order_by("seq")
        assert {e.key_id for e in events} == {key_id}
        assert [e.after for e in events] == [{"n": n} for n in range(1, count + 1)]


def test_a_legacy_chain_that_does_not_verify_stops_the_upgrade_and_changes_nothing(org_a):
    try:
        old_apps = _migrate(BEFORE)
        _legacy_chain(old_apps, org_a.pk, 3, break_at=2)
        with pytest.raises(RuntimeError, match="'org-a' does not verify at event #2"):
            _migrate(_latest())
        LegacyEvent = old_apps.get_model("genai_po", "AuditEvent")
        assert list(
            LegacyEvent.objects.filter(organization_id=org_a.pk)
            .order_by("seq")
            .values_list("after", flat=True)
        ) == [{"n": 1}, {"n": "altered"}, {"n": 3}]
    finally:
        with connection.cursor() as cursor:  # let the upgrade through for the next tests
            cursor.execute("DELETE FROM genai_po_auditevent")
            cursor.execute(
                "UPDATE genai_po_organization SET audit_head_seq = 0, audit_head_hash = %s",
                ["0" * 64],
            )
        _migrate(_latest())
