"""The tenancy core's REST API: me, members, audit events, schema, docs, errors."""

import json
import re

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from genai_po.models import AuditEvent, Membership
from genai_po.roles import Role


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_for(token_factory):
    """An API client for a new token of `org` with exactly `scopes`."""

    def make(org, scopes, name=None):
        token, raw = token_factory(org, scopes, **({"name": name} if name else {}))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        api.token = token
        return api

    return make


def _events(org):
    return list(AuditEvent.objects.for_org(org).order_by("seq"))


# --- me/


def test_me_returns_the_tokens_org_and_scopes(org_a, api_for):
    api = api_for(org_a, ["read", "evals:run"], name="GitHub CI")

    response = api.get("/api/v1/me/")

    assert response.status_code == 200
    body = response.json()
    assert body["organization"] == {"id": org_a.pk, "slug": "org-a", "name": "Organization A"}
    token = body["token"]
    assert token["name"] == "GitHub CI"
    assert token["scopes"] == ["evals:run", "read"]
    assert token["prefix"] == api.token.prefix
    assert token["expires_at"] is None
    assert token["last_used_at"] is not None
    assert set(token) == {"name", "prefix", "scopes", "created_at", "expires_at", "last_used_at"}


def test_me_of_org_b_token_names_org_b(org_b, api_for):
    body = api_for(org_b, ["read"]).get("/api/v1/me/").json()

    assert body["organization"]["slug"] == "org-b"


# --- members/


@pytest.fixture
def members_a(org_a, member_factory):
    """Organization A: one owner, one admin, two engineers, one viewer."""
    return {
        "owner": member_factory(org_a, Role.OWNER, email="a-owner@example.com"),
        "admin": member_factory(org_a, Role.ADMIN, email="b-admin@example.com"),
        "eng1": member_factory(org_a, Role.ENGINEER, email="c-eng@example.com"),
        "eng2": member_factory(org_a, Role.ENGINEER, email="d-eng@example.com"),
        "viewer": member_factory(org_a, Role.VIEWER, email="e-viewer@example.com"),
    }


def test_members_list_is_paginated(org_a, org_b, members_a, member_factory, api_for):
    member_factory(org_b, Role.OWNER, email="other-org@example.com")
    api = api_for(org_a, ["read"])

    first = api.get("/api/v1/members/?page_size=2").json()
    second = api.get("/api/v1/members/?page_size=2&page=2").json()
    last = api.get("/api/v1/members/?page_size=2&page=3").json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 5
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/v1/members/?page=2&page_size=2"
    assert second["previous"] == "http://testserver/api/v1/members/?page_size=2"
    assert last["next"] is None
    emails = [m["email"] for page in (first, second, last) for m in page["results"]]
    assert emails == [
        "a-owner@example.com",
        "b-admin@example.com",
        "c-eng@example.com",
        "d-eng@example.com",
        "e-viewer@example.com",
    ]
    assert first["results"][0] == {
        "id": members_a["owner"].pk,
        "email": "a-owner@example.com",
        "full_name": members_a["owner"].user.full_name,
        "role": "owner",
        "created_at": first["results"][0]["created_at"],
    }


def test_members_list_filters_by_role(org_a, members_a, api_for):
    api = api_for(org_a, ["read"])

    engineers = api.get("/api/v1/members/?role=engineer").json()
    nobody = api.get("/api/v1/members/?role=sme").json()

    assert engineers["count"] == 2
    assert [m["email"] for m in engineers["results"]] == ["c-eng@example.com", "d-eng@example.com"]
    assert nobody == {"count": 0, "next": None, "previous": None, "results": []}


def test_member_detail_and_other_orgs_member_is_404(
    org_a, org_b, members_a, member_factory, api_for
):
    stranger = member_factory(org_b, Role.VIEWER)
    api = api_for(org_a, ["read", "admin"])

    mine = api.get(f"/api/v1/members/{members_a['eng1'].pk}/")
    theirs = api.get(f"/api/v1/members/{stranger.pk}/")
    patch = api.patch(f"/api/v1/members/{stranger.pk}/", {"role": "admin"}, format="json")
    delete = api.delete(f"/api/v1/members/{stranger.pk}/")

    assert mine.status_code == 200
    assert mine.json()["email"] == "c-eng@example.com"
    for response in (theirs, patch, delete):
        assert response.status_code == 404
        assert response.json() == {"message": "Not found.", "code": "not_found"}
    stranger.refresh_from_db()
    assert stranger.role == "viewer"


