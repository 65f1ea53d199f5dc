"""The audit trail, platform code: one event per service write, chained per organization
with HMAC-SHA-256 under keys from the environment, append-only in the ORM and in
PostgreSQL, tamper-evident even against someone who can write to the database."""

import contextlib
import io
import itertools
import json
import logging
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, RestrictedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import genai_po.audit
from genai_po import services
from genai_po.audit import GENESIS_HASH, audit_chain_verify, event_digest, hashed_fields
from genai_po.models import AppendOnlyError, AuditChainHead, AuditEvent, Organization
from genai_po.roles import Role
from genai_po.tasks import audit_chains_verify
from tests.audit_helpers import (
    TABLE,
    actor_of,
    events_of,
    forged_digest,
    head_seq,
    only_new_event,
    record,
    sql,
    tamper_after,
    tamper_delete,
    verify,
)
from tests.factories import InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- 1. Every service write records exactly one event


def test_renaming_the_org_on_the_settings_page_records_request_id_and_ip(client_a, owner_a, org_a):
    head = head_seq(org_a)

    response = client_a.post(
        "/o/org-a/settings/", {"name": "Acme Renamed"}, HTTP_X_REQUEST_ID="req-rename-42"
    )

    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-rename-42"
    event = only_new_event(org_a, head)
    assert event.organization_id == org_a.pk
    assert event.seq == head + 1
    assert event.actor_user_id == owner_a.user_id
    assert event.actor_token_id is None
    assert event.actor_label == owner_a.user.email
    assert event.actor_role == "owner"
    assert event.action == "organization.update"
    assert event.object_type == "genai_po.organization"
    assert event.object_id == str(org_a.pk)
    assert event.before == {"name": "Organization A"}
    assert event.after == {"name": "Acme Renamed"}
    assert event.request_id == "req-rename-42"
    assert event.ip == "127.0.0.1"


def test_a_malformed_request_id_header_is_replaced_by_a_generated_one(client_a, org_a):
    head = head_seq(org_a)

    response = client_a.post(
        "/o/org-a/settings/", {"name": "Renamed"}, HTTP_X_REQUEST_ID="bad id; drop table"
    )

    event = only_new_event(org_a, head)
    assert event.request_id == response["X-Request-ID"]
    assert len(event.request_id) == 32
    assert event.request_id != "bad id; drop table"


def test_organization_create_records_the_org_and_its_first_owner():
    user = UserFactory()

    org = services.organization_create(user=user, name="Fresh Org")

    events = events_of(org)
    assert [(e.seq, e.action, e.object_type) for e in events] == [
        (1, "organization.create", "genai_po.organization"),
        (2, "membership.create", "genai_po.membership"),
    ]
    assert events[0].object_id == str(org.pk)
    assert events[0].before is None
    assert events[0].after == {"name": "Fresh Org", "slug": "fresh-org"}
    assert events[1].after == {"user": user.email, "role": "owner"}
    for event in events:
        assert event.organization_id == org.pk
        assert event.actor_user_id == user.pk
        assert event.actor_role == "owner"
        assert event.request_id == ""
        assert event.ip is None


def test_membership_add_records_one_event(org_a, member_factory):
    admin = member_factory(org_a, Role.ADMIN)
    newcomer = UserFactory()
    head = head_seq(org_a)

    membership = services.membership_add(actor=actor_of(admin), user=newcomer, role=Role.ENGINEER)

    event = only_new_event(org_a, head)
    assert (event.action, event.object_type, event.object_id) == (
        "membership.create",
        "genai_po.membership",
        str(membership.pk),
    )
    assert (event.actor_user_id, event.actor_role) == (admin.user_id, "admin")
    assert event.before is None
    assert event.after == {"user": newcomer.email, "role": "engineer"}


def test_membership_role_change_records_before_and_after(owner_a, org_a, member_factory):
    member = member_factory(org_a, Role.VIEWER)
    head = head_seq(org_a)

    services.membership_role_change(actor=actor_of(owner_a), membership=member, role=Role.SME)

    event = only_new_event(org_a, head)
    assert (event.action, event.object_id) == ("membership.role_change", str(member.pk))
    assert event.before == {"role": "viewer"}
    assert event.after == {"role": "sme", "user": member.user.email}


