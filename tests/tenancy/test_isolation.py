"""The isolation harness: nobody reaches another organization's objects, on any route.

It walks every URL pattern (from the resolver) and every API operation (from the
OpenAPI schema), creates objects in organization B, and checks that a member of
organization A gets 404 for each of them, on every method, exactly as for an
object that does not exist, and that nothing changed anywhere.
"""

import re

import pytest
from django.apps import apps
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from genai_po.models import Organization
from genai_po.roles import Role
from genai_po.tenancy import OrgScopedModel
from tests.tenancy.routes import (
    API_LIST_OBJECTS,
    API_NON_RESOURCES,
    API_OBJECTS,
    BROWSER_OBJECTS,
    GLOBAL_ROUTES,
    all_routes,
    build_path,
)

METHODS = ["get", "post", "put", "patch", "delete"]
MISSING_ID = 987654321


def tenant_models() -> list[type]:
    return [m for m in apps.get_models() if issubclass(m, OrgScopedModel)]


def snapshot() -> dict:
    """Every tenant row of every organization, and the organizations themselves."""
    state = {
        "organizations": list(Organization.objects.order_by("pk").values()),
    }
    for model in tenant_models():
        state[model._meta.label] = list(model.objects.across_orgs().order_by("pk").values())
    return state


def org_routes():
    return [r for r in all_routes() if r.template.startswith("o/<slug:org_slug>/")]


def api_routes():
    return [r for r in all_routes() if r.template.startswith("api/v1/")]


# --- The routes are all accounted for


def test_every_route_is_org_scoped_api_admin_or_declared_global():
    undeclared = [
        r.template
        for r in all_routes()
        if not r.template.startswith(("o/<slug:org_slug>/", "api/v1/"))
        and r.namespace != "admin"
        and r.name not in GLOBAL_ROUTES
    ]
    assert undeclared == [], (
        "Routes outside /o/<org_slug>/ must be declared in tests/tenancy/routes.py "
        f"GLOBAL_ROUTES with the reason they hold no tenant data: {undeclared}"
    )


def test_every_object_parameter_of_org_routes_has_a_maker():
    unknown = {
        (r.template, kw)
        for r in org_routes()
        for kw in r.kwargs
        if kw != "org_slug" and kw not in BROWSER_OBJECTS
    }
    assert unknown == set(), (
        f"Add an ObjectMaker to BROWSER_OBJECTS in tests/tenancy/routes.py for: {unknown}"
    )


def _schema_paths() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)["paths"]


def test_every_api_route_is_in_the_schema_and_every_parameter_has_a_maker():
    operations = _schema_paths()
    schema_paths = set(operations)
    resource_routes = [r for r in api_routes() if r.name not in API_NON_RESOURCES]
    as_schema = set()
    for r in resource_routes:
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", "/" + r.template)
        for kw in r.kwargs:
            path = path.replace(f"<{kw}>", f"{{{kw}}}")
        for prefix in ("<int:", "<str:", "<slug:", "<uuid:"):
            path = path.replace(prefix, "{")
        # drf-spectacular names a primary key `id` in the schema.
        path = path.replace("^", "").replace("$", "").replace("{pk}", "{id}")
        as_schema.add(path)
    assert as_schema - schema_paths == set(), "API routes missing from the OpenAPI schema"
    with_params = {p for p in schema_paths if "{" in p}
    assert with_params - set(API_OBJECTS) == set(), (
        "Add the object maker of these API paths to API_OBJECTS in tests/tenancy/routes.py"
    )
    # A list with no id route beside it must say how to recognize one of its rows.
    lists_without_ids = {
        p for p, ops in operations.items()
        if "{" not in p and "get" in ops and "Paginated" in str(ops["get"]["responses"])
        and not any(q.startswith(p) and "{" in q for q in schema_paths)
    }  # fmt: skip
    assert lists_without_ids - set(API_LIST_OBJECTS) == set(), (
        "Add the object maker of these API lists to API_LIST_OBJECTS in tests/tenancy/routes.py"
    )


# --- Browser routes


def _page(response) -> str:
    """The page without its per-response CSRF token mask."""
    html = re.sub(r'"X-CSRFToken": "[^"]*"', "", response.content.decode())
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


@pytest.mark.django_db
def test_browser_routes_answer_404_for_another_organization(client, org_a, org_b, member_factory):
    """A's owner asking for B's pages or B's objects gets 404, and nothing changes."""
    owner_a = member_factory(org_a, Role.OWNER)
    member_factory(org_b, Role.OWNER)
    client.force_login(owner_a.user)
    b_values = {kw: maker(org_b)[1] for kw, maker in BROWSER_OBJECTS.items()}
    missing_values = dict.fromkeys(BROWSER_OBJECTS, MISSING_ID)

    before = snapshot()
    checked = []
    for route in org_routes():
        object_kwargs = [kw for kw in route.kwargs if kw != "org_slug"]
        cases = [("B's organization", {"org_slug": org_b.slug, **b_values})]
        if object_kwargs:
            cases.append(("B's object in A", {"org_slug": org_a.slug, **b_values}))
        for label, values in cases:
            path = build_path(route, values)
            for method in METHODS:
                response = getattr(client, method)(path)
                assert response.status_code == 404, f"{method.upper()} {path} ({label})"
                checked.append((method, route.template))
            if object_kwargs:
                # Not yours looks exactly like not there.
                missing = build_path(route, {**values, **missing_values})
                assert _page(client.get(path)) == _page(client.get(missing))
    assert snapshot() == before, "a request for another organization's data changed something"
    assert {t for _, t in checked} == {r.template for r in org_routes()}