def test_patch_role_with_admin_scope(org_a, members_a, api_for):
    api = api_for(org_a, ["admin"], name="ops bot")
    viewer = members_a["viewer"]
    events_before = len(_events(org_a))

    response = api.patch(f"/api/v1/members/{viewer.pk}/", {"role": "reviewer"}, format="json")

    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"
    assert response.json()["email"] == "e-viewer@example.com"
    viewer.refresh_from_db()
    assert viewer.role == "reviewer"
    events = _events(org_a)
    assert len(events) == events_before + 1
    event = events[-1]
    assert event.action == "membership.role_change"
    assert event.before == {"role": "viewer"}
    assert event.after == {"role": "reviewer", "user": "e-viewer@example.com"}
    assert event.actor_token_id == api.token.pk
    assert event.actor_user_id is None
    assert event.actor_role == "api_token"
    assert event.actor_label == f"token ops bot ({api.token.prefix}…)"


def test_patch_role_without_admin_scope_is_403(org_a, members_a, api_for):
    api = api_for(org_a, ["read", "write"])
    viewer = members_a["viewer"]

    response = api.patch(f"/api/v1/members/{viewer.pk}/", {"role": "admin"}, format="json")

    assert response.status_code == 403
    assert response.json()["message"] == "This token lacks the 'admin' scope."
    viewer.refresh_from_db()
    assert viewer.role == "viewer"


@pytest.mark.parametrize(
    ("target", "role"),
    [("viewer", "owner"), ("owner", "admin")],
    ids=["grant-owner", "take-owner"],
)
def test_patch_role_follows_the_owner_rules(org_a, members_a, api_for, target, role):
    """Tokens never grant or take the owner role: that stays with people."""
    api = api_for(org_a, ["admin"])
    membership = members_a[target]
    before, events_before = membership.role, len(_events(org_a))

    response = api.patch(f"/api/v1/members/{membership.pk}/", {"role": role}, format="json")

    assert response.status_code == 403
    assert response.json() == {
        "message": "Your role does not allow this: grant or take away the owner role.",
        "code": "permission_denied",
    }
    membership.refresh_from_db()
    assert membership.role == before
    assert len(_events(org_a)) == events_before