def test_a_role_change_to_the_same_role_writes_and_records_nothing(owner_a, org_a, member_factory):
    member = member_factory(org_a, Role.VIEWER)
    head = head_seq(org_a)

    services.membership_role_change(actor=actor_of(owner_a), membership=member, role=Role.VIEWER)

    assert events_of(org_a, head) == []


def test_membership_remove_records_the_removed_member(owner_a, org_a, member_factory):
    member = member_factory(org_a, Role.REVIEWER)
    pk, email = member.pk, member.user.email
    head = head_seq(org_a)

    services.membership_remove(actor=actor_of(owner_a), membership=member)

    event = only_new_event(org_a, head)
    assert (event.action, event.object_type, event.object_id) == (
        "membership.remove",
        "genai_po.membership",
        str(pk),
    )
    assert event.before == {"user": email, "role": "reviewer"}
    assert event.after is None


def test_invitation_create_records_one_event(owner_a, org_a, django_capture_on_commit_callbacks):
    head = head_seq(org_a)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = services.invitation_create(
            actor=actor_of(owner_a), email=" New.Person@Example.com ", role=Role.ENGINEER
        )

    assert len(callbacks) == 1  # the email is sent by a worker, after commit
    event = only_new_event(org_a, head)
    assert (event.action, event.object_type, event.object_id) == (
        "invitation.create",
        "genai_po.invitation",
        str(invitation.pk),
    )
    assert event.after == {
        "email": "new.person@example.com",
        "role": "engineer",
        "expires_at": invitation.expires_at.isoformat(),
    }
    assert invitation.nonce not in json.dumps(event.after)


def test_invitation_revoke_records_one_event(owner_a, org_a):
    invitation = InvitationFactory(organization=org_a)
    head = head_seq(org_a)

    services.invitation_revoke(actor=actor_of(owner_a), invitation=invitation)

    event = only_new_event(org_a, head)
    assert (event.action, event.object_id) == ("invitation.revoke", str(invitation.pk))
    assert event.before == {"status": "pending"}
    assert event.after == {"status": "revoked"}


def test_invitation_accept_records_the_acceptance_and_the_membership(org_a):
    user = UserFactory(email="joiner@example.com")
    invitation = InvitationFactory(organization=org_a, email=user.email, role=Role.SME)
    token = services.invitation_link(invitation).rstrip("/").rsplit("/", 1)[1]
    head = head_seq(org_a)

    membership = services.invitation_accept(user=user, token=token)

    events = events_of(org_a, head)
    assert [(e.action, e.object_id) for e in events] == [
        ("invitation.accept", str(invitation.pk)),
        ("membership.create", str(membership.pk)),
    ]
    assert {(e.actor_user_id, e.actor_role) for e in events} == {(user.pk, "sme")}
    assert events[0].before == {"status": "pending"}
    assert events[0].after == {"status": "accepted"}


def test_api_token_create_and_revoke_record_one_event_each_without_the_secret(owner_a, org_a):
    head = head_seq(org_a)

    token, raw = services.api_token_create(
        actor=actor_of(owner_a), name="CI", scopes=["read", "evals:run", "read"]
    )

    created = only_new_event(org_a, head)
    assert (created.action, created.object_type, created.object_id) == (
        "api_token.create",
        "genai_po.apitoken",
        str(token.pk),
    )
    assert created.after == {
        "name": "CI",
        "scopes": ["evals:run", "read"],
        "prefix": raw[:12],
        "expires_at": None,
    }
    assert raw not in json.dumps(created.after)
    assert token.token_hash not in json.dumps(created.after)

    services.api_token_revoke(actor=actor_of(owner_a), token=token)

    revoked = only_new_event(org_a, created.seq)
    assert (revoked.action, revoked.object_id) == ("api_token.revoke", str(token.pk))
    assert revoked.before == {"status": "active"}
    assert revoked.after == {"status": "revoked"}


