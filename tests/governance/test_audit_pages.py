"""The audit trail's pages (governance) and API (core): owners and admins read, filter,
page and export the organization's events, nobody else."""

import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

import genai_po.audit
from genai_po import services
from genai_po.actors import Actor
from genai_po.api.views import AuditEventViewSet
from genai_po.audit import audit_record
from genai_po.roles import Role
from tests.audit_helpers import actor_of, csv_rows, events_of, record

pytestmark = pytest.mark.django_db

NON_AUDIT_ROLES = [Role.PRODUCT_OWNER, Role.ENGINEER, Role.SME, Role.REVIEWER, Role.VIEWER]


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
    record(org_a, 1)
    client.force_login(member_factory(org_a, role).user)

    response = client.get(url)

    assert response.status_code == 403
    assert b"test.event" not in response.content


@pytest.mark.parametrize(
    "url", ["/o/org-a/governance/audit/", "/o/org-a/governance/audit/export.csv"]
)
def test_non_members_get_404_like_a_missing_org(client, org_a, owner_b, url):
    record(org_a, 1)
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
            patch.setattr(genai_po.audit, "timezone", SimpleNamespace(now=lambda w=when: w))
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
    record(org_a, 60, action="bulk.write")
    record(org_a, 3, action="other.write")

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
QUERIES_FOR_AUDIT_PAGE = 11 + 1 + 1  # + the chain head shown above the table, + the names


@pytest.mark.parametrize("count", [5, 60])
def test_the_page_issues_a_constant_number_of_queries(
    client_a, org_a, owner_a, django_assert_num_queries, count
):
    record(org_a, count, actor=actor_of(owner_a))
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
    "key_id",
    "hash",
]


def test_csv_export_streams_a_header_and_one_row_per_filtered_event(client_a, org_a, mixed_events):
    response = client_a.get("/o/org-a/governance/audit/export.csv?action=membership.create")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="audit-org-a.csv"'
    rows = csv_rows(response)
    assert rows[0] == CSV_HEADER
    assert [int(r[0]) for r in rows[1:]] == [7, 4, 1]
    by_seq = {e.seq: e for e in events_of(org_a)}
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
        "key_id": by_seq[7].key_id,
        "hash": by_seq[7].hash,
    }


def test_csv_export_without_filters_holds_every_event_of_the_org_only(client_a, mixed_events):
    rows = csv_rows(client_a.get("/o/org-a/governance/audit/export.csv"))

    assert len(rows) == 1 + 7
    assert [int(r[0]) for r in rows[1:]] == [7, 6, 5, 4, 3, 2, 1]
    assert all(r[2] != "alice@example.com" for r in rows[1:])  # org B's lower-case alice


def test_csv_export_of_an_empty_selection_is_just_the_header(client_a, mixed_events):
    rows = csv_rows(client_a.get("/o/org-a/governance/audit/export.csv?action=none"))

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

    rows = csv_rows(client_a.get("/o/org-a/governance/audit/export.csv?action=test.event"))

    assert [r[2] for r in rows[1:]] == ["'" + label]


def test_csv_export_neutralizes_a_member_email_starting_with_equals(client, org_a, member_factory):
    owner = member_factory(org_a, Role.OWNER, email="=2+5@example.com")
    services.organization_update(actor=actor_of(owner), organization=org_a, name="Renamed")
    client.force_login(owner.user)

    rows = csv_rows(client.get("/o/org-a/governance/audit/export.csv"))

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
    record(org_a, 2, action="a.write")
    record(org_b, 5, action="b.write")
    chain_a = events_of(org_a)  # the token's own creation, then the two writes

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
    own = events_of(org_a)[0]
    (other,) = record(org_b, 1)

    response = admin_api_a.get(f"/api/v1/audit-events/{getattr(own, lookup)}/")
    foreign = admin_api_a.get(f"/api/v1/audit-events/{getattr(other, lookup)}/")

    assert response.status_code == 200, response.content
    assert (response.json()["action"], response.json()["hash"]) == ("api_token.create", own.hash)
    if lookup == "pk":
        assert foreign.status_code == 404
    else:  # sequence numbers overlap between organizations: the token's own event
        assert foreign.json()["hash"] == own.hash


def test_api_filters_by_action(admin_api_a, org_a):
    record(org_a, 2, action="a.write")

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


def test_people_are_shown_by_their_names_and_objects_by_their_keys(client, org_a, member_factory):
    from genai_po.actors import Actor
    from usecases import services as usecase_services

    owner = member_factory(org_a, Role.OWNER, email="ada@example.com", full_name="Ada Lovelace")
    actor = Actor.for_member(user=owner.user, organization=org_a, role=Role.OWNER)
    use_case = usecase_services.use_case_create(actor=actor, data={"title": "Refunds"})
    client.force_login(owner.user)

    page = client.get("/o/org-a/governance/audit/").content.decode()

    row = page[page.index("<code>use_case.create</code>") - 400 :]
    assert '<td title="ada@example.com">Ada Lovelace</td>' in row
    assert f"<td>{use_case.key}</td>" in row
