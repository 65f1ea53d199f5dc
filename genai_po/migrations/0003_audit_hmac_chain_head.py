"""The audit chain is keyed (HMAC-SHA-256, GENAI_PO_AUDIT_KEYS), its head gets a table of its
own, and on PostgreSQL a trigger refuses UPDATE and DELETE of audit events.

Existing chains were plain SHA-256: each is verified as it was, then signed again with
the current key, before the trigger exists. A chain that does not verify stops the
migration with the organization and the event, and nothing is changed.

The digest functions below are frozen copies (as of this migration), not imports.
"""

import hashlib
import hmac
import json
from datetime import UTC

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

GENESIS = "0" * 64

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION genai_po_audit_event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- genai_po.maintenance.organization_purge deletes a whole organization, trail included.
    IF TG_OP = 'DELETE' AND current_setting('genai_po.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER genai_po_audit_event_append_only
    BEFORE UPDATE OR DELETE ON genai_po_auditevent
    FOR EACH ROW EXECUTE FUNCTION genai_po_audit_event_append_only();
"""
DROP_APPEND_ONLY_SQL = """
DROP TRIGGER IF EXISTS genai_po_audit_event_append_only ON genai_po_auditevent;
DROP FUNCTION IF EXISTS genai_po_audit_event_append_only();
"""


def _fields(event) -> dict:
    return {
        "seq": event.seq,
        "created_at": event.created_at.astimezone(UTC).isoformat(),
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


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def _legacy_digest(event, org_id: int, prev_hash: str) -> str:
    payload = dict(_fields(event), organization_id=org_id, prev_hash=prev_hash)
    return hashlib.sha256(_canonical(payload)).hexdigest()


def _hmac_digest(event, org_id: int, prev_hash: str, key_id: str, secret: bytes) -> str:
    payload = dict(_fields(event), organization_id=org_id, prev_hash=prev_hash, key_id=key_id)
    return hmac.new(secret, _canonical(payload), hashlib.sha256).hexdigest()


def _refuse(slug: str, seq: int, why: str):
    return RuntimeError(
        f"The audit chain of organization {slug!r} does not verify at event #{seq} ({why}). "
        "Nothing was changed: run `audit_verify` of the previous release to see what "
        "happened before upgrading."
    )


def sign_chains(apps, schema_editor):
    Organization = apps.get_model("genai_po", "Organization")
    AuditEvent = apps.get_model("genai_po", "AuditEvent")
    AuditChainHead = apps.get_model("genai_po", "AuditChainHead")
    key_id, secret = next(iter(settings.AUDIT_KEYS.items()))
    for org in Organization.objects.order_by("pk"):
        seq, legacy_prev, new_prev = 0, GENESIS, GENESIS
        for event in AuditEvent.objects.filter(organization_id=org.pk).order_by("seq").iterator():
            if event.seq != seq + 1:
                raise _refuse(org.slug, seq + 1, "missing")
            if event.prev_hash != legacy_prev:
                raise _refuse(org.slug, event.seq, "its link does not match")
            if _legacy_digest(event, org.pk, legacy_prev) != event.hash:
                raise _refuse(org.slug, event.seq, "its content was changed")
            legacy_prev = event.hash
            digest = _hmac_digest(event, org.pk, new_prev, key_id, secret)
            AuditEvent.objects.filter(pk=event.pk).update(
                prev_hash=new_prev, hash=digest, key_id=key_id
            )
            new_prev, seq = digest, event.seq
        if (org.audit_head_seq, org.audit_head_hash) != (seq, legacy_prev):
            raise _refuse(org.slug, org.audit_head_seq, "the recorded head does not match")
        AuditChainHead.objects.create(organization_id=org.pk, seq=seq, hash=new_prev)


def unsign_chains(apps, schema_editor):
    """Back to the plain SHA-256 chain, heads on the organization rows."""
    Organization = apps.get_model("genai_po", "Organization")
    AuditEvent = apps.get_model("genai_po", "AuditEvent")
    AuditChainHead = apps.get_model("genai_po", "AuditChainHead")
    for org in Organization.objects.order_by("pk"):
        prev, seq = GENESIS, 0
        for event in AuditEvent.objects.filter(organization_id=org.pk).order_by("seq").iterator():
            digest = _legacy_digest(event, org.pk, prev)
            AuditEvent.objects.filter(pk=event.pk).update(prev_hash=prev, hash=digest)
            prev, seq = digest, event.seq
        Organization.objects.filter(pk=org.pk).update(audit_head_seq=seq, audit_head_hash=prev)
    AuditChainHead.objects.all().delete()


def _run_sql(schema_editor, statement: str) -> None:
    # No parameters: the '%' of RAISE's format string is not a placeholder.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(statement)


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run_sql(schema_editor, APPEND_ONLY_SQL)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run_sql(schema_editor, DROP_APPEND_ONLY_SQL)


class Migration(migrations.Migration):

    dependencies = [
        ("genai_po", "0002_audit_trail_in_core"),
        ("governance", "0003_audit_trail_moved_to_core"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(default="", max_length=32),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.PositiveBigIntegerField(default=0)),
                ("hash", models.CharField(default=GENESIS, max_length=64)),
                ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="genai_po.organization")),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("organization",), name="audit_chain_head_one_per_org"),
                ],
            },
        ),
        migrations.RunPython(sign_chains, unsign_chains),
        migrations.RemoveField(model_name="organization", name="audit_head_hash"),
        migrations.RemoveField(model_name="organization", name="audit_head_seq"),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