def test_a_write_through_the_api_records_the_token_as_actor(org_a, member_factory, token_factory):
    from rest_framework.test import APIClient

    member = member_factory(org_a, Role.VIEWER)
    token, raw = token_factory(org_a, scopes=["admin"], name="ops bot")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    head = head_seq(org_a)

    response = api.patch(
        f"/api/v1/members/{member.pk}/",
        {"role": "engineer"},
        format="json",
        HTTP_X_REQUEST_ID="ci-run-7",
    )

    assert response.status_code == 200, response.content
    event = only_new_event(org_a, head)
    assert event.actor_user_id is None
    assert event.actor_token_id == token.pk
    assert event.actor_label == f"token ops bot ({token.prefix}…)"
    assert event.actor_role == "api_token"
    assert event.action == "membership.role_change"
    assert event.before == {"role": "viewer"}
    assert event.after == {"role": "engineer", "user": member.user.email}
    assert event.request_id == "ci-run-7"
    assert event.ip == "127.0.0.1"


def test_actor_role_is_the_role_at_the_time_of_the_write(owner_a, org_a, member_factory):
    admin = member_factory(org_a, Role.ADMIN)
    head = head_seq(org_a)
    services.membership_add(actor=actor_of(admin), user=UserFactory(), role=Role.VIEWER)

    services.membership_role_change(actor=actor_of(owner_a), membership=admin, role=Role.OWNER)
    services.membership_add(actor=actor_of(admin), user=UserFactory(), role=Role.VIEWER)

    by_admin = [e for e in events_of(org_a, head) if e.actor_user_id == admin.user_id]
    assert [e.actor_role for e in by_admin] == ["admin", "owner"]


def test_a_refused_or_invalid_write_records_nothing(org_a, owner_a, member_factory):
    viewer = member_factory(org_a, Role.VIEWER)
    head = head_seq(org_a)

    with pytest.raises(PermissionDenied):
        services.organization_update(actor=actor_of(viewer), organization=org_a, name="Hijacked")
    with pytest.raises(ValidationError):
        services.organization_update(actor=actor_of(owner_a), organization=org_a, name="   ")
    with pytest.raises(ValidationError):
        services.invitation_create(actor=actor_of(owner_a), email="not-an-email", role="viewer")

    assert events_of(org_a, head) == []
    assert head_seq(org_a) == head


# --- 2. An HMAC-SHA-256 chain per organization, under a key from the environment


def test_events_form_a_keyed_chain_from_genesis(org_a, settings):
    events = record(org_a, 4)

    stored = events_of(org_a)
    key_id, secret = next(iter(settings.AUDIT_KEYS.items()))
    assert [e.seq for e in stored] == [1, 2, 3, 4]
    assert stored[0].prev_hash == GENESIS_HASH
    for previous, event in itertools.pairwise(stored):
        assert event.prev_hash == previous.hash
    for event in stored:  # each digest covers the stored fields, the link and the key id
        assert event.key_id == key_id
        assert re.fullmatch(r"[0-9a-f]{64}", event.hash)
        assert event.hash == event_digest(
            organization_id=org_a.pk, fields=hashed_fields(event), prev_hash=event.prev_hash,
            key_id=event.key_id,
        )  # fmt: skip
        # Keyed: the plain SHA-256 of the same canonical form is something else.
        assert event.hash != forged_digest(event, event.prev_hash, secret=b"")
        assert event.hash == forged_digest(event, event.prev_hash, secret=secret)
    assert len({e.hash for e in stored}) == 4
    assert [e.hash for e in stored] == [e.hash for e in events]
    head = AuditChainHead.objects.for_org(org_a).get()
    assert (head.seq, head.hash) == (4, stored[-1].hash)


def test_each_organization_has_its_own_independent_chain(org_a, org_b):
    record(org_a, 2)
    record(org_b, 1)
    record(org_a, 1)
    record(org_b, 2)

    chain_a, chain_b = events_of(org_a), events_of(org_b)
    assert [e.seq for e in chain_a] == [1, 2, 3]
    assert [e.seq for e in chain_b] == [1, 2, 3]
    assert chain_a[0].prev_hash == chain_b[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in chain_a[1:]] == [e.hash for e in chain_a[:-1]]
    assert [e.prev_hash for e in chain_b[1:]] == [e.hash for e in chain_b[:-1]]
    assert not {e.hash for e in chain_a} & {e.hash for e in chain_b}
    assert audit_chain_verify(organization=org_a).ok
    assert audit_chain_verify(organization=org_b).ok


