"""The audit trail: one event per service write, hash-chained per organization,
append-only, tamper-evident, readable by owners and admins only."""

import contextlib
import csv
import io
import itertools
import json
import logging
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import ProtectedError, RestrictedError

import governance.audit
from genai_po import services
from genai_po.actors import Actor
from genai_po.api.views import AuditEventViewSet
from genai_po.models import Organization
from genai_po.roles import Role
from governance.audit import (
    GENESIS_HASH,
    _event_digest,
    _hashed_fields,
    audit_chain_verify,
    audit_record,
)
from governance.models import AppendOnlyError, AuditEvent
from governance.tasks import audit_chains_verify
from tests.factories import InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db

TABLE = AuditEvent._meta.db_table
NON_AUDIT_ROLES = [Role.PRODUCT_OWNER, Role.ENGINEER, Role.SME, Role.REVIEWER, Role.VIEWER]


# --- helpers


def _actor(membership, request=None) -> Actor:
    return Actor.for_member(
        user=membership.user,
        organization=membership.organization,
        role=membership.role,
        request=request,
    )


def _head(org) -> int:
    return Organization.objects.get(pk=org.pk).audit_head_seq


def _events(org, after_seq: int = 0) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_org(org).filter(seq__gt=after_seq).order_by("seq"))


def _only_new_event(org, after_seq: int) -> AuditEvent:
    new = _events(org, after_seq)
    assert len(new) == 1, [str(e) for e in new]
    return new[0]


