"""The backlog API: `GET /api/v1/backlog/` (every area's work, filtered, paginated, by the
suggested rank) and `/api/v1/backlog-items/` (feature items by number, written through the
backlog services, audited by the token). Another organization's objects answer exactly
as objects that do not exist."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework import serializers
from rest_framework.test import APIClient

from genai_po.models import AuditEvent
from genai_po.roles import Role
from tests.factories.usecases import UseCaseFactory
from tests.usecases.test_backlog import (
    EXPECTED_COUNTS,
    add_alert,
    add_item,
    one_of_each_kind,
    ref_of,
)
from usecases import backlog
from usecases.models import BacklogItem

pytestmark = pytest.mark.django_db

LIST = "/api/v1/backlog/"
ITEMS = "/api/v1/backlog-items/"
MISSING = 987654321
NOT_FOUND = {"message": "Not found.", "code": "not_found"}
NO_WRITE_SCOPE = {"message": "This token lacks the 'write' scope.", "code": "permission_denied"}
KINDS = ", ".join(kind for kind, _ in backlog.kind_choices())


@pytest.fixture
def api_for(token_factory):
    def make(org, scopes=("read", "write"), name="CI"):
        token, raw = token_factory(org, list(scopes), name=name)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        api.token = token
        api.get("/api/v1/me/")  # the first use writes last_used_at: not in measured calls
        return api

    return make


@pytest.fixture
def api(org_a, api_for):
    return api_for(org_a)


def _when(value) -> str:
    return serializers.DateTimeField().to_representation(value)


def keys(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["key"] for row in response.json()["results"]]


def error(response, status=400) -> dict:
    assert response.status_code == status, response.content
    return response.json()


# --------------------------------------------------------------------------- the backlog


def test_an_entry_shows_what_the_page_shows_with_absolute_links(api, org_a, po_a):
    uc = UseCaseFactory(organization=org_a, number=3, title="Refunds")
    due = timezone.localdate() - timedelta(days=2)
    item = add_item(org_a, "Export refunds as CSV", use_case=uc, value=4, effort=2, due_on=due,
                    owner=po_a.user)  # fmt: skip
    response = api.get(LIST)
    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "rank": 1,
                "kind": "feature",
                "kind_label": "Feature",
                "key": "BL-1",
                "title": "Export refunds as CSV",
                "url": "http://testserver/o/org-a/backlog/items/1/",
                "use_case": uc.pk,
                "use_case_key": "UC-3",
                "impact": 4,
                "urgency": 5,
                "effort": 2,
                "score": 10.0,
                "formula": "impact × urgency ÷ effort",
                "created_at": _when(item.created_at),
                "age_days": 0,
                "owner": "po@example.com",
                "owner_name": "Pat PO",
                "why": "2 days overdue",
                "ref": ref_of(item),
            }
        ],
    }


def test_the_list_gathers_every_area_in_the_suggested_order(api, org_a, po_a):
    made = one_of_each_kind(org_a, owner=po_a)
    rows = api.get(LIST, {"page_size": 200}).json()
    assert rows["count"] == sum(EXPECTED_COUNTS.values())
    counts: dict[str, int] = {}
    for row in rows["results"]:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    assert counts == EXPECTED_COUNTS
    assert [row["key"] for row in rows["results"]] == [
        e.key for e in backlog.backlog_of(org_a).entries
    ]
    scores = [row["score"] for row in rows["results"]]
    assert scores == sorted(scores, reverse=True)
    assert [row["rank"] for row in rows["results"]] == list(range(1, len(scores) + 1))
    alert = next(row for row in rows["results"] if row["kind"] == "alert")
    assert alert["url"] == (
        f"http://testserver/o/org-a/metrics/alerts/?state=open#alert-{made['alert'].pk}"
    )
    assert alert["owner"] == "po@example.com" and alert["use_case_key"] == "UC-1"


def test_an_entry_of_the_whole_organization_has_no_use_case_nor_owner(api, org_a):
    add_item(org_a, "Org-wide")
    (row,) = api.get(LIST).json()["results"]
    assert (row["use_case"], row["use_case_key"], row["owner"], row["owner_name"]) == (
        None, None, None, "",
    )  # fmt: skip


@pytest.fixture
def mixed(org_a, member_factory):
    pat = member_factory(org_a, Role.PRODUCT_OWNER, email="pat@a.example")
    sam = member_factory(org_a, Role.PRODUCT_OWNER, email="sam@a.example")
    uc1 = UseCaseFactory(organization=org_a, number=1, owner=pat.user)
    uc2 = UseCaseFactory(organization=org_a, number=2, owner=sam.user)
    add_item(org_a, "Pat's", use_case=uc1, owner=pat.user, value=5, effort=1)  # 10
    add_item(org_a, "Sam's", use_case=uc2, owner=sam.user, value=4, effort=1)  # 8
    add_item(org_a, "Nobody's", value=1, effort=1)  # 2
    add_alert(org_a, uc2)  # AR-1, Sam's use case: 12.5
    return {"pat": pat, "sam": sam, "uc1": uc1, "uc2": uc2}


def test_filters_by_kind_owner_and_use_case(api, mixed):
    assert keys(api.get(LIST)) == ["AR-1", "BL-1", "BL-2", "BL-3"]
    assert keys(api.get(LIST, {"kind": "feature"})) == ["BL-1", "BL-2", "BL-3"]
    assert keys(api.get(LIST + "?kind=alert&kind=feature")) == ["AR-1", "BL-1", "BL-2", "BL-3"]
    assert keys(api.get(LIST + "?kind=alert,context_gap")) == ["AR-1"]
    assert keys(api.get(LIST + "?kind=alert, feature&kind=")) == ["AR-1", "BL-1", "BL-2", "BL-3"]
    assert keys(api.get(LIST, {"owner": mixed["sam"].user_id})) == ["AR-1", "BL-2"]
    assert keys(api.get(LIST, {"owner": mixed["pat"].user_id})) == ["BL-1"]
    assert keys(api.get(LIST, {"owner": "none"})) == ["BL-3"]
    assert keys(api.get(LIST, {"owner": "None"})) == ["BL-3"]
    assert keys(api.get(LIST, {"owner": MISSING})) == []
    assert keys(api.get(LIST, {"use_case": mixed["uc2"].pk})) == ["AR-1", "BL-2"]
    assert keys(api.get(LIST, {"use_case": "UC-1"})) == ["BL-1"]
    assert keys(api.get(LIST, {"use_case": "uc-2", "kind": "feature"})) == ["BL-2"]
    assert keys(api.get(LIST, {"use_case": "UC-2", "owner": "none"})) == []


def test_refused_filters_say_why(api, org_b, mixed):
    theirs = UseCaseFactory(organization=org_b, number=7)
    unknown = error(api.get(LIST, {"kind": "feature,bug"}))
    assert unknown["message"] == f"kind: Unknown kind “bug”. Known kinds: {KINDS}."
    assert unknown["errors"] == {"kind": [f"Unknown kind “bug”. Known kinds: {KINDS}."]}
    both = error(api.get(LIST + "?kind=bug&kind=epic,feature"))["errors"]["kind"]
    assert both == [f"Unknown kind “bug”. Known kinds: {KINDS}.",
                    f"Unknown kind “epic”. Known kinds: {KINDS}."]  # fmt: skip
    for ref in (theirs.pk, "UC-7", MISSING, "UC-99"):
        body = error(api.get(LIST, {"use_case": ref}))
        assert body == {"message": "use_case: No such use case here.", "code": "invalid",
                        "errors": {"use_case": ["No such use case here."]}}, ref  # fmt: skip
    assert error(api.get(LIST, {"use_case": "refunds"}))["message"] == (
        "use_case: Give the use case's id or key (UC-3)."
    )
    assert error(api.get(LIST, {"owner": "pat"}))["message"] == (
        "owner: Give a user id, or `none` for the entries nobody owns."
    )
    assert error(api.get(LIST, {"owner": str(2**64)}))["errors"].keys() == {"owner"}
    assert error(api.get(LIST, {"order": "mine"}))["errors"] == {"order": ["Unknown field."]}
    assert error(api.get(LIST, {"page": 0}))["errors"].keys() == {"page"}


def test_the_list_is_paginated(api, org_a):
    for n in range(5):
        add_item(org_a, f"Item {n}", value=5 - n, effort=1)
    first = api.get(LIST, {"page_size": 2, "kind": "feature"}).json()
    assert first["count"] == 5 and [r["key"] for r in first["results"]] == ["BL-1", "BL-2"]
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/v1/backlog/?kind=feature&page=2&page_size=2"
    second = api.get(first["next"]).json()
    assert [r["key"] for r in second["results"]] == ["BL-3", "BL-4"]
    assert [r["rank"] for r in second["results"]] == [3, 4]
    assert second["previous"] == "http://testserver/api/v1/backlog/?kind=feature&page_size=2"
    assert api.get(LIST, {"page": 9}).json() == {"message": "Invalid page.", "code": "not_found"}


@pytest.mark.parametrize("n_items", [3, 30])
def test_the_list_runs_the_same_queries_however_many_entries(
    api, org_a, django_assert_num_queries, n_items
):
    use_cases = [UseCaseFactory(organization=org_a, number=n + 1) for n in range(3)]
    for n in range(n_items):
        add_item(org_a, f"Item {n}", use_case=use_cases[n % 3], value=n % 5 + 1)
        if n % 10 == 0:
            add_alert(org_a, use_cases[n % 3])
    api.get(LIST)
    with django_assert_num_queries(LIST_QUERIES):
        assert api.get(LIST, {"page_size": 200}).status_code == 200


LIST_QUERIES = 9


# --------------------------------------------------------------------------- items


def _item_json(item) -> dict:
    return {
        "id": item.pk, "key": item.key, "number": item.number, "title": item.title,
        "description": item.description, "use_case": item.use_case_id,
        "use_case_key": item.use_case.key if item.use_case else None, "value": item.value,
        "effort": item.effort, "due_on": item.due_on.isoformat() if item.due_on else None,
        "owner": item.owner_id, "owner_email": item.owner.email if item.owner else None,
        "status": item.status, "created_at": _when(item.created_at),
        "updated_at": _when(item.updated_at),
        "closed_at": _when(item.closed_at) if item.closed_at else None,
    }  # fmt: skip


def _fresh(item) -> BacklogItem:
    return BacklogItem.objects.for_org(item.organization_id).get(pk=item.pk)


def test_create_numbers_the_item_and_audits_it_by_the_token(api, org_a, po_a):
    uc = UseCaseFactory(organization=org_a, number=2)
    response = api.post(ITEMS, {
        "title": "Export refunds as CSV", "description": "For finance.", "use_case": uc.pk,
        "value": 4, "effort": 2, "due_on": "2030-01-15", "owner": po_a.user_id,
    }, format="json")  # fmt: skip
    assert response.status_code == 201
    item = BacklogItem.objects.for_org(org_a).get()
    assert response.json() == _item_json(item)
    assert (item.key, item.use_case, item.owner, item.status, item.created_by) == (
        "BL-1", uc, po_a.user, "open", None,
    )  # fmt: skip
    event = AuditEvent.objects.for_org(org_a).get(action="backlog_item.create")
    assert event.actor_label.startswith("token CI (") and event.after["use_case"] == "UC-2"

    second = api.post(ITEMS, {"title": "Refund FAQ"}, format="json").json()
    assert (second["key"], second["value"], second["effort"], second["use_case"]) == (
        "BL-2", 3, 3, None,
    )  # fmt: skip
    # BL-2: 3 × 2 ÷ 3 = 2, as BL-1 (4 × 1 ÷ 2, due in years), but more urgent.
    assert [row["key"] for row in api.get(LIST).json()["results"]] == ["BL-2", "BL-1"]


def test_refused_writes_say_why_and_change_nothing(api, org_a, org_b, member_factory):
    outsider = member_factory(org_b, Role.OWNER)
    theirs = UseCaseFactory(organization=org_b)
    cases = [
        ({}, {"title": ["This field is required."]}),
        ({"title": "  "}, {"title": ["This field may not be blank."]}),
        ({"title": "x", "value": 6}, {"value": ["Ensure this value is less than or equal to 5."]}),
        ({"title": "x", "effort": 0},
         {"effort": ["Ensure this value is greater than or equal to 1."]}),
        ({"title": "x", "use_case": theirs.pk}, {"use_case": ["No such use case here."]}),
        ({"title": "x", "owner": outsider.user_id},
         {"owner": ["Choose a member of this organization."]}),
        ({"title": "x", "status": "done"},
         {"status": ["A new item is open: PATCH its status to close it."]}),
        ({"title": "x", "key": "BL-9"}, {"key": ["Numbers are given once and never change."]}),
        ({"title": "x", "organization": org_b.pk}, {"organization": ["Unknown field."]}),
        ({"title": "x" * 201}, {"title": ["Ensure this field has no more than 200 characters."]}),
    ]  # fmt: skip
    for body, errors in cases:
        response = api.post(ITEMS, body, format="json")
        assert error(response)["errors"] == errors, body
        assert response.json()["code"] == "invalid"
    assert not BacklogItem.objects.across_orgs().exists()
    assert not AuditEvent.objects.for_org(org_a).filter(action__startswith="backlog").exists()


def test_retrieve_and_list_items_by_number_with_filters(api, org_a, po_a):
    uc = UseCaseFactory(organization=org_a, number=1)
    first = add_item(org_a, "First", use_case=uc, owner=po_a.user)
    second = add_item(org_a, "Second")
    add_item(org_a, "Third", use_case=uc)
    api.patch(f"{ITEMS}3/", {"status": "done"}, format="json")

    assert api.get(f"{ITEMS}1/").json() == _item_json(_fresh(first))
    assert api.get(f"{ITEMS}{MISSING}/").json() == NOT_FOUND
    rows = api.get(ITEMS).json()
    assert rows["count"] == 3 and [r["key"] for r in rows["results"]] == ["BL-1", "BL-2", "BL-3"]
    assert [r["key"] for r in api.get(ITEMS, {"status": "open"}).json()["results"]] == [
        "BL-1", "BL-2",
    ]  # fmt: skip
    assert [r["key"] for r in api.get(ITEMS, {"use_case": uc.pk}).json()["results"]] == [
        "BL-1", "BL-3",
    ]  # fmt: skip
    assert [r["key"] for r in api.get(ITEMS, {"owner": po_a.user_id}).json()["results"]] == ["BL-1"]
    assert error(api.get(ITEMS, {"status": "closed"}))["errors"] == {
        "status": ['"closed" is not a valid choice.']
    }
    assert error(api.get(ITEMS, {"sort": "title"}))["errors"] == {"sort": ["Unknown field."]}
    assert second.key == "BL-2"


def test_patch_changes_fields_and_status_through_the_services(api, org_a, po_a):
    uc = UseCaseFactory(organization=org_a, number=1)
    item = add_item(org_a, "Export", value=2)
    url = f"{ITEMS}{item.number}/"

    changed = api.patch(
        url,
        {
            "title": "Export as CSV",
            "value": 5,
            "use_case": uc.pk,
            "owner": po_a.user_id,
            "due_on": "2030-02-01",
        },
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json() == _item_json(_fresh(item))
    assert (changed.json()["title"], changed.json()["use_case_key"]) == ("Export as CSV", "UC-1")
    update = AuditEvent.objects.for_org(org_a).get(action="backlog_item.update")
    assert (update.before["value"], update.after["value"]) == (2, 5)

    done = api.patch(url, {"status": "done"}, format="json").json()
    assert done["status"] == "done" and done["closed_at"] is not None
    assert api.get(LIST).json()["count"] == 0  # off the backlog
    status_event = AuditEvent.objects.for_org(org_a).get(action="backlog_item.status")
    assert status_event.after == {"status": "done"}

    reopened = api.patch(url, {"status": "open", "owner": None}, format="json").json()
    assert (reopened["status"], reopened["closed_at"], reopened["owner"]) == ("open", None, None)
    assert [row["key"] for row in api.get(LIST).json()["results"]] == ["BL-1"]

    assert api.patch(url, {}, format="json").json() == _item_json(_fresh(item))  # no change


def test_a_refused_patch_changes_nothing_not_even_the_status(api, org_a, org_b):
    item = add_item(org_a, "Export")
    url = f"{ITEMS}{item.number}/"
    theirs = UseCaseFactory(organization=org_b)
    before = _item_json(_fresh(item))
    events = AuditEvent.objects.for_org(org_a).count()
    for body, errors in [
        ({"status": "archived"}, {"status": ['"archived" is not a valid choice.']}),
        ({"status": "done", "use_case": theirs.pk}, {"use_case": ["No such use case here."]}),
        ({"status": "done", "title": ""}, {"title": ["This field may not be blank."]}),
        ({"number": 7}, {"number": ["Numbers are given once and never change."]}),
        ({"closed_at": "2030-01-01T00:00:00Z"}, {"closed_at": ["Read-only."]}),
    ]:
        assert error(api.patch(url, body, format="json"))["errors"] == errors, body
    assert _item_json(_fresh(item)) == before
    assert AuditEvent.objects.for_org(org_a).count() == events
    assert api.put(url, {"title": "x"}, format="json").status_code == 405
    assert api.delete(url).status_code == 405


@pytest.mark.parametrize("n_items", [2, 20])
def test_the_item_list_runs_the_same_queries(api, org_a, po_a, django_assert_num_queries,
                                             n_items):  # fmt: skip
    uc = UseCaseFactory(organization=org_a, number=1)
    for n in range(n_items):
        add_item(org_a, f"Item {n}", use_case=uc, owner=po_a.user)
    with django_assert_num_queries(ITEM_LIST_QUERIES):
        assert len(api.get(ITEMS).json()["results"]) == n_items


ITEM_LIST_QUERIES = 3


# --------------------------------------------------------------------------- scopes


def test_a_read_token_reads_but_cannot_write(org_a, api_for):
    item = add_item(org_a, "Export")
    reader = api_for(org_a, ["read"], name="dashboard")
    assert reader.get(LIST).status_code == 200
    assert reader.get(ITEMS).status_code == 200 and reader.get(f"{ITEMS}1/").status_code == 200
    assert error(reader.post(ITEMS, {"title": "x"}, format="json"), 403) == NO_WRITE_SCOPE
    assert error(reader.patch(f"{ITEMS}1/", {"status": "done"}, format="json"), 403) == (
        NO_WRITE_SCOPE
    )
    assert _fresh(item).status == "open" and BacklogItem.objects.for_org(org_a).count() == 1


def test_a_token_without_read_cannot_see_the_backlog(org_a, api_for):
    runner = api_for(org_a, ["evals:run"], name="runner")
    for url in (LIST, ITEMS):
        body = error(runner.get(url), 403)
        assert body["code"] == "permission_denied" and "'read'" in body["message"], url
    anonymous = APIClient()
    assert anonymous.get(LIST).status_code == 401


# --------------------------------------------------------------------------- isolation


def test_another_organizations_backlog_never_shows_and_its_numbers_are_not_found(
    api, org_a, org_b, po_a, member_factory
):
    one_of_each_kind(org_b, owner=member_factory(org_b, Role.OWNER), prefix="Org B ")
    extra = add_item(org_b, "Org B's second")  # BL-2 in B
    add_item(org_a, "Ours")  # BL-1 in A
    b_refs = {e.ref for e in backlog.backlog_of(org_b).entries}

    rows = api.get(LIST, {"page_size": 200}).json()
    assert [row["key"] for row in rows["results"]] == ["BL-1"]
    assert not {row["ref"] for row in rows["results"]} & b_refs
    assert [row["key"] for row in api.get(ITEMS).json()["results"]] == ["BL-1"]

    url = f"{ITEMS}{extra.number}/"
    for method, body in (("get", None), ("patch", {"status": "done"}), ("patch", {})):
        response = getattr(api, method)(url, body, format="json")
        twin = getattr(api, method)(f"{ITEMS}{MISSING}/", body, format="json")
        assert (response.status_code, response.json()) == (404, NOT_FOUND) == (
            twin.status_code, twin.json(),
        ), method  # fmt: skip
    assert _fresh(extra).status == "open"
    # B's items do not count in A's numbering.
    assert api.post(ITEMS, {"title": "Next"}, format="json").json()["key"] == "BL-2"


# --------------------------------------------------------------------------- schema


def test_the_schema_documents_the_backlog_endpoints(client):
    schema = json.loads(client.get("/api/v1/schema/?format=json").content)
    validate_schema(schema)
    paths = schema["paths"]
    assert set(paths[LIST]) == {"get"}
    assert set(paths[ITEMS]) == {"get", "post"}
    assert set(paths[ITEMS + "{number}/"]) == {"get", "patch"}
    params = {p["name"]: p for p in paths[LIST]["get"]["parameters"]}
    assert set(params) == {"kind", "owner", "use_case", "page", "page_size"}
    assert params["kind"]["schema"]["items"]["enum"] == [k for k, _ in backlog.kind_choices()]
    listed = paths[LIST]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed == {"$ref": "#/components/schemas/PaginatedBacklogEntryList"}
    entry = schema["components"]["schemas"]["BacklogEntry"]["properties"]
    assert list(entry) == [
        "rank", "kind", "kind_label", "key", "title", "url", "use_case", "use_case_key",
        "impact", "urgency", "effort", "score", "formula", "created_at", "age_days", "owner",
        "owner_name", "why", "ref",
    ]  # fmt: skip
