"""Bad input never answers 500, and a refused request writes nothing.

One generic walk: every write operation of the OpenAPI schema (and every query parameter
of its reads), and every form the browser pages show (found by reading the pages as an
owner), gets the payloads a hostile client sends: JSON nested thousands deep, integers
beyond 64 bits, NUL characters, 55,000-character text. Each must answer below 500; a 400
must leave every tenant table as it was.
"""

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from evals import services as eval_services
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Role
from tests.factories import ApiTokenFactory, InvitationFactory, MembershipFactory
from tests.factories.context import make_answer, make_knowledge, make_source
from tests.factories.evals import EvalPlanFactory, TargetFactory, make_run
from tests.factories.usecases import RequirementFactory, UseCaseFactory, VerificationFactory
from tests.tenancy.routes import all_routes, build_path
from tests.tenancy.test_isolation import tenant_models
from usecases import backlog_services
from usecases import services as uc_services

pytestmark = pytest.mark.django_db

HUGE = 2**70
DEEP = 5000
NUL = "bad\x00text"
LONG = "x" * 55_000
DEEP_TEXT = "[" * DEEP + "]" * DEEP
# What each payload puts in every field of a form (or every property of a JSON body).
FORM_PAYLOADS = {"nul": NUL, "huge-int": str(HUGE), "deep-json": DEEP_TEXT, "long-text": LONG}
BODY_VALUES = {
    "nul": NUL,
    "huge-int": HUGE,
    "deep-value": json.loads("[" * 200 + "]" * 200),
    "long-text": LONG,
}
RAW_BODIES = {
    "deep body": DEEP_TEXT,
    "NUL in body": '{"a": "\\u0000"}',
    "huge integer body": f'{{"a": {HUGE}}}',
}
QUERY_VALUES = {"nul": NUL, "huge-int": str(HUGE), "long-text": "x" * 5000}


def counts() -> dict:
    return {m._meta.label: m.objects.across_orgs().count() for m in tenant_models()}


def sent(request) -> tuple[object, bool]:
    """Make a request in a savepoint: (the response, whether a refusal wrote something).
    A 500 may leave the transaction aborted; rolling back to the savepoint lets the walk
    go on and count every failure."""
    before = counts()
    sid = transaction.savepoint()
    response = request()
    if response.status_code >= 500:
        transaction.savepoint_rollback(sid)
        return response, False
    wrote = response.status_code == 400 and counts() != before
    transaction.savepoint_commit(sid)
    return response, wrote


@pytest.fixture
def world(org_a, member_factory):
    """One organization with one of everything, consistent with each other."""
    owner = member_factory(org_a, Role.OWNER, email="owner@a.example")
    actor = Actor.system(organization=org_a, label="bad-input")
    use_case = UseCaseFactory(organization=org_a)
    uc_services.prd_save(actor=actor, use_case=use_case, sections={"user_goal": "x"},
                         summary="v1")  # fmt: skip
    uc_services.prd_save(actor=actor, use_case=use_case, sections={"user_goal": "y"},
                         summary="v2")  # fmt: skip
    requirement = RequirementFactory(use_case=use_case, number=1)
    verification = VerificationFactory(requirement=requirement, owner=owner.user)
    target = TargetFactory(organization=org_a)
    plan = EvalPlanFactory(use_case=use_case, target=target)
    run = make_run(org_a, plan, results=("fail",))
    case = eval_services.current_cases(type(plan).objects.for_org(org_a).get(pk=plan.pk)).get()
    event = audit_record(actor=actor, action="probe", object_type="probe", object_id="1")
    source = make_source(org_a)
    answer = make_answer(org_a)  # GAP-1, routed, its answer in review
    item = make_knowledge(org_a)  # KB-1
    from tests.tenancy.routes import (
        _alert,
        _evidence,
        _follow_up,
        _telemetry_event,
        _template,
        _waiver,
    )

    # BL-1 (the API's {number} and the backlog's `item`), and a saved view of the owner's.
    backlog_services.backlog_item_create(
        actor=actor, data={"title": "Export refunds", "use_case": use_case}
    )
    owner_actor = Actor.for_member(user=owner.user, organization=org_a, role=owner.role)
    view = backlog_services.backlog_view_save(
        actor=owner_actor, name="Features", filters={"kind": ["feature"]}
    )
    waiver = _waiver(org_a)  # REL-1 of another use case, with a waiver pending
    follow_up = _follow_up(org_a)  # INC-1 of another use case, with a follow-up
    values = {
        "org_slug": org_a.slug,
        "membership": MembershipFactory(organization=org_a).pk,
        "invitation": InvitationFactory(organization=org_a).pk,
        "token": ApiTokenFactory(organization=org_a).pk,
        "use_case": use_case.number,
        "requirement": requirement.pk,
        "verification": verification.pk,
        "target": target.pk,
        "plan": plan.pk,
        "case": case.pk,
        "run": run.pk,
        "source": source.pk,
        "gap": answer.gap.number,
        "answer": answer.pk,
        "item": item.number,
        "release": waiver.item.release.number,
        "item_key": waiver.item.key,
        "waiver": waiver.pk,
        "evidence": _evidence(org_a).pk,
        "incident": follow_up.incident.number,
        "follow_up": follow_up.pk,
        "template": _template(org_a).pk,
        "event": _telemetry_event(org_a).pk,
        "alert": (alert := _alert(org_a)).pk,
        "rule": alert.rule.number,
        "view": view.pk,
    }
    api_values = {
        "id": None,  # by path, below
        "number": case.number,
        "follow_up": follow_up.pk,
        "ids": {
            "use-cases": use_case.pk, "requirements": requirement.pk, "targets": target.pk,
            "eval-plans": plan.pk, "eval-runs": run.pk, "members": owner.pk,
            "audit-events": event.pk, "sources": source.pk,
        },
    }  # fmt: skip
    return owner, values, api_values