def _record(
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


def _verify(slug: str) -> str:
    out = io.StringIO()
    call_command("audit_verify", "--org", slug, stdout=out)
    return out.getvalue().strip()


def _tamper_delete(org, seq: int) -> None:
    """What an attacker with database access does, bypassing the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE organization_id = %s AND seq = %s",  # noqa: S608 - our table
            [org.pk, seq],
        )
        assert cursor.rowcount == 1


def _tamper_after(org, seq: int, after: dict, *, rehash: bool = False) -> None:
    """Rewrite an event's `after` in SQL; with `rehash`, recompute its hash as well."""
    event = AuditEvent.objects.for_org(org).get(seq=seq)
    event.after = after
    digest = _event_digest(
        organization_id=org.pk, fields=_hashed_fields(event), prev_hash=event.prev_hash
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET after = %s::jsonb, hash = %s "  # noqa: S608 - our table
            "WHERE organization_id = %s AND seq = %s",
            [json.dumps(after), digest if rehash else event.hash, org.pk, seq],
        )
        assert cursor.rowcount == 1


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# --- 1. Every service write records exactly one event


def test_renaming_the_org_on_the_settings_page_records_request_id_and_ip(client_a, owner_a, org_a):
    head = _head(org_a)

    response = client_a.post(
        "/o/org-a/settings/", {"name": "Acme Renamed"}, HTTP_X_REQUEST_ID="req-rename-42"
    )

    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-rename-42"
    event = _only_new_event(org_a, head)
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
    head = _head(org_a)

    response = client_a.post(
        "/o/org-a/settings/", {"name": "Renamed"}, HTTP_X_REQUEST_ID="bad id; drop table"
    )

    event = _only_new_event(org_a, head)
    assert event.request_id == response["X-Request-ID"]
    assert len(event.request_id) == 32
    assert event.request_id != "bad id; drop table"


def test_organization_create_records_the_org_and_its_first_owner():
    user = UserFactory()

    org = services.organization_create(user=user, name="Fresh Org")

    events = _events(org)
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
    head = _head(org_a)

    membership = services.membership_add(actor=_actor(admin), user=newcomer, role=Role.ENGINEER)

    event = _only_new_event(org_a, head)
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
    head = _head(org_a)

    services.membership_role_change(actor=_actor(owner_a), membership=member, role=Role.SME)

    event = _only_new_event(org_a, head)
    assert (event.action, event.object_id) == ("membership.role_change", str(member.pk))
    assert event.before == {"role": "viewer"}
    assert event.after == {"role": "sme", "user": member.user.email}


def test_a_role_change_to_the_same_role_writes_and_records_nothing(owner_a, org_a, member_factory):
    member = member_factory(org_a, Role.VIEWER)
    head = _head(org_a)

    services.membership_role_change(actor=_actor(owner_a), membership=member, role=Role.VIEWER)

    assert _events(org_a, head) == []


def test_membership_remove_records_the_removed_member(owner_a, org_a, member_factory):
    member = member_factory(org_a, Role.REVIEWER)
    pk, email = member.pk, member.user.email
    head = _head(org_a)

    services.membership_remove(actor=_actor(owner_a), membership=member)

    event = _only_new_event(org_a, head)
    assert (event.action, event.object_type, event.object_id) == (
        "membership.remove",
        "genai_po.membership",
        str(pk),
    )
    assert event.before == {"user": email, "role": "reviewer"}
    assert event.after is None


def test_invitation_create_records_one_event(owner_a, org_a, django_capture_on_commit_callbacks):
    head = _head(org_a)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = services.invitation_create(
            actor=_actor(owner_a), email=" New.Person@Example.com ", role=Role.ENGINEER
        )

    assert len(callbacks) == 1  # the email is sent by a worker, after commit
    event = _only_new_event(org_a, head)
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
    head = _head(org_a)

    services.invitation_revoke(actor=_actor(owner_a), invitation=invitation)

    event = _only_new_event(org_a, head)
    assert (event.action, event.object_id) == ("invitation.revoke", str(invitation.pk))
    assert event.before == {"status": "pending"}
    assert event.after == {"status": "revoked"}


def test_invitation_accept_records_the_acceptance_and_the_membership(org_a):
    user = UserFactory(email="joiner@example.com")
    invitation = InvitationFactory(organization=org_a, email=user.email, role=Role.SME)
    token = services.invitation_link(invitation).rstrip("/").rsplit("/", 1)[1]
    head = _head(org_a)

    membership = services.invitation_accept(user=user, token=token)

    events = _events(org_a, head)
    assert [(e.action, e.object_id) for e in events] == [
        ("invitation.accept", str(invitation.pk)),
        ("membership.create", str(membership.pk)),
    ]
    assert {(e.actor_user_id, e.actor_role) for e in events} == {(user.pk, "sme")}
    assert events[0].before == {"status": "pending"}
    assert events[0].after == {"status": "accepted"}


def test_api_token_create_and_revoke_record_one_event_each_without_the_secret(owner_a, org_a):
    head = _head(org_a)

    token, raw = services.api_token_create(
        actor=_actor(owner_a), name="CI", scopes=["read", "evals:run", "read"]
    )

    created = _only_new_event(org_a, head)
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

    services.api_token_revoke(actor=_actor(owner_a), token=token)

    revoked = _only_new_event(org_a, created.seq)
    assert (revoked.action, revoked.object_id) == ("api_token.revoke", str(token.pk))
    assert revoked.before == {"status": "active"}
    assert revoked.after == {"status": "revoked"}


def test_a_write_through_the_api_records_the_token_as_actor(org_a, member_factory, token_factory):
    from rest_framework.test import APIClient

    member = member_factory(org_a, Role.VIEWER)
    token, raw = token_factory(org_a, scopes=["admin"], name="ops bot")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    head = _head(org_a)

    response = api.patch(
        f"/api/v1/members/{member.pk}/",
        {"role": "engineer"},
        format="json",
        HTTP_X_REQUEST_ID="ci-run-7",
    )

    assert response.status_code == 200, response.content
    event = _only_new_event(org_a, head)
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
    head = _head(org_a)
    services.membership_add(actor=_actor(admin), user=UserFactory(), role=Role.VIEWER)

    services.membership_role_change(actor=_actor(owner_a), membership=admin, role=Role.OWNER)
    services.membership_add(actor=_actor(admin), user=UserFactory(), role=Role.VIEWER)

    by_admin = [e for e in _events(org_a, head) if e.actor_user_id == admin.user_id]
    assert [e.actor_role for e in by_admin] == ["admin", "owner"]


def test_a_refused_or_invalid_write_records_nothing(org_a, owner_a, member_factory):
    viewer = member_factory(org_a, Role.VIEWER)
    head = _head(org_a)

    with pytest.raises(PermissionDenied):
        services.organization_update(actor=_actor(viewer), organization=org_a, name="Hijacked")
    with pytest.raises(ValidationError):
        services.organization_update(actor=_actor(owner_a), organization=org_a, name="   ")
    with pytest.raises(ValidationError):
        services.invitation_create(actor=_actor(owner_a), email="not-an-email", role="viewer")

    assert _events(org_a, head) == []
    assert _head(org_a) == head


# --- 2. Hash chain per organization


def test_events_form_a_hash_chain_from_genesis(org_a):
    events = _record(org_a, 4)

    stored = _events(org_a)
    assert [e.seq for e in stored] == [1, 2, 3, 4]
    assert stored[0].prev_hash == GENESIS_HASH
    for previous, event in itertools.pairwise(stored):
        assert event.prev_hash == previous.hash
    for event in stored:  # each hash covers the stored fields and the previous hash
        assert re.fullmatch(r"[0-9a-f]{64}", event.hash)
        assert event.hash == _event_digest(
            organization_id=org_a.pk, fields=_hashed_fields(event), prev_hash=event.prev_hash
        )
    assert len({e.hash for e in stored}) == 4
    assert [e.hash for e in stored] == [e.hash for e in events]
    org_a.refresh_from_db()
    assert (org_a.audit_head_seq, org_a.audit_head_hash) == (4, stored[-1].hash)


def test_each_organization_has_its_own_independent_chain(org_a, org_b):
    _record(org_a, 2)
    _record(org_b, 1)
    _record(org_a, 1)
    _record(org_b, 2)

    chain_a, chain_b = _events(org_a), _events(org_b)
    assert [e.seq for e in chain_a] == [1, 2, 3]
    assert [e.seq for e in chain_b] == [1, 2, 3]
    assert chain_a[0].prev_hash == chain_b[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in chain_a[1:]] == [e.hash for e in chain_a[:-1]]
    assert [e.prev_hash for e in chain_b[1:]] == [e.hash for e in chain_b[:-1]]
    assert not {e.hash for e in chain_a} & {e.hash for e in chain_b}
    assert audit_chain_verify(organization=org_a).ok
    assert audit_chain_verify(organization=org_b).ok


# --- 3. Append-only through the ORM


@pytest.fixture
def event(org_a) -> AuditEvent:
    _record(org_a, 2)
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
    assert [(e.seq, e.action, e.after) for e in _events(org_a)] == [
        (1, "test.event", {"n": 1}),
        (2, "test.event", {"n": 2}),
    ]
    assert audit_chain_verify(organization=org_a).ok


# --- 4. Tampering is detected by `manage.py audit_verify`


def test_audit_verify_reports_an_intact_chain(org_a):
    _record(org_a, 4)

    assert _verify("org-a") == "OK: 4 audit events of org-a verified; the chain is intact."


def test_audit_verify_accepts_an_organization_without_events(org_b):
    assert _verify("org-b") == "OK: 0 audit events of org-b verified; the chain is intact."


def test_audit_verify_refuses_an_unknown_organization():
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        _verify("nope")


def _broken(slug: str) -> str:
    with pytest.raises(CommandError) as exc:
        _verify(slug)
    return str(exc.value)


def test_audit_verify_detects_content_changed_with_raw_sql(org_a, org_b):
    _record(org_a, 4)
    _record(org_b, 2)

    _tamper_after(org_a, 2, {"n": 999})

    assert _broken("org-a") == (
        "BROKEN: the audit chain of org-a breaks at event #2: "
        "its content was changed after writing. 2 event(s) read."
    )
    assert _verify("org-b") == "OK: 2 audit events of org-b verified; the chain is intact."


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
    ],
)
def test_audit_verify_detects_a_change_to_any_recorded_column(org_a, owner_a, column, value):
    services.organization_update(actor=_actor(owner_a), organization=org_a, name="One")
    services.organization_update(actor=_actor(owner_a), organization=org_a, name="Two")
    services.organization_update(actor=_actor(owner_a), organization=org_a, name="Three")

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET {column} = %s WHERE organization_id = %s AND seq = 2",  # noqa: S608 - our table, our columns
            [value, org_a.pk],
        )
        assert cursor.rowcount == 1

    report = audit_chain_verify(organization=org_a)
    assert (report.broken_seq, report.events_checked) == (2, 2)