def test_an_audited_write_locks_the_chain_head_not_the_organization_row(org_a):
    """Another transaction holding the organization row does not block an append."""
    record(org_a, 1)
    with CaptureQueriesContext(connection) as queries:
        record(org_a, 1)
    sql_text = " ".join(q["sql"] for q in queries.captured_queries)
    assert "FOR UPDATE" in sql_text
    assert 'FROM "genai_po_organization"' not in sql_text
    assert 'FROM "genai_po_auditchainhead"' in sql_text


def test_the_signing_key_comes_first_and_rotation_keeps_old_events_verifiable(org_a, settings):
    record(org_a, 2)
    old_id = events_of(org_a)[0].key_id
    settings.AUDIT_KEYS = {"k2": b"n" * 48, **settings.AUDIT_KEYS}

    record(org_a, 1)

    assert [e.key_id for e in events_of(org_a)] == [old_id, old_id, "k2"]
    assert audit_chain_verify(organization=org_a).ok
    settings.AUDIT_KEYS = {"k2": b"n" * 48}  # the old key dropped too early
    report = audit_chain_verify(organization=org_a)
    assert report.broken_seq == 1
    assert f"signed with key {old_id!r}, which GENAI_PO_AUDIT_KEYS does not list" in report.reason


# --- 3. Append-only: through the ORM, and in PostgreSQL itself


@pytest.fixture
def event(org_a) -> AuditEvent:
    record(org_a, 2)
    return AuditEvent.objects.for_org(org_a).get(seq=1)


def test_saving_an_existing_event_raises(event, org_a):
    event.after = {"n": "forged"}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.save(update_fields=["after"])
    assert AuditEvent.objects.for_org(org_a).get(seq=1).after == {"n": 1}


def test_deleting_an_event_raises(event, org_a):
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.for_org(org_a).count() == 2


def test_queryset_update_and_delete_raise(event, org_a):
    events = AuditEvent.objects.for_org(org_a)
    with pytest.raises(AppendOnlyError):
        events.update(after={"n": "forged"})
    with pytest.raises(AppendOnlyError):
        events.filter(seq=1).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.across_orgs().delete()
    event.action = "forged"
    with pytest.raises(AppendOnlyError), transaction.atomic():  # bulk_update is atomic itself
        AuditEvent.objects.for_org(org_a).bulk_update([event], ["action"])
    assert [(e.seq, e.action, e.after) for e in events_of(org_a)] == [
        (1, "test.event", {"n": 1}),
        (2, "test.event", {"n": 2}),
    ]
    assert audit_chain_verify(organization=org_a).ok


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {TABLE} SET after = '{{}}'::jsonb WHERE organization_id = %s",  # noqa: S608
        f"DELETE FROM {TABLE} WHERE organization_id = %s",  # noqa: S608
    ],
    ids=["update", "delete"],
)
def test_postgresql_refuses_update_and_delete_of_audit_rows(event, org_a, statement):
    """The base manager, raw SQL, a bug: whatever the path, the database says no."""
    with (
        pytest.raises(IntegrityError, match="audit events are append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [org_a.pk])
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent._base_manager.filter(organization_id=org_a.pk).update(action="forged")
    assert [e.action for e in events_of(org_a)] == ["test.event", "test.event"]


def test_purging_an_organization_takes_its_trail_with_it_and_nothing_else(org_a, org_b):
    record(org_a, 3)
    record(org_b, 2)
    doomed = services.organization_create(user=UserFactory(), name="Doomed Org")
    record(doomed, 2)

    call_command("purge_organization", "--org", doomed.slug, "--yes", stdout=io.StringIO())

    assert not Organization.objects.filter(pk=doomed.pk).exists()
    assert not AuditEvent.objects.across_orgs().filter(organization_id=doomed.pk).exists()
    assert len(events_of(org_a)) == 3 and len(events_of(org_b)) == 2
    with pytest.raises(CommandError, match="--yes"):
        call_command("purge_organization", "--org", org_a.slug, stdout=io.StringIO())
    assert len(events_of(org_a)) == 3
    # Outside the purge, the trigger still holds.
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent._base_manager.filter(organization_id=org_a.pk).delete()


# --- 4. Tampering is detected by `manage.py audit_verify`


def test_audit_verify_reports_an_intact_chain_and_its_head_digest(org_a):
    events = record(org_a, 4)

    assert verify("org-a") == (
        f"OK: 4 audit events of org-a verified; the chain is intact.\nhead: 4:{events[-1].hash}"
    )


def test_audit_verify_accepts_an_organization_without_events(org_b):
    assert verify("org-b") == (
        f"OK: 0 audit events of org-b verified; the chain is intact.\nhead: 0:{GENESIS_HASH}"
    )


def test_audit_verify_refuses_an_unknown_organization():
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        verify("nope")


def _broken(slug: str, *extra: str) -> str:
    with pytest.raises(CommandError) as exc:
        verify(slug, *extra)
    return str(exc.value)


def test_audit_verify_detects_content_changed_with_raw_sql(org_a, org_b):
    record(org_a, 4)
    record(org_b, 2)

    tamper_after(org_a, 2, {"n": 999})

    assert _broken("org-a") == (
        "BROKEN: the audit chain of org-a breaks at event #2: "
        "its content or digest was changed after writing. 2 event(s) read."
    )
    assert verify("org-b").startswith("OK: 2 audit events of org-b verified; the chain is intact.")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("created_at", "2020-01-01T00:00:00Z"),
        ("actor_user_id", None),
        ("actor_label", "someone-else@example.com"),
        ("actor_role", "viewer"),
        ("action", "nothing.happened"),
        ("object_type", "genai_po.user"),
        ("object_id", "999"),
        ("before", '{"name": "forged"}'),
        ("request_id", "forged-request"),
        ("ip", "10.0.0.1"),
        ("prev_hash", "f" * 64),
        ("hash", "f" * 64),
    ],
)
def test_audit_verify_detects_a_change_to_any_recorded_column(org_a, owner_a, column, value):
    services.organization_update(actor=actor_of(owner_a), organization=org_a, name="One")
    services.organization_update(actor=actor_of(owner_a), organization=org_a, name="Two")
    services.organization_update(actor=actor_of(owner_a), organization=org_a, name="Three")

    changed = sql(
        f"UPDATE {TABLE} SET {column} = %s WHERE organization_id = %s AND seq = 2",  # noqa: S608 - our table, our columns
        [value, org_a.pk],
    )

    assert changed == 1
    report = audit_chain_verify(organization=org_a)
    assert report.broken_seq == 2 or (column == "hash" and report.broken_seq == 3)
    assert report.events_checked == report.broken_seq