# --- The browser's forms


class _Forms(HTMLParser):
    """Every form of a page (action, method, field names) and the htmx GETs it offers."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self.hx_gets: set[str] = set()
        self._form = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("hx-get"):
            self.hx_gets.add(attrs["hx-get"])
        if tag == "form":
            self._form = {
                "action": attrs.get("hx-post") or attrs.get("action") or "",
                "method": (attrs.get("method") or "get").lower(),
                "fields": set(),
            }
            self.forms.append(self._form)
        elif (
            tag in ("input", "textarea", "select")
            and self._form is not None
            and attrs.get("name")
            and attrs.get("type") not in ("hidden", "submit", "button")
        ):
            self._form["fields"].add(attrs["name"])
        if attrs.get("hx-post") and tag != "form":
            self.forms.append({"action": attrs["hx-post"], "method": "post", "fields": set()})

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def _browser_forms(client, values) -> dict[str, set[str]]:
    """Path of each POST form of the organization's pages -> the fields it shows."""
    pages = []
    for route in all_routes():
        if route.template.startswith("o/<slug:org_slug>/") and not route.template.endswith(
            (".csv", ".md", "export.jsonl")
        ):
            pages.append(build_path(route, values))
    pages.append(f"/o/{values['org_slug']}/use-cases/{values['use_case']}/prd/?edit=1")
    forms: dict[str, set[str]] = {}
    seen, queue = set(), list(pages)
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, HTTP_HX_REQUEST="true" if "hx" in url else None)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        for form in parser.forms:
            path = urlsplit(form["action"]).path or urlsplit(url).path
            if form["method"] == "post" and path.startswith(f"/o/{values['org_slug']}/"):
                forms.setdefault(path, set()).update(form["fields"])
        for hx in parser.hx_gets:
            if hx.startswith(f"/o/{values['org_slug']}/"):
                queue.append(hx + ("&" if "?" in hx else "?") + "hx=1")
    return forms


def test_every_form_refuses_hostile_input_without_a_500_or_a_write(client, world, capsys):
    owner, values, _ = world
    client.force_login(owner.user)
    client.raise_request_exception = False  # a 500 is counted, not raised
    forms = _browser_forms(client, values)
    assert len(forms) >= 25, sorted(forms)  # the walk finds the forms users see
    total = 0
    failures = []
    for path, fields in sorted(forms.items()):
        fields = fields or {"name", "title", "note", "q"}
        for label, value in FORM_PAYLOADS.items():
            data = dict.fromkeys(fields, value)
            response, wrote = sent(lambda p=path, d=data: client.post(p, d, HTTP_HX_REQUEST="true"))
            total += 1
            if response.status_code >= 500:
                failures.append(f"{label} -> POST {path}: {response.status_code}")
            elif wrote:
                failures.append(f"{label} -> POST {path}: 400 but something was written")
    assert not failures, "\n".join(failures)
    with capsys.disabled():
        print(  # noqa: T201 - the figure for the closing note
            f"\n[bad input] forms: {len(forms)} x {len(FORM_PAYLOADS)} payloads = {total}, no 500"
        )