def test_audit_verify_detects_a_deleted_middle_event(org_a):
    _record(org_a, 4)

    _tamper_delete(org_a, 2)

    assert _broken("org-a") == (
        "BROKEN: the audit chain of org-a breaks at event #2: "
        "event #2 is missing (deleted). 2 event(s) read."
    )


def test_audit_verify_detects_the_deleted_newest_event(org_a):
    _record(org_a, 4)

    _tamper_delete(org_a, 4)

    assert _broken("org-a") == (
        "BROKEN: the audit chain of org-a breaks at event #4: the chain ends at #3 but the "
        "organization recorded #4 as its newest event (events were deleted). 3 event(s) read."
    )


def test_audit_verify_detects_a_rehashed_event_at_the_next_link(org_a):
    _record(org_a, 4)

    _tamper_after(org_a, 2, {"n": "forged"}, rehash=True)

    assert audit_chain_verify(organization=org_a).broken_seq == 3
    assert _broken("org-a") == (
        "BROKEN: the audit chain of org-a breaks at event #3: "
        "its link to the previous event does not match. 3 event(s) read."
    )


def test_audit_verify_names_the_rehashed_newest_event(org_a):
    _record(org_a, 4)

    _tamper_after(org_a, 4, {"n": "forged"}, rehash=True)

    message = _broken("org-a")  # today: "breaks at event #5: the chain ends at #4 but ..."
    assert "breaks at event #4:" in message
    assert "deleted" not in message