def test_audit_verify_detects_a_deleted_middle_event(org_a):
    record(org_a, 4)

    tamper_delete(org_a, 2)

    assert _broken("org-a") == (
        "BROKEN: the audit chain of org-a breaks at event #2: "
        "event #2 is missing (deleted). 2 event(s) read."
    )


def test_audit_verify_detects_the_deleted_newest_event(org_a):
    record(org_a, 4)

    tamper_delete(org_a, 4)

    assert _broken("org-a") == (
        "BROKEN: the audit chain of org-a breaks at event #4: the chain ends at #3 but the "
        "organization recorded #4 as its newest event (events were deleted). 3 event(s) read."
    )


def test_a_forged_chain_recomputed_without_the_key_is_caught_at_the_forged_event(org_a):
    """The attack on the plain SHA-256 chain: change an event, recompute every later digest
    and the head. Without the key, the first forged digest already fails."""
    record(org_a, 4)

    tamper_after(org_a, 2, {"n": "forged"}, rehash_chain=True)

    assert _broken("org-a") == (
        "BROKEN: the audit chain of org-a breaks at event #2: "
        "its content or digest was changed after writing. 2 event(s) read."
    )


def test_an_event_forged_through_the_base_manager_is_caught(org_a):
    """Someone inserts a whole new newest event (the base manager, no service) with a digest
    of their own, and moves the head to it."""
    record(org_a, 2)
    head = AuditChainHead.objects.for_org(org_a).get()
    forged = AuditEvent(
        organization_id=org_a.pk, seq=3, created_at=timezone.now(), actor_label="ceo@example.com",
        actor_role="owner", action="membership.remove", object_type="genai_po.membership",
        object_id="1", prev_hash=head.hash, key_id=events_of(org_a)[0].key_id,
    )  # fmt: skip
    forged.hash = forged_digest(forged, head.hash)
    AuditEvent._base_manager.bulk_create([forged])
    AuditChainHead.objects.for_org(org_a).update(seq=3, hash=forged.hash)

    assert "breaks at event #3: its content or digest was changed" in _broken("org-a")