def test_patch_unknown_role_is_400(org_a, members_a, api_for):
    api = api_for(org_a, ["admin"])

    response = api.patch(
        f"/api/v1/members/{members_a['viewer'].pk}/", {"role": "superuser"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"] == 'role: "superuser" is not a valid choice.'
    assert body["errors"] == {"role": ['"superuser" is not a valid choice.']}


def test_delete_member_with_admin_scope(org_a, members_a, api_for):
    api = api_for(org_a, ["read", "admin"])
    eng = members_a["eng1"]
    events_before = len(_events(org_a))

    response = api.delete(f"/api/v1/members/{eng.pk}/")

    assert response.status_code == 204
    assert not Membership.objects.for_org(org_a).filter(pk=eng.pk).exists()
    events = _events(org_a)
    assert len(events) == events_before + 1
    assert events[-1].action == "membership.remove"
    assert events[-1].before == {"user": "c-eng@example.com", "role": "engineer"}
    assert events[-1].actor_role == "api_token"
    assert api.get(f"/api/v1/members/{eng.pk}/").status_code == 404


@pytest.mark.parametrize("scope", ["admin", "write"])
def test_what_a_scope_allows_has_one_definition(org_a, members_a, api_for, scope):
    """An `admin` token manages members by id: it should be able to list those ids."""
    from genai_po.actors import Actor
    from genai_po.roles import Action

    api = api_for(org_a, [scope])
    may_view = Actor.for_token(token=api.token).can(Action.VIEW)

    response = api.get("/api/v1/members/")

    assert response.status_code == (200 if may_view else 403)


def test_delete_member_needs_admin_scope(org_a, members_a, api_for):
    response = api_for(org_a, ["read", "write"]).delete(f"/api/v1/members/{members_a['eng1'].pk}/")

    assert response.status_code == 403
    assert response.json()["message"] == "This token lacks the 'admin' scope."
    assert Membership.objects.for_org(org_a).filter(pk=members_a["eng1"].pk).exists()


def test_delete_owner_by_token_is_403(org_a, members_a, api_for):
    owner = members_a["owner"]

    response = api_for(org_a, ["admin"]).delete(f"/api/v1/members/{owner.pk}/")

    assert response.status_code == 403
    assert response.json()["message"] == (
        "Your role does not allow this: grant or take away the owner role."
    )
    assert Membership.objects.for_org(org_a).filter(pk=owner.pk).exists()


def test_members_cannot_be_created_or_replaced(org_a, members_a, api_for):
    api = api_for(org_a, ["read", "write", "admin"])

    post = api.post("/api/v1/members/", {"role": "admin"}, format="json")
    put = api.put(f"/api/v1/members/{members_a['viewer'].pk}/", {"role": "admin"}, format="json")

    assert post.status_code == put.status_code == 405
    assert post.json()["message"] == 'Method "POST" not allowed.'


@pytest.mark.parametrize("n_members", [3, 30])
def test_members_list_queries_do_not_grow_with_members(
    org_a, member_factory, api_for, django_assert_num_queries, n_members
):
    for _ in range(n_members):
        member_factory(org_a)
    api = api_for(org_a, ["read"])
    api.get("/api/v1/me/")  # last_used_at was just written: no write on the measured call

    # token + organization, COUNT(*), one page of members joined with their users
    with django_assert_num_queries(3):
        response = api.get("/api/v1/members/")

    assert response.json()["count"] == n_members
    assert len(response.json()["results"]) == n_members


# --- audit-events/


def test_audit_events_need_admin_scope(org_a, api_for):
    response = api_for(org_a, ["read", "write"]).get("/api/v1/audit-events/")

    assert response.status_code == 403
    assert response.json()["message"] == "This token lacks the 'admin' scope."


def test_audit_events_list_newest_first(org_a, org_b, members_a, api_for):
    reader = api_for(org_a, ["admin"])
    reader.patch(f"/api/v1/members/{members_a['viewer'].pk}/", {"role": "sme"}, format="json")
    api_for(org_b, ["admin"])  # an event in org B, which A must not see

    response = reader.get("/api/v1/audit-events/")

    assert response.status_code == 200
    body = response.json()
    own = list(AuditEvent.objects.for_org(org_a).order_by("-seq"))
    assert body["count"] == len(own)
    assert [e["seq"] for e in body["results"]] == [e.seq for e in own]
    newest = body["results"][0]
    assert newest["action"] == "membership.role_change"
    assert newest["before"] == {"role": "viewer"}
    assert newest["after"] == {"role": "sme", "user": "e-viewer@example.com"}
    assert newest["hash"] == own[0].hash
    assert newest["prev_hash"] == own[1].hash
    assert {e["hash"] for e in body["results"]}.isdisjoint(
        AuditEvent.objects.for_org(org_b).values_list("hash", flat=True)
    )


def test_audit_events_filter_by_action(org_a, members_a, api_for):
    api = api_for(org_a, ["admin"])
    api.patch(f"/api/v1/members/{members_a['viewer'].pk}/", {"role": "sme"}, format="json")

    body = api.get("/api/v1/audit-events/?action=membership.role_change").json()

    assert body["count"] == 1
    assert body["results"][0]["action"] == "membership.role_change"


# --- schema/ and docs/


def _schema(client) -> dict:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_is_valid_openapi_3_and_lists_the_paths(client):
    schema = _schema(client)

    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema
    assert {
        "/api/v1/me/",
        "/api/v1/members/",
        "/api/v1/members/{id}/",
        "/api/v1/audit-events/",
    } <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/members/{id}/"]) == {"get", "patch", "delete"}
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }


def test_schema_is_served_as_yaml_by_default(client):
    response = client.get("/api/v1/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.")


def test_an_audit_event_from_the_list_can_be_fetched_by_the_documented_path(
    client, org_a, org_b, api_for
):
    api_for(org_b, ["admin"])  # org B's events take primary keys too: pk and seq differ
    api = api_for(org_a, ["admin"])
    schema = _schema(client)
    [detail] = [p for p in schema["paths"] if p.startswith("/api/v1/audit-events/{")]
    [param] = [p["name"] for p in schema["paths"][detail]["get"]["parameters"]]

    listed = api.get("/api/v1/audit-events/").json()["results"][0]

    assert param in listed, f"the list shows no {param!r} to put in {detail}"
    fetched = api.get(detail.replace("{" + param + "}", str(listed[param])))
    assert fetched.status_code == 200
    assert fetched.json() == listed


def _urls_in(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert re.search(r"https?://", html) is None
    assert re.search(r"""(?:src|href)=["']//""", html) is None
    urls = _urls_in(html)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in urls
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in urls
    for url in urls:
        assert url.startswith(("/static/", "/api/v1/docs/")), url
        # ... and the app itself serves every one of them.
        asset = client.get(url)
        assert asset.status_code == 200, url
        body = b"".join(asset.streaming_content) if asset.streaming else asset.content
        assert body

    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    js = script.content.decode()
    assert re.search(r"https?://", js) is None
    assert '"/api/v1/schema/"' in js


# --- Unknown paths


@pytest.mark.parametrize("path", ["/api/v1/whatever", "/api/v1/whatever/deeper/", "/api/v1/"])
def test_unknown_api_path_is_json_404(api_a, path):
    for api in (api_a, APIClient()):
        response = api.get(path)

        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"message": "No such API endpoint.", "code": "not_found"}


def test_unknown_member_id_is_json_404(api_a):
    response = api_a.get("/api/v1/members/999999/")

    assert response.status_code == 404
    assert response.json() == {"message": "Not found.", "code": "not_found"}