def test_deleting_a_user_who_acted_leaves_the_chain_verifiable(org_a, member_factory):
    admin = member_factory(org_a, Role.ADMIN)
    services.membership_add(actor=_actor(admin), user=UserFactory(), role=Role.VIEWER)
    _record(org_a, 1)

    # Refusing the deletion would be an acceptable fix too.
    with contextlib.suppress(ProtectedError, RestrictedError):
        admin.user.delete()  # e.g. an account deleted in the admin site

    report = audit_chain_verify(organization=org_a)
    assert report.ok, f"#{report.broken_seq}: {report.reason}"


def test_a_write_landing_during_verification_is_not_reported_as_tampering(org_a, monkeypatch):
    _record(org_a, 3)
    real = Organization.objects
    fired = []

    class WriteRightAfterHeadIsRead:
        """An append by a web request, committed between the two reads of the verifier."""

        def __getattr__(self, name):
            return getattr(real, name)

        def get(self, **kwargs):
            org = real.get(**kwargs)
            if not fired:
                fired.append(_record(org_a, 1))
            return org

    monkeypatch.setattr(Organization, "objects", WriteRightAfterHeadIsRead())

    report = audit_chain_verify(organization=org_a)

    assert fired
    assert report.ok, f"#{report.broken_seq}: {report.reason}"


def test_the_nightly_task_counts_and_logs_broken_chains(org_a, org_b, caplog):
    _record(org_a, 3)
    _record(org_b, 3)
    assert audit_chains_verify() == 0

    _tamper_delete(org_b, 1)
    with caplog.at_level(logging.ERROR, logger="governance.tasks"):
        broken = audit_chains_verify()

    assert broken == 1
    assert [r.getMessage() for r in caplog.records if r.name == "governance.tasks"] == [
        "Audit chain of org-b is broken at event #1: event #1 is missing (deleted)"
    ]


# --- 5. The audit page, its filters, pagination and CSV export


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
@pytest.mark.parametrize(
    "url", ["/o/org-a/governance/audit/", "/o/org-a/governance/audit/export.csv"]
)
def test_owners_and_admins_read_the_audit_trail(client, org_a, member_factory, role, url):
    client.force_login(member_factory(org_a, role).user)

    response = client.get(url)

    assert response.status_code == 200


@pytest.mark.parametrize("role", NON_AUDIT_ROLES)
@pytest.mark.parametrize(
    "url", ["/o/org-a/governance/audit/", "/o/org-a/governance/audit/export.csv"]
)
def test_other_roles_get_403(client, org_a, member_factory, role, url):
    _record(org_a, 1)
    client.force_login(member_factory(org_a, role).user)

    response = client.get(url)

    assert response.status_code == 403
    assert b"test.event" not in response.content