def test_an_exported_head_digest_catches_a_rewrite_by_someone_holding_the_key(org_a, settings):
    """Even with the key, a rewritten chain no longer carries the digest exported earlier."""
    record(org_a, 3)
    exported = verify("org-a").splitlines()[-1].removeprefix("head: ")
    assert verify("org-a", "--expect", exported).startswith(
        f"OK: 3 audit events of org-a verified; the chain is intact; the exported head "
        f"{exported} still holds."
    )
    record(org_a, 1)  # the chain goes on: the exported head still holds
    assert verify("org-a", "--expect", exported).startswith("OK: 4 audit events")

    # An insider with the key rewrites event 2 and re-signs everything after it.
    key_id, secret = next(iter(settings.AUDIT_KEYS.items()))
    events = {e.seq: e for e in events_of(org_a)}
    events[2].after = {"n": "rewritten"}
    sql(f"UPDATE {TABLE} SET after = %s::jsonb WHERE organization_id = %s AND seq = 2",  # noqa: S608
        [json.dumps(events[2].after), org_a.pk])  # fmt: skip
    prev = events[1].hash
    for seq in (2, 3, 4):
        digest = forged_digest(events[seq], prev, secret=secret)
        sql(f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE organization_id = %s "  # noqa: S608
            "AND seq = %s", [prev, digest, org_a.pk, seq])  # fmt: skip
        prev = digest
    AuditChainHead.objects.for_org(org_a).update(hash=prev)

    assert verify("org-a").startswith("OK: 4 audit events")  # consistent, as keyed
    assert _broken("org-a", "--expect", exported) == (
        "BROKEN: the audit chain of org-a does not hold: event #3 no longer has the digest "
        "exported earlier: the chain was rewritten up to it."
    )
    assert "must be <seq>:<64 hex digits>" in _broken("org-a", "--expect", "3:abc")
    assert "event #9 of the exported head is missing" in _broken(
        "org-a", "--expect", f"9:{'a' * 64}"
    )


def test_deleting_a_user_who_acted_leaves_the_chain_verifiable(org_a, member_factory):
    admin = member_factory(org_a, Role.ADMIN)
    services.membership_add(actor=actor_of(admin), user=UserFactory(), role=Role.VIEWER)
    record(org_a, 1)

    # Refusing the deletion would be an acceptable fix too.
    with contextlib.suppress(ProtectedError, RestrictedError):
        admin.user.delete()  # e.g. an account deleted in the admin site

    report = audit_chain_verify(organization=org_a)
    assert report.ok, f"#{report.broken_seq}: {report.reason}"


def test_a_write_landing_during_verification_is_not_reported_as_tampering(org_a, monkeypatch):
    record(org_a, 3)
    real = genai_po.audit.chain_head_of
    fired = []

    def head_then_a_write(organization):
        """An append by a web request, committed between the two reads of the verifier."""
        head = real(organization)
        if not fired:
            fired.append(record(org_a, 1))
        return head

    monkeypatch.setattr(genai_po.audit, "chain_head_of", head_then_a_write)

    report = audit_chain_verify(organization=org_a)

    assert fired
    assert report.ok, f"#{report.broken_seq}: {report.reason}"
    assert report.head_seq == 3


def test_the_nightly_task_logs_each_head_digest_and_each_broken_chain(org_a, org_b, caplog):
    a = record(org_a, 3)
    record(org_b, 3)
    with caplog.at_level(logging.INFO, logger="genai_po.tasks"):
        assert audit_chains_verify() == 0
    assert f"Audit chain of org-a intact: 3 event(s), head 3:{a[-1].hash}" in [
        r.getMessage() for r in caplog.records if r.name == "genai_po.tasks"
    ]
    caplog.clear()

    tamper_delete(org_b, 1)
    with caplog.at_level(logging.ERROR, logger="genai_po.tasks"):
        broken = audit_chains_verify()

    assert broken == 1
    head_b = AuditChainHead.objects.for_org(org_b).get()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "Audit chain of org-b is broken at event #1: event #1 is missing (deleted) "
        f"(recorded head 3:{head_b.hash})"
    ]