@pytest.mark.django_db
def test_a_member_still_reaches_their_own_pages(client, org_a, member_factory):
    """The harness's 404s mean something: the same routes answer A's owner in A."""
    owner_a = member_factory(org_a, Role.OWNER)
    client.force_login(owner_a.user)
    for route in org_routes():
        if route.kwargs == ("org_slug",):
            response = client.get(build_path(route, {"org_slug": org_a.slug}))
            assert response.status_code in (200, 302, 405), route.template
            if response.status_code == 302:  # to another page of the same organization
                assert response.url.startswith(f"/o/{org_a.slug}/"), route.template


# --- API routes


def _api(raw_token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    return api


def _fill(path: str, value) -> str:
    """The path with every `{parameter}` filled: from a maker's dict of values by
    parameter, or with one value for them all."""
    names = re.findall(r"\{(\w+)\}", path)
    values = value if isinstance(value, dict) else dict.fromkeys(names, value)
    assert set(names) <= set(values), f"{path}: the maker gives no value for some parameters"
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


@pytest.mark.django_db
def test_api_routes_answer_404_for_another_organizations_objects(org_a, org_b, token_factory):
    """Every API operation with an id, as A's all-scopes token on B's object: 404."""
    _, raw = token_factory(org_a)
    api = _api(raw)
    api.get("/api/v1/me/")  # the token's last-used time moves on first use only
    paths = _schema_paths()
    covered = 0
    for path, operations in paths.items():
        if "{" not in path:
            continue
        maker, _ = API_OBJECTS[path]
        _, value = maker(org_b)
        before = snapshot()
        url = _fill(path, value)
        missing = _fill(path, MISSING_ID)
        for method in METHODS:
            response = getattr(api, method)(url, {}, format="json")
            allowed = method in operations
            expected = 404 if allowed else 405
            assert response.status_code in (404, expected), f"{method.upper()} {url}"
            if allowed:
                assert response.status_code == 404, f"{method.upper()} {url}"
                twin = getattr(api, method)(missing, {}, format="json")
                assert response.json() == twin.json(), f"{method.upper()} {url} differs"
        assert snapshot() == before, f"{path}: a request on B's object changed something"
        covered += 1
    assert covered == len([p for p in paths if "{" in p])


@pytest.mark.django_db
def test_api_lists_show_only_the_tokens_organization(org_a, org_b, token_factory):
    _, raw = token_factory(org_a)
    api = _api(raw)
    api.get("/api/v1/me/")
    paths = _schema_paths()
    lists = [(path[: path.index("{")], objects) for path, objects in API_OBJECTS.items()]
    for list_path, (maker, identity) in [*lists, *API_LIST_OBJECTS.items()]:
        if "get" not in paths.get(list_path, {}):
            continue
        obj_b, _ = maker(org_b)
        field, value = identity(obj_b)
        before = snapshot()
        response = api.get(list_path, {"page_size": 200})
        assert response.status_code == 200, list_path
        assert value not in [row[field] for row in response.json()["results"]], list_path
        if "post" in paths[list_path]:
            api.post(list_path, {"organization": org_b.pk}, format="json")
            after = snapshot()
            for model in tenant_models():
                b_rows = [r for r in after[model._meta.label] if r["organization_id"] == org_b.pk]
                b_before = [
                    r for r in before[model._meta.label] if r["organization_id"] == org_b.pk
                ]
                assert b_rows == b_before, f"POST {list_path} wrote into organization B"


@pytest.mark.django_db
def test_me_answers_the_tokens_organization(org_a, org_b, token_factory):
    _, raw = token_factory(org_a, scopes=["read"])
    body = _api(raw).get("/api/v1/me/").json()
    assert body["organization"]["slug"] == org_a.slug
    assert body["token"]["scopes"] == ["read"]


def test_isolation_coverage_figure(capsys):
    """Routes covered by the harness / routes in total (printed for the closing note)."""
    routes = [r for r in all_routes() if r.namespace != "admin"]
    org = org_routes()
    api_resources = [r for r in api_routes() if r.name not in API_NON_RESOURCES]
    global_routes = [r for r in routes if r.name in GLOBAL_ROUTES]
    non_resources = [r for r in api_routes() if r.name in API_NON_RESOURCES]
    assert len(org) + len(api_resources) + len(global_routes) + len(non_resources) == len(routes)
    with capsys.disabled():
        print(  # noqa: T201 - the figure for the closing note
            f"\n[isolation] tenant routes walked: {len(org)} browser + {len(api_resources)} API "
            f"= {len(org) + len(api_resources)} of {len(org) + len(api_resources)} tenant routes; "
            f"{len(global_routes)} account routes and {len(non_resources)} API meta routes "
            f"declared global; {len(routes)} routes in total (admin excluded)"
        )