@pytest.mark.parametrize(
    "url", ["/o/org-a/governance/audit/", "/o/org-a/governance/audit/export.csv"]
)
def test_non_members_get_404_like_a_missing_org(client, org_a, owner_b, url):
    _record(org_a, 1)
    client.force_login(owner_b.user)

    response = client.get(url)
    missing = client.get(url.replace("org-a", "no-such-org"))

    assert response.status_code == missing.status_code == 404
    assert _without_csrf(response) == _without_csrf(missing)


def test_anonymous_visitors_are_sent_to_sign_in(client, org_a):
    response = client.get("/o/org-a/governance/audit/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def _without_csrf(response) -> str:
    """The page with its per-response (masked) CSRF tokens blanked out."""
    return re.sub(r"[A-Za-z0-9]{64}", "<csrf>", response.content.decode())


def _page_seqs(response) -> list[int]:
    assert response.status_code == 200
    return [e.seq for e in response.context["page"]]


@pytest.fixture
def mixed_events(org_a, org_b, owner_a, monkeypatch):
    """Seven events of org A at known times, by known actors; and one of org B."""
    alice = Actor.system(organization=org_a, label="Alice@example.com")
    bob = Actor.system(organization=org_a, label="bob@example.com")
    member, invite, org_type = "genai_po.membership", "genai_po.invitation", "genai_po.organization"
    rows = [
        # (seq, when (UTC), actor, action, object_type)
        (1, datetime(2026, 1, 10, 9, 0, tzinfo=UTC), alice, "membership.create", member),
        (2, datetime(2026, 1, 19, 23, 59, 59, tzinfo=UTC), bob, "invitation.create", invite),
        (3, datetime(2026, 1, 20, 0, 0, tzinfo=UTC), alice, "invitation.create", invite),
        (
            4,
            datetime(2026, 1, 20, 23, 59, 59, 999999, tzinfo=UTC),
            bob,
            "membership.create",
            member,
        ),
        (5, datetime(2026, 1, 21, 0, 0, tzinfo=UTC), alice, "organization.update", org_type),
        (6, datetime(2026, 2, 1, 12, 0, tzinfo=UTC), bob, "membership.role_change", member),
        (7, datetime(2026, 2, 2, 12, 0, tzinfo=UTC), alice, "membership.create", member),
    ]
    with monkeypatch.context() as patch:
        for seq, when, actor, action, object_type in rows:
            patch.setattr(governance.audit, "timezone", SimpleNamespace(now=lambda w=when: w))
            event = audit_record(
                actor=actor, action=action, object_type=object_type, object_id=seq, after={"n": seq}
            )
            assert event.seq == seq
        audit_record(
            actor=Actor.system(organization=org_b, label="alice@example.com"),
            action="membership.create",
            object_type=member,
            object_id=1,
        )
    return rows


@pytest.mark.parametrize(
    ("query", "seqs"),
    [
        ("", [7, 6, 5, 4, 3, 2, 1]),
        ("action=membership.create", [7, 4, 1]),
        ("action=invitation.create", [3, 2]),
        ("action=nothing.like.this", []),
        ("object_type=genai_po.membership", [7, 6, 4, 1]),
        ("object_type=genai_po.organization", [5]),
        ("actor=ALICE", [7, 5, 3, 1]),
        ("actor=bob%40", [6, 4, 2]),
        ("since=2026-01-20", [7, 6, 5, 4, 3]),
        ("until=2026-01-20", [4, 3, 2, 1]),
        ("since=2026-01-20&until=2026-01-20", [4, 3]),
        ("since=2026-01-21&until=2026-01-19", []),
        ("action=membership.create&actor=alice&since=2026-01-11", [7]),
        ("object_type=genai_po.invitation&actor=bob", [2]),
    ],
)
def test_filters_narrow_the_list_exactly(client_a, mixed_events, query, seqs):
    response = client_a.get(f"/o/org-a/governance/audit/?{query}")

    assert _page_seqs(response) == seqs
    assert response.context["page"].paginator.count == len(seqs)


def test_an_unreadable_filter_is_reported_and_ignored(client_a, mixed_events):
    response = client_a.get("/o/org-a/governance/audit/?since=yesterday&action=invitation.create")

    assert _page_seqs(response) == [7, 6, 5, 4, 3, 2, 1]
    assert "Some filters were not understood" in response.content.decode()


def test_the_filter_choices_list_only_this_orgs_values(client_a, mixed_events, org_b):
    audit_record(
        actor=Actor.system(organization=org_b, label="x"),
        action="b.only.action",
        object_type="b.only.type",
        object_id=1,
    )

    response = client_a.get("/o/org-a/governance/audit/")

    assert response.context["choices"] == {
        "actions": [
            "invitation.create",
            "membership.create",
            "membership.role_change",
            "organization.update",
        ],
        "object_types": ["genai_po.invitation", "genai_po.membership", "genai_po.organization"],
    }


def test_the_list_paginates_at_50_and_keeps_the_filters(client_a, org_a):
    _record(org_a, 60, action="bulk.write")
    _record(org_a, 3, action="other.write")

    first = client_a.get("/o/org-a/governance/audit/?action=bulk.write")
    second = client_a.get("/o/org-a/governance/audit/?action=bulk.write&page=2")
    beyond = client_a.get("/o/org-a/governance/audit/?action=bulk.write&page=9")

    assert _page_seqs(first) == list(range(60, 10, -1))
    assert _page_seqs(second) == list(range(10, 0, -1))
    assert _page_seqs(beyond) == list(range(10, 0, -1))
    assert first.context["page"].paginator.num_pages == 2
    assert 'href="?action=bulk.write&amp;page=2"' in first.content.decode()
    assert 'href="?action=bulk.write&amp;page=1"' in second.content.decode()


# user, organization, membership, event count, 2 filter choices, the org switcher's
# memberships, the page of events, and the session save (savepoint, update, release)
QUERIES_FOR_AUDIT_PAGE = 11


@pytest.mark.parametrize("count", [5, 60])
def test_the_page_issues_a_constant_number_of_queries(
    client_a, org_a, owner_a, django_assert_num_queries, count
):
    _record(org_a, count, actor=_actor(owner_a))
    client_a.get("/o/org-a/governance/audit/")  # warm the session

    with django_assert_num_queries(QUERIES_FOR_AUDIT_PAGE):
        response = client_a.get("/o/org-a/governance/audit/")

    assert len(response.context["page"].object_list) == min(count, 50)


CSV_HEADER = [
    "seq",
    "created_at",
    "actor_label",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
    "ip",
    "prev_hash",
    "hash",
]


def test_csv_export_streams_a_header_and_one_row_per_filtered_event(client_a, org_a, mixed_events):
    response = client_a.get("/o/org-a/governance/audit/export.csv?action=membership.create")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="audit-org-a.csv"'
    rows = _csv_rows(response)
    assert rows[0] == CSV_HEADER
    assert [int(r[0]) for r in rows[1:]] == [7, 4, 1]
    by_seq = {e.seq: e for e in _events(org_a)}
    newest = dict(zip(CSV_HEADER, rows[1], strict=True))
    assert newest == {
        "seq": "7",
        "created_at": "2026-02-02T12:00:00+00:00",
        "actor_label": "Alice@example.com",
        "actor_role": "system",
        "action": "membership.create",
        "object_type": "genai_po.membership",
        "object_id": "7",
        "before": "",
        "after": json.dumps({"n": 7}),
        "request_id": "",
        "ip": "",
        "prev_hash": by_seq[6].hash,
        "hash": by_seq[7].hash,
    }


def test_csv_export_without_filters_holds_every_event_of_the_org_only(client_a, mixed_events):
    rows = _csv_rows(client_a.get("/o/org-a/governance/audit/export.csv"))

    assert len(rows) == 1 + 7
    assert [int(r[0]) for r in rows[1:]] == [7, 6, 5, 4, 3, 2, 1]
    assert all(r[2] != "alice@example.com" for r in rows[1:])  # org B's lower-case alice


def test_csv_export_of_an_empty_selection_is_just_the_header(client_a, mixed_events):
    rows = _csv_rows(client_a.get("/o/org-a/governance/audit/export.csv?action=none"))

    assert rows == [CSV_HEADER]


@pytest.mark.parametrize(
    "label",
    ['=HYPERLINK("http://evil")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\r=1"],
)
def test_csv_export_neutralizes_spreadsheet_formulas(client_a, org_a, label):
    audit_record(
        actor=Actor.system(organization=org_a, label=label),
        action="test.event",
        object_type="test.thing",
        object_id=1,
    )

    rows = _csv_rows(client_a.get("/o/org-a/governance/audit/export.csv?action=test.event"))

    assert [r[2] for r in rows[1:]] == ["'" + label]


def test_csv_export_neutralizes_a_member_email_starting_with_equals(client, org_a, member_factory):
    owner = member_factory(org_a, Role.OWNER, email="=2+5@example.com")
    services.organization_update(actor=_actor(owner), organization=org_a, name="Renamed")
    client.force_login(owner.user)

    rows = _csv_rows(client.get("/o/org-a/governance/audit/export.csv"))

    assert [r[2] for r in rows[1:]] == ["'=2+5@example.com"]


# --- 6. The API


@pytest.fixture
def admin_api_a(org_a, token_factory):
    from rest_framework.test import APIClient

    _, raw = token_factory(org_a, scopes=["admin"], name="audit reader")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def test_api_lists_only_the_token_orgs_events(admin_api_a, org_a, org_b):
    _record(org_a, 2, action="a.write")
    _record(org_b, 5, action="b.write")
    chain_a = _events(org_a)  # the token's own creation, then the two writes

    response = admin_api_a.get("/api/v1/audit-events/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [r["seq"] for r in body["results"]] == [3, 2, 1]
    assert [r["hash"] for r in body["results"]] == [e.hash for e in reversed(chain_a)]
    assert [r["action"] for r in body["results"]] == ["a.write", "a.write", "api_token.create"]
    assert set(body["results"][0]) == {"id", *CSV_HEADER}


def test_api_detail_serves_the_token_orgs_event_and_404s_another_orgs(admin_api_a, org_a, org_b):
    lookup = AuditEventViewSet.lookup_field
    own = _events(org_a)[0]
    (other,) = _record(org_b, 1)

    response = admin_api_a.get(f"/api/v1/audit-events/{getattr(own, lookup)}/")
    foreign = admin_api_a.get(f"/api/v1/audit-events/{getattr(other, lookup)}/")

    assert response.status_code == 200, response.content
    assert (response.json()["action"], response.json()["hash"]) == ("api_token.create", own.hash)
    if lookup == "pk":
        assert foreign.status_code == 404
    else:  # sequence numbers overlap between organizations: the token's own event
        assert foreign.json()["hash"] == own.hash


def test_api_filters_by_action(admin_api_a, org_a):
    _record(org_a, 2, action="a.write")

    response = admin_api_a.get("/api/v1/audit-events/?action=a.write")

    assert [r["seq"] for r in response.json()["results"]] == [3, 2]


@pytest.mark.parametrize("scopes", [["read"], ["read", "write", "evals:run", "telemetry:write"]])
def test_api_needs_the_admin_scope(org_a, token_factory, scopes):
    from rest_framework.test import APIClient

    _, raw = token_factory(org_a, scopes=scopes)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = api.get("/api/v1/audit-events/")

    assert response.status_code == 403
    assert "results" not in response.json()


def test_api_without_a_token_is_401(client):
    assert client.get("/api/v1/audit-events/").status_code == 401


def test_audit_page_says_no_events_yet_or_no_match(client, org_b, member_factory):
    owner = member_factory(org_b, "owner")
    client.force_login(owner.user)
    assert "No events yet." in client.get(f"/o/{org_b.slug}/governance/audit/").content.decode()
    html = client.get(f"/o/{org_b.slug}/governance/audit/?action=nothing.like.this").content
    assert "No events match these filters." in html.decode()


def test_audit_page_shows_readable_roles_objects_and_changes(client, org_a, member_factory):
    owner = member_factory(org_a, "owner")
    target = member_factory(org_a, "viewer")
    client.force_login(owner.user)
    client.post(f"/o/{org_a.slug}/settings/members/{target.pk}/role/", {"role": "engineer"})
    html = client.get(f"/o/{org_a.slug}/governance/audit/").content.decode()
    assert f"Membership #{target.pk}" in html
    assert "<td>Owner</td>" in html
    assert f"role: engineer · user: {target.user.email}" in html