# --- The API


def _schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _fill(path: str, api_values) -> str:
    resource = path.split("/")[3]
    ids = api_values["ids"]
    path = path.replace("{id}", str(ids.get(resource, 1)))
    path = path.replace("{follow_up}", str(api_values["follow_up"]))
    return path.replace("{number}", str(api_values["number"]))


def _properties(operation, schema) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    body = content.get("application/json", {}).get("schema", {})
    ref = body.get("$ref", "")
    if ref:
        body = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return list(body.get("properties", {})) or ["name"]


def test_every_api_operation_refuses_hostile_input_without_a_500_or_a_write(
    org_a, world, token_factory, capsys
):
    _, _, api_values = world
    _, raw = token_factory(org_a)
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    schema = _schema()
    total, failures = 0, []

    def check(label, method, url, *args, **kwargs):
        nonlocal total
        total += 1
        response, wrote = sent(lambda: getattr(api, method)(url, *args, **kwargs))
        if response.status_code >= 500:
            failures.append(f"{label} -> {method.upper()} {url}: {response.status_code}")
        elif wrote:
            failures.append(f"{label} -> {method.upper()} {url}: 400 but something was written")
        return response

    for path, operations in schema["paths"].items():
        url = _fill(path, api_values)
        for method, operation in operations.items():
            if method in ("post", "put", "patch"):
                names = _properties(operation, schema)
                for label, value in BODY_VALUES.items():
                    body = dict.fromkeys(names, value)
                    check(f"{label} in every property", method, url, body, format="json")
                for label, text in RAW_BODIES.items():
                    check(label, method, url, text, content_type="application/json")
            elif method == "get":
                params = [p["name"] for p in operation.get("parameters", [])
                          if p["in"] == "query"]  # fmt: skip
                for name in params:
                    for label, value in QUERY_VALUES.items():
                        check(f"{label} in ?{name}", method, url, {name: value})
        if "{" in path:
            huge = re.sub(r"\{\w+\}", str(HUGE), path)
            for method in [m for m in operations if m in ("get", "post", "patch", "delete")]:
                response = check("huge path id", method, huge, {}, format="json")
                if response.status_code not in (404, 405):
                    failures.append(f"huge id -> {method.upper()} {huge}: {response.status_code}")
    assert not failures, "\n".join(failures)
    with capsys.disabled():
        print(f"\n[bad input] API: {total} requests (payloads x operations), no 500")  # noqa: T201


def test_path_ids_beyond_64_bits_are_not_found_in_the_browser(client, world):
    owner, values, _ = world
    client.force_login(owner.user)
    for route in all_routes():
        kwargs = [k for k in route.kwargs if k != "org_slug"]
        if not route.template.startswith("o/<slug:org_slug>/") or not kwargs:
            continue
        path = build_path(route, {**values, **dict.fromkeys(kwargs, HUGE)})
        assert client.get(path).status_code == 404, path
        assert client.post(path).status_code in (404, 405), path


# Query parameters the browser pages read (filters, search, pages, version diffs).
PAGE_PARAMS = ["q", "page", "owner", "stage", "status", "sort", "archived", "a", "b", "version",
               "use_case", "plan", "action", "actor", "object_type", "since", "until", "edit",
               "cancel", "filter", "kind", "order", "view"]  # fmt: skip


def test_every_page_reads_hostile_query_parameters_without_a_500(client, world, capsys):
    owner, values, _ = world
    client.force_login(owner.user)
    client.raise_request_exception = False
    failures, total = [], 0
    for route in all_routes():
        if not route.template.startswith("o/<slug:org_slug>/"):
            continue
        path = build_path(route, values)
        for label, value in QUERY_VALUES.items():
            response, _ = sent(lambda p=path, v=value: client.get(p, dict.fromkeys(PAGE_PARAMS, v)))
            total += 1
            if response.status_code >= 500:
                failures.append(f"{label} -> GET {path}: {response.status_code}")
    assert not failures, "\n".join(failures)
    with capsys.disabled():
        print(f"\n[bad input] page queries: {total} requests, no 500")  # noqa: T201
