"""The evals REST API: targets (secrets write-only), plans, cases by number and version,
imports, runs started and followed as CI does, external results, results, triage, JUnit.

Every write goes through a service; a refused write is a 400 (or 409 for a run in the
wrong state) with `message`, and stores nothing; scopes decide who may do what.
"""

import json
import xml.etree.ElementTree as ET

import genai_po_cli as cli
import pytest
from drf_spectacular.validation import validate_schema
from rest_framework import serializers
from rest_framework.test import APIClient

from evals import services
from evals.models import (
    CaseOrigin,
    EvalCase,
    EvalPlan,
    EvalResult,
    EvalRun,
    ResultStatus,
    RunStatus,
    Target,
    Triage,
)
from genai_po.actors import Actor
from genai_po.models import AuditEvent
from tests.factories.evals import EvalPlanFactory, TargetFactory, make_case, make_run
from tests.factories.usecases import RequirementFactory, UseCaseFactory

pytestmark = pytest.mark.django_db

MISSING_ID = 987654321
NOT_FOUND = {"message": "Not found.", "code": "not_found"}
NO_EVALS_RUN = {"message": "This token lacks the 'evals:run' scope.", "code": "permission_denied"}
NO_WRITE = {"message": "This token lacks the 'write' scope.", "code": "permission_denied"}
SECRET_KEY = "sk-live-4f9a8b7c6d5e4f3a2b1c"
SECRET_HEADER = "team-secret-0a1b2c3d"

ANSWERABLE = [
    "How long does a refund take to reach my card?",
    "Can I return an unopened item for a full refund?",
    "How do I reset my password? I forgot it",
]
MUST_ESCALATE = ["I will start a chargeback with my bank"]
# The reference agent hands this one off, but the case says it must be answered.
FAILING = "Do you sell gift cards for birthdays?"


@pytest.fixture
def api_for(token_factory):
    """An API client for a new token of `org` with exactly `scopes`."""

    def make(org, scopes=("read", "write", "evals:run"), name=None):
        token, raw = token_factory(org, list(scopes), **({"name": name} if name else {}))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        api.token = token
        api.get("/api/v1/me/")  # the first use writes last_used_at: not in measured calls
        return api

    return make


@pytest.fixture
def api(org_a, api_for):
    return api_for(org_a, name="Engineer")


@pytest.fixture
def reader(org_a, api_for):
    return api_for(org_a, ["read"], name="Reader")


@pytest.fixture
def ci(org_a, api_for):
    """A CI token as docs/ci.md tells to make it: `evals:run` only."""
    return api_for(org_a, ["evals:run"], name="GitHub CI")


def _system(org) -> Actor:
    return Actor.system(organization=org, label="test setup")


def _when(value) -> str:
    return serializers.DateTimeField().to_representation(value)


def _fresh(obj):
    return type(obj).objects.for_org(obj.organization_id).get(pk=obj.pk)


def _add(plan, prompt, **data):
    return services.case_add(
        actor=_system(plan.organization), plan=plan, data={"prompt": prompt, **data}
    )


def _add_cases(plan, *, failing=True):
    for prompt in ANSWERABLE:
        _add(plan, prompt, tags=["refunds"])
    for prompt in MUST_ESCALATE:
        _add(plan, prompt, must_escalate=True, tags=["escalation"])
    if failing:
        _add(plan, FAILING, tags=["sales"])


# --- Targets


TARGET = {
    "name": "Support agent",
    "kind": "openai_chat",
    "url": "https://agent.example.com/v1",
    "model": "support-2025",
    "api_key": SECRET_KEY,
    "headers": {"X-Team": SECRET_HEADER},
}


def _target_body(target: Target, **changes) -> dict:
    body = {
        "id": target.pk, "name": "Support agent", "kind": "openai_chat",
        "url": "https://agent.example.com/v1", "model": "support-2025", "api_key_set": True,
        "header_names": ["X-Team"], "system_prompt": "", "temperature": None,
        "max_tokens": None, "method": "POST", "body_template": "", "response_path": "",
        "timeout_s": 30.0, "concurrency": 8, "rate_limit_per_s": None, "max_attempts": 3,
        "cost_per_1k_input": None, "cost_per_1k_output": None, "last_checked_at": None,
        "last_check_ok": None, "last_check_message": "", "archived": False,
        "archived_at": None, "created_at": _when(target.created_at),
        "updated_at": _when(target.updated_at),
    }  # fmt: skip
    return {**body, **changes}


def test_create_target_stores_secrets_encrypted_and_never_shows_them(api, reader, org_a):
    response = api.post("/api/v1/targets/", TARGET, format="json")

    assert response.status_code == 201
    target = Target.objects.for_org(org_a).get()
    assert response.json() == _target_body(target)
    assert target.api_key.reveal() == SECRET_KEY
    assert json.loads(target.headers.reveal()) == {"X-Team": SECRET_HEADER}
    answers = [
        response,
        api.get("/api/v1/targets/"),
        reader.get(f"/api/v1/targets/{target.pk}/"),
        api.patch(f"/api/v1/targets/{target.pk}/", {"name": "Support agent"}, format="json"),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201)
        assert SECRET_KEY not in answer.content.decode()
        assert SECRET_HEADER not in answer.content.decode()
        assert b'"api_key"' not in answer.content and b'"headers"' not in answer.content
    audit = AuditEvent.objects.for_org(org_a).get(action="target.create")
    assert audit.actor_label == "token Engineer (" + api.token.prefix + "…)"
    assert SECRET_KEY not in json.dumps(audit.after) and SECRET_HEADER not in json.dumps(
        audit.after
    )


def test_target_patch_keeps_secrets_left_out_and_clears_them_with_empty_values(api, org_a):
    data = {**TARGET, "headers": json.dumps(TARGET["headers"])}  # the service takes JSON text
    target = services.target_create(actor=_system(org_a), data=data)

    kept = api.patch(f"/api/v1/targets/{target.pk}/", {"model": "support-2026"}, format="json")
    cleared = api.patch(
        f"/api/v1/targets/{target.pk}/", {"api_key": "", "headers": {}}, format="json"
    )

    assert kept.status_code == 200
    assert kept.json()["model"] == "support-2026"
    assert kept.json()["api_key_set"] is True
    assert kept.json()["header_names"] == ["X-Team"]
    assert cleared.status_code == 200
    assert cleared.json()["api_key_set"] is False
    assert cleared.json()["header_names"] == []
    assert not _fresh(target).api_key


def test_targets_are_archived_with_patch_and_listed_by_state(api, org_a):
    target = TargetFactory(organization=org_a, name="Old agent")
    TargetFactory(organization=org_a, name="New agent")

    archived = api.patch(f"/api/v1/targets/{target.pk}/", {"archived": True}, format="json")

    assert archived.status_code == 200
    assert archived.json()["archived"] is True
    assert [t["name"] for t in api.get("/api/v1/targets/").json()["results"]] == ["New agent"]
    listed = api.get("/api/v1/targets/", {"archived": "true"}).json()["results"]
    assert [t["name"] for t in listed] == ["Old agent"]
    restored = api.patch(f"/api/v1/targets/{target.pk}/", {"archived": False}, format="json")
    assert restored.json()["archived"] is False
    actions = AuditEvent.objects.for_org(org_a).filter(object_id=str(target.pk))
    assert sorted(actions.values_list("action", flat=True)) == [
        "target.archive",
        "target.restore",
    ]
    assert api.delete(f"/api/v1/targets/{target.pk}/").status_code == 405


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**TARGET, "model": ""}, "model", "Name the model the endpoint should use."),
        ({**TARGET, "headers": {"Host": "x"}}, "headers",
         'Header "Host" is set by the client and cannot be changed.'),
        ({**TARGET, "url": "ftp://agent.example.com"}, "url", "Use an http:// or https:// URL."),
        ({**TARGET, "kind": "smoke_signals"}, "kind", '"smoke_signals" is not a valid choice.'),
        ({**TARGET, "api_key_set": False}, "api_key_set",
         'Set the key with "api_key" ("" removes it).'),
        ({**TARGET, "archived": True}, "archived",
         "Create the target, then archive it with PATCH."),
    ],
)  # fmt: skip
def test_invalid_targets_are_400_with_the_field_and_store_nothing(api, org_a, body, field, message):
    response = api.post("/api/v1/targets/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"][field] == [message]
    assert response.json()["message"] == f"{field}: {message}"
    assert not Target.objects.for_org(org_a).exists()


def test_target_writes_need_the_evals_run_scope(org_a, api_for, reader):
    writer = api_for(org_a, ["read", "write"])
    target = TargetFactory(organization=org_a)

    refused = [
        writer.post("/api/v1/targets/", TARGET, format="json"),
        writer.patch(f"/api/v1/targets/{target.pk}/", {"name": "x"}, format="json"),
        reader.post(f"/api/v1/targets/{target.pk}/test-connection/"),
    ]

    assert [(r.status_code, r.json()) for r in refused] == [(403, NO_EVALS_RUN)] * 3
    assert reader.get(f"/api/v1/targets/{target.pk}/").status_code == 200
    assert _fresh(target).name == target.name


def test_test_connection_calls_the_target_and_keeps_the_answer(api, agent_target_a):
    response = api.post(f"/api/v1/targets/{agent_target_a.pk}/test-connection/")

    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.json()["message"].startswith("Connected: HTTP 200 in ")
    target = _fresh(agent_target_a)
    assert target.last_check_ok is True
    assert target.last_check_message == response.json()["message"]


def test_test_connection_reports_a_target_it_may_not_reach(api, org_a):
    # Loopback is refused unless the organization's egress settings allow it.
    target = TargetFactory(organization=org_a, url="http://127.0.0.1:9/v1")

    response = api.post(f"/api/v1/targets/{target.pk}/test-connection/")

    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["message"].startswith("Connection failed: ")
    assert _fresh(target).last_check_ok is False


@pytest.mark.parametrize("n_targets", [1, 7])
def test_target_list_queries_do_not_grow(api, org_a, django_assert_num_queries, n_targets):
    for _ in range(n_targets):
        TargetFactory(organization=org_a)

    with django_assert_num_queries(3):  # token, count, page
        response = api.get("/api/v1/targets/")

    assert response.json()["count"] == n_targets


# --- Plans


def _plan_body(plan: EvalPlan, **changes) -> dict:
    body = {
        "id": plan.pk, "use_case": plan.use_case_id, "use_case_key": plan.use_case.key,
        "name": plan.name, "description": "", "target": plan.target_id, "judge_target": None,
        "scorers": [{"type": "escalation", "weight": 1.0, "label": ""}],
        "forbidden_phrases": [], "approved_sources": [], "pass_threshold": 90.0,
        "requirement_thresholds": {}, "tag_thresholds": {}, "repetitions": 1,
        "cadence": "none", "next_run_at": None, "case_version": 0, "case_count": 0,
        "last_run": None, "archived": False, "archived_at": None,
        "created_at": _when(plan.created_at), "updated_at": _when(plan.updated_at),
    }  # fmt: skip
    return {**body, **changes}


def test_create_plan_returns_it_and_audits_it(api, org_a, use_case_a, agent_target_a):
    RequirementFactory(use_case=use_case_a, number=3)

    response = api.post(
        "/api/v1/eval-plans/",
        {"use_case": use_case_a.pk, "name": "Refund answers", "target": agent_target_a.pk,
         "pass_threshold": 85.5, "requirement_thresholds": {"REQ-3": 100},
         "tag_thresholds": {"refunds": 95}, "repetitions": 2, "cadence": "daily"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201
    plan = EvalPlan.objects.for_org(org_a).get()
    assert response.json() == _plan_body(
        plan, pass_threshold=85.5, requirement_thresholds={"REQ-3": 100.0},
        tag_thresholds={"refunds": 95.0}, repetitions=2, cadence="daily",
        next_run_at=_when(plan.next_run_at),
    )  # fmt: skip
    assert AuditEvent.objects.for_org(org_a).filter(action="eval_plan.create").count() == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "No use case"}, "use_case", "This field is required."),
        ({"use_case": MISSING_ID, "name": "x"}, "use_case", "No such use case."),
        ({"name": "x", "scorers": [{"type": "nope"}]}, "scorers",
         'scorer 1: unknown scorer type "nope"; known types: equals, contains, '),
        ({"name": "x", "requirement_thresholds": {"REQ-9": 100}}, "requirement_thresholds",
         "Not a requirement of this use case: REQ-9"),
        ({"name": "x", "pass_threshold": 120}, "pass_threshold",
         "Ensure this value is less than or equal to 100."),
        ({"name": "x", "cadence": "hourly"}, "cadence", '"hourly" is not a valid choice.'),
        ({"name": "x", "case_count": 3}, "case_count",
         "Cases change through /api/v1/eval-plans/{id}/cases/."),
    ],
)  # fmt: skip
def test_invalid_plans_are_400_and_store_nothing(api, org_a, use_case_a, body, field, message):
    if "use_case" not in body and field != "use_case":
        body = {**body, "use_case": use_case_a.pk}

    response = api.post("/api/v1/eval-plans/", body, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [field]
    assert len(errors[field]) == 1 and errors[field][0].startswith(message)
    assert not EvalPlan.objects.for_org(org_a).exists()


def test_another_organizations_use_case_or_target_is_no_such_object(api, org_a, org_b, use_case_a):
    use_case_b = UseCaseFactory(organization=org_b)
    target_b = TargetFactory(organization=org_b)

    by_use_case = api.post(
        "/api/v1/eval-plans/", {"use_case": use_case_b.pk, "name": "x"}, format="json"
    )
    by_target = api.post(
        "/api/v1/eval-plans/",
        {"use_case": use_case_a.pk, "name": "x", "target": target_b.pk},
        format="json",
    )

    assert by_use_case.json()["errors"] == {"use_case": ["No such use case."]}
    assert by_target.json()["errors"] == {"target": ["No such target."]}
    assert not EvalPlan.objects.for_org(org_a).exists()


def test_plan_patch_changes_archives_and_refuses_to_move(api, org_a, plan_a, use_case_a):
    other_use_case = UseCaseFactory(organization=org_a)
    judge = TargetFactory(organization=org_a, kind="http_json", model="",
                          body_template='{"q": "{{input}}"}', response_path="answer")  # fmt: skip

    changed = api.patch(
        f"/api/v1/eval-plans/{plan_a.pk}/",
        {"description": "Refund questions", "forbidden_phrases": ["guarantee"]},
        format="json",
    )
    moved = api.patch(
        f"/api/v1/eval-plans/{plan_a.pk}/", {"use_case": other_use_case.pk}, format="json"
    )
    bad_judge = api.patch(
        f"/api/v1/eval-plans/{plan_a.pk}/", {"judge_target": judge.pk}, format="json"
    )
    archived = api.patch(f"/api/v1/eval-plans/{plan_a.pk}/", {"archived": True}, format="json")

    assert changed.status_code == 200
    assert changed.json()["description"] == "Refund questions"
    assert changed.json()["forbidden_phrases"] == ["guarantee"]
    assert moved.status_code == 400
    assert moved.json()["errors"] == {
        "use_case": ["A plan stays with its use case: create a new plan there instead."]
    }
    assert bad_judge.json()["errors"] == {
        "judge_target": ["A judge must be an OpenAI-compatible chat endpoint."]
    }
    assert archived.json()["archived"] is True
    assert api.get("/api/v1/eval-plans/").json()["count"] == 0
    assert api.get("/api/v1/eval-plans/", {"archived": "true"}).json()["count"] == 1
    assert _fresh(plan_a).use_case_id == use_case_a.pk


def test_plan_list_filters_by_use_case_and_shows_counts_and_the_last_run(api, org_a, plan_a):
    other = EvalPlanFactory(use_case=UseCaseFactory(organization=org_a), name="Other")
    _add(plan_a, "Where is my refund?")
    _add(plan_a, "Can I return it?")
    make_run(org_a, plan_a, results=("pass", "fail"))

    listed = api.get("/api/v1/eval-plans/", {"use_case": plan_a.use_case_id}).json()

    assert listed["count"] == 1
    shown = listed["results"][0]
    run = EvalRun.objects.for_org(org_a).get()
    assert shown["id"] == plan_a.pk
    assert shown["case_version"] == 3 and shown["case_count"] == 3
    assert shown["last_run"] == {"id": run.pk, "number": 1, "status": "completed",
                                 "pass_rate": 0.5}  # fmt: skip
    assert api.get(f"/api/v1/eval-plans/{other.pk}/").json()["last_run"] is None
    assert api.get("/api/v1/eval-plans/", {"use_case": "x"}).status_code == 400


@pytest.mark.parametrize("n_plans", [1, 6])
def test_plan_list_queries_do_not_grow(api, org_a, django_assert_num_queries, n_plans):
    for _ in range(n_plans):
        plan = EvalPlanFactory(use_case=UseCaseFactory(organization=org_a))
        make_run(org_a, plan)

    with django_assert_num_queries(4):  # token, count, page, last runs
        response = api.get("/api/v1/eval-plans/")

    assert response.json()["count"] == n_plans
    assert all(p["last_run"]["status"] == "completed" for p in response.json()["results"])


def test_plan_writes_need_write_and_reads_need_read(org_a, ci, reader, plan_a, use_case_a):
    assert reader.get(f"/api/v1/eval-plans/{plan_a.pk}/").status_code == 200
    refused = reader.post(
        "/api/v1/eval-plans/", {"use_case": use_case_a.pk, "name": "x"}, format="json"
    )
    assert (refused.status_code, refused.json()) == (403, NO_WRITE)
    hidden = ci.get("/api/v1/eval-plans/")
    assert hidden.status_code == 403
    assert hidden.json()["message"] == (
        "This token lacks one of the scopes 'read', 'write', 'admin'."
    )


# --- Cases


def _case_body(number: int, version: int, **fields) -> dict:
    body = {
        "key": f"CASE-{number}", "number": number, "name": "", "prompt": "", "messages": [],
        "variables": {}, "expected": "", "expected_behavior": "", "context": "", "tags": [],
        "requirement_keys": [], "must_escalate": False, "scorers": [], "pass_threshold": None,
        "origin": "manual", "version_added": version,
    }  # fmt: skip
    return {**body, **fields}


def test_cases_are_created_changed_and_removed_by_number_in_versions(api, org_a, plan_a):
    RequirementFactory(use_case=plan_a.use_case, number=3)
    url = f"/api/v1/eval-plans/{plan_a.pk}/cases/"

    first = api.post(url, {"prompt": "How long does a refund take?", "tags": ["Refunds"],
                           "requirement_keys": ["req-3"]}, format="json")  # fmt: skip
    second = api.post(url, {"name": "Chargeback", "prompt": "I will start a chargeback",
                            "must_escalate": True}, format="json")  # fmt: skip
    changed = api.patch(url + "1/", {"prompt": "When will my refund arrive?"}, format="json")
    removed = api.delete(url + "2/")

    assert first.status_code == 201
    assert first.json() == _case_body(
        1, 1, prompt="How long does a refund take?", tags=["refunds"], requirement_keys=["REQ-3"]
    )
    assert second.json()["key"] == "CASE-2"
    assert changed.status_code == 200
    assert changed.json() == _case_body(
        1, 3, prompt="When will my refund arrive?", tags=["refunds"], requirement_keys=["REQ-3"]
    )
    assert removed.status_code == 204
    current = api.get(url).json()
    assert current["count"] == 1
    assert current["results"] == [changed.json()]
    assert api.get(url + "1/").json() == changed.json()
    assert api.get(url + "2/").json() == NOT_FOUND
    at_v2 = api.get(url, {"version": 2}).json()["results"]
    assert [(c["key"], c["prompt"]) for c in at_v2] == [
        ("CASE-1", "How long does a refund take?"),
        ("CASE-2", "I will start a chargeback"),
    ]
    assert api.get(f"/api/v1/eval-plans/{plan_a.pk}/").json()["case_version"] == 4
    assert api.get(url, {"version": 9}).json()["errors"] == {
        "version": ["No such version: the current version is 4."]
    }


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "No input"}, "prompt", "Give the input: a prompt or chat messages."),
        ({"prompt": "x", "requirement_keys": ["REQ-77"]}, "requirement_keys",
         "Not a requirement of this use case: REQ-77"),
        ({"prompt": "x", "messages": [{"role": "robot", "content": "hi"}]}, "messages",
         "Message 1 needs a role (system, user or assistant) and text."),
        ({"prompt": "x", "pass_threshold": 2}, "pass_threshold",
         "A weighted threshold is between 0 and 1."),
        ({"prompt": "x", "key": "CASE-9"}, "key", "Keys are given once and never change."),
    ],
)  # fmt: skip
def test_invalid_cases_are_400_and_make_no_version(api, plan_a, body, field, message):
    response = api.post(f"/api/v1/eval-plans/{plan_a.pk}/cases/", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}
    assert _fresh(plan_a).case_version == 0


def test_case_writes_need_write(reader, plan_a):
    case = make_case(plan_a.organization, plan_a)
    url = f"/api/v1/eval-plans/{plan_a.pk}/cases/"

    refused = [
        reader.post(url, {"prompt": "x"}, format="json"),
        reader.patch(f"{url}{case.number}/", {"prompt": "x"}, format="json"),
        reader.delete(f"{url}{case.number}/"),
        reader.post(url + "import/?format=csv", b"prompt\nx\n", content_type="text/csv"),
    ]

    assert [(r.status_code, r.json()) for r in refused] == [(403, NO_WRITE)] * 4
    assert reader.get(url).json()["count"] == 1


@pytest.mark.parametrize("n_cases", [1, 8])
def test_case_list_queries_do_not_grow_and_pages(api, plan_a, django_assert_num_queries, n_cases):
    requirement = RequirementFactory(use_case=plan_a.use_case, number=1)
    for n in range(n_cases):
        _add(plan_a, f"Question {n}", requirement_keys=[f"REQ-{requirement.number}"])

    with django_assert_num_queries(5):  # token, plan, count, page, requirements
        response = api.get(f"/api/v1/eval-plans/{plan_a.pk}/cases/", {"page_size": 5})

    body = response.json()
    assert body["count"] == n_cases
    assert len(body["results"]) == min(n_cases, 5)
    assert all(c["requirement_keys"] == ["REQ-1"] for c in body["results"])
    assert (body["next"] is not None) == (n_cases > 5)


# --- Import


CSV = (
    b"name,prompt,tags,requirements,must_escalate,scorers\n"
    b"Refund time,How long does a refund take?,refunds,REQ-3,no,\n"
    b'Chargeback,I will start a chargeback,refunds;escalation,,yes,"[{""type"": ""escalation""}]"\n'
)


def test_import_csv_adds_the_cases_in_one_version(api, org_a, plan_a):
    RequirementFactory(use_case=plan_a.use_case, number=3)
    _add(plan_a, "Existing case")

    response = api.post(
        f"/api/v1/eval-plans/{plan_a.pk}/cases/import/?format=csv&filename=support.csv",
        CSV,
        content_type="text/csv",
    )

    assert response.status_code == 201
    assert response.json() == {"imported": 2, "case_version": 2}
    cases = api.get(f"/api/v1/eval-plans/{plan_a.pk}/cases/").json()["results"]
    assert [(c["key"], c["name"], c["origin"], c["requirement_keys"]) for c in cases] == [
        ("CASE-1", "", "manual", []),
        ("CASE-2", "Refund time", "import", ["REQ-3"]),
        ("CASE-3", "Chargeback", "import", []),
    ]
    assert cases[2]["must_escalate"] is True
    assert cases[2]["tags"] == ["escalation", "refunds"]
    imported = EvalCase.objects.for_org(org_a).get(number=2)
    assert imported.origin == CaseOrigin.IMPORT and imported.origin_ref == "support.csv"


PROMPTFOO = b"""tests:
  - vars:
      question: Where is my parcel?
    assert:
      - type: contains
        value: parcel
"""


def test_import_tells_the_format_from_the_file_when_not_given(api, plan_a):
    jsonl = b'{"prompt": "Where is my parcel?", "tags": ["shipping"]}\n{"prompt": "Hi"}\n'
    samples = b'{"input": [{"role": "user", "content": "Hello"}], "ideal": "Hi!"}\n'

    as_jsonl = api.post(f"/api/v1/eval-plans/{plan_a.pk}/cases/import/", jsonl,
                        content_type="application/x-ndjson")  # fmt: skip
    as_csv = api.post(f"/api/v1/eval-plans/{plan_a.pk}/cases/import/", b"prompt\nHello?\n",
                      content_type="text/csv")  # fmt: skip
    as_samples = api.post(
        f"/api/v1/eval-plans/{plan_a.pk}/cases/import/?filename=samples.jsonl",
        samples,
        content_type="application/octet-stream",
    )
    as_promptfoo = api.post(f"/api/v1/eval-plans/{plan_a.pk}/cases/import/", PROMPTFOO,
                            content_type="application/yaml")  # fmt: skip
    unknown = api.post(f"/api/v1/eval-plans/{plan_a.pk}/cases/import/", b"prompt\nHello?\n",
                       content_type="application/octet-stream")  # fmt: skip

    assert [as_jsonl.status_code, as_csv.status_code, as_samples.status_code] == [201] * 3
    assert as_samples.json() == {"imported": 1, "case_version": 3}
    assert as_promptfoo.json() == {"imported": 1, "case_version": 4}
    case = EvalCase.objects.for_org(plan_a.organization_id).get(number=4)
    assert case.messages == [{"role": "user", "content": "Hello"}] and case.expected == "Hi!"
    case = EvalCase.objects.for_org(plan_a.organization_id).get(number=5)
    assert case.prompt == "Where is my parcel?"
    assert case.scorers[0]["type"] == "contains" and case.scorers[0]["values"] == ["parcel"]
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {
        "format": [
            "Say which format the file is in: ?format= one of csv, jsonl, promptfoo, openai_evals."
        ]
    }


def test_a_broken_import_is_400_line_by_line_and_imports_nothing(api, org_a, plan_a):
    broken = (
        b"name,prompt,must_escalate,scorers\n"
        b"A,,no,\n"
        b'B,hello,maybe,"[{""type"": ""nope""}]"\n'
        b"C,fine,no,\n"
    )

    response = api.post(
        f"/api/v1/eval-plans/{plan_a.pk}/cases/import/?format=csv", broken, content_type="text/csv"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"] == 'file: line 2: the case has no prompt (give "prompt" or "messages")'
    assert body["errors"]["file"][:2] == [
        'line 2: the case has no prompt (give "prompt" or "messages")',
        'line 3: column "must_escalate": "maybe" is not yes/no',
    ]
    assert body["errors"]["file"][2].startswith('line 3: scorer 1: unknown scorer type "nope"')
    assert not EvalCase.objects.for_org(org_a).exists()
    assert _fresh(plan_a).case_version == 0


def test_an_import_the_service_refuses_is_400_with_its_lines(api, org_a, plan_a):
    response = api.post(
        f"/api/v1/eval-plans/{plan_a.pk}/cases/import/?format=jsonl",
        b'{"prompt": "ok"}\n{"prompt": "linked", "requirement_keys": ["REQ-42"]}\n',
        content_type="application/x-ndjson",
    )
    bad_format = api.post(
        f"/api/v1/eval-plans/{plan_a.pk}/cases/import/?format=xlsx", b"x", content_type="text/csv"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "file": ["line 2: requirement_keys: Not a requirement of this use case: REQ-42"]
    }
    assert not EvalCase.objects.for_org(org_a).exists()
    assert bad_format.status_code == 400
    assert bad_format.json()["errors"] == {"format": ['"xlsx" is not a valid choice.']}


def test_import_refuses_a_form_upload(api, plan_a):
    response = api.post(
        f"/api/v1/eval-plans/{plan_a.pk}/cases/import/?format=csv",
        {"file": "prompt\nx\n"},
        format="multipart",
    )

    assert response.status_code == 415
    assert response.json()["message"] == (
        "Send the file itself as the request body (curl --data-binary @file), not as a form."
    )


# --- Runs, as CI starts and follows them


def _start(api, plan, django_capture_on_commit_callbacks, body=None):
    """POST a run; its task runs eagerly when the request's transaction commits."""
    with django_capture_on_commit_callbacks(execute=True):
        return api.post(f"/api/v1/eval-plans/{plan.pk}/runs/", body or {}, format="json")


def test_a_ci_token_starts_a_run_follows_it_and_gets_its_junit_report(
    ci, org_a, plan_a, django_capture_on_commit_callbacks
):
    _add_cases(plan_a)

    started = _start(ci, plan_a, django_capture_on_commit_callbacks,
                     {"label": "main@abc123", "ci_metadata": {"commit": "abc123"}})  # fmt: skip

    assert started.status_code == 202
    run = EvalRun.objects.for_org(org_a).get()
    assert started["Location"] == f"http://testserver/api/v1/eval-runs/{run.pk}/"
    assert started.json() == {
        "id": run.pk, "number": 1, "plan": plan_a.pk, "status": "queued", "trigger": "ci",
        "label": "main@abc123", "ci_metadata": {"commit": "abc123"}, "case_version": 5,
        "target_label": "Reference agent (OpenAI-compatible chat completions)",
        "repetitions": 1, "total_items": 5, "done_items": 0, "passed": 0, "failed": 0,
        "errored": 0, "pass_rate": None, "pass_threshold": 0.8, "thresholds_met": None,
        "threshold_report": [], "eta_seconds": None, "is_baseline": False, "error": "",
        "summary": {}, "comparison": None, "created_at": _when(run.created_at),
        "started_at": None, "finished_at": None,
        "url": f"http://testserver/o/org-a/evals/runs/{run.pk}/",
    }  # fmt: skip

    followed = ci.get(started["Location"])

    assert followed.status_code == 200
    body = followed.json()
    assert body["status"] == "completed"
    assert (body["done_items"], body["passed"], body["failed"], body["errored"]) == (5, 4, 1, 0)
    assert body["pass_rate"] == 0.8
    assert body["thresholds_met"] is True
    assert body["threshold_report"] == [
        {"scope": "overall", "key": "", "required": 0.8, "actual": 0.8, "met": True}
    ]
    assert body["summary"]["counts"]["done"] == 5
    assert body["comparison"] is None  # the plan's first run: nothing to compare with
    assert body["started_at"] and body["finished_at"]

    report = ci.get(f"/api/v1/eval-runs/{run.pk}/junit.xml", HTTP_ACCEPT="application/xml")

    assert report.status_code == 200
    assert report["Content-Type"] == "application/xml; charset=utf-8"
    root = ET.fromstring(b"".join(report.streaming_content))  # noqa: S314 - our own report
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "1", "0")
    testcases = suite.findall("testcase")
    assert len(testcases) == 5
    failed = [t for t in testcases if t.find("failure") is not None]
    assert len(failed) == 1
    assert failed[0].get("name") == f"CASE-5 {FAILING}"
    assert failed[0].find("failure").get("message")


def test_results_are_paginated_filtered_and_show_triage(
    api, org_a, plan_a, django_capture_on_commit_callbacks
):
    _add_cases(plan_a)
    run_id = _start(api, plan_a, django_capture_on_commit_callbacks).json()["id"]
    url = f"/api/v1/eval-runs/{run_id}/results/"

    page = api.get(url, {"page_size": 2}).json()
    failed = api.get(url, {"status": "fail"}).json()
    triaged = api.post(
        f"/api/v1/eval-runs/{run_id}/results/5/triage/",
        {"category": "requirement_ambiguity", "note": "Gift cards: answer or hand off?"},
        format="json",
    )

    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"]
    assert [r["case"] for r in page["results"]] == ["CASE-1", "CASE-2"]
    first = page["results"][0]
    assert set(first) == {
        "case", "case_number", "repetition", "status", "score", "output", "handoff",
        "assertions", "error", "latency_ms", "tokens_in", "tokens_out", "cost", "attempts",
        "triage",
    }  # fmt: skip
    assert first["status"] == "pass" and first["triage"] is None and first["output"]
    assert failed["count"] == 1
    assert failed["results"][0]["case"] == "CASE-5"
    assert failed["results"][0]["assertions"][0]["passed"] is False
    assert triaged.status_code == 200
    triage = Triage.objects.for_org(org_a).get()
    assert triaged.json() == {
        "category": "requirement_ambiguity", "note": "Gift cards: answer or hand off?",
        "author": triage.author_label, "updated_at": _when(triage.updated_at),
    }  # fmt: skip
    assert api.get(url, {"status": "fail"}).json()["results"][0]["triage"] == triaged.json()


def test_triage_refusals(api, ci, reader, org_a):
    run = make_run(org_a, results=("pass",))
    failing = make_run(org_a, results=("fail",))
    url = f"/api/v1/eval-runs/{failing.pk}/results/1/triage/"

    passed = api.post(f"/api/v1/eval-runs/{run.pk}/results/1/triage/", {"category": "flaky"},
                      format="json")  # fmt: skip
    no_case = api.post(f"/api/v1/eval-runs/{failing.pk}/results/9/triage/",
                       {"category": "flaky"}, format="json")  # fmt: skip
    bad = api.post(url, {"category": "gremlins"}, format="json")
    by_reader = reader.post(url, {"category": "flaky"}, format="json")
    by_ci = ci.post(url, {"category": "flaky"}, format="json")

    assert passed.status_code == 400
    assert passed.json()["message"] == "Only a case that failed in this run can be triaged."
    assert no_case.json() == NOT_FOUND
    assert bad.json()["errors"] == {"category": ['"gremlins" is not a valid choice.']}
    assert (by_reader.status_code, by_reader.json()) == (403, NO_EVALS_RUN)
    assert by_ci.status_code == 200
    assert Triage.objects.for_org(org_a).count() == 1


def test_starting_a_run_needs_evals_run(org_a, api_for, reader, plan_a):
    _add_cases(plan_a)
    writer = api_for(org_a, ["read", "write"])

    refused = [
        reader.post(f"/api/v1/eval-plans/{plan_a.pk}/runs/", {}, format="json"),
        writer.post(f"/api/v1/eval-plans/{plan_a.pk}/runs/", {}, format="json"),
        writer.post(f"/api/v1/eval-plans/{plan_a.pk}/external-runs/", b'{"case": "CASE-1"}',
                    content_type="application/x-ndjson"),
    ]  # fmt: skip

    assert [(r.status_code, r.json()) for r in refused] == [(403, NO_EVALS_RUN)] * 3
    assert not EvalRun.objects.for_org(org_a).exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_cases", "This plan has no cases yet: add or import some first."),
        ("no_target", "Choose a target for this plan before running it."),
        ("archived", "This plan is archived; restore it to run it."),
    ],
)
def test_a_run_that_cannot_start_is_400_with_the_reason(api, org_a, plan_a, setup, message):
    if setup != "no_cases":
        _add_cases(plan_a)
    if setup == "no_target":
        services.plan_update(actor=_system(org_a), plan=plan_a, data={"target": None})
    if setup == "archived":
        services.plan_archive(actor=_system(org_a), plan=plan_a)

    response = api.post(f"/api/v1/eval-plans/{plan_a.pk}/runs/", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {"message": message, "code": "invalid",
                               "errors": {"detail": [message]}}  # fmt: skip
    assert not EvalRun.objects.for_org(org_a).exists()


def test_run_start_input_is_checked(api, org_a, plan_a):
    _add_cases(plan_a)

    unknown = api.post(f"/api/v1/eval-plans/{plan_a.pk}/runs/", {"branch": "main"}, format="json")
    not_object = api.post(
        f"/api/v1/eval-plans/{plan_a.pk}/runs/", {"ci_metadata": ["x"]}, format="json"
    )

    assert unknown.json()["errors"] == {"branch": ["Unknown field."]}
    assert not_object.status_code == 400 and "ci_metadata" in not_object.json()["errors"]
    assert not EvalRun.objects.for_org(org_a).exists()


def test_a_run_without_ci_metadata_is_an_api_run(api, org_a, plan_a):
    _add_cases(plan_a)

    response = api.post(f"/api/v1/eval-plans/{plan_a.pk}/runs/", {}, format="json")

    assert response.status_code == 202
    assert response.json()["trigger"] == "api"
    assert response.json()["status"] == "queued"


def test_cancel_stops_an_active_run_and_then_conflicts(api, reader, org_a, plan_a):
    _add_cases(plan_a)
    run_id = api.post(f"/api/v1/eval-plans/{plan_a.pk}/runs/", {}, format="json").json()["id"]

    by_reader = reader.post(f"/api/v1/eval-runs/{run_id}/cancel/")
    junit_while_active = api.get(f"/api/v1/eval-runs/{run_id}/junit.xml")
    cancelled = api.post(f"/api/v1/eval-runs/{run_id}/cancel/")
    again = api.post(f"/api/v1/eval-runs/{run_id}/cancel/")

    assert (by_reader.status_code, by_reader.json()) == (403, NO_EVALS_RUN)
    assert junit_while_active.status_code == 409
    assert junit_while_active.json() == {
        "message": "Run #1 is queued: its JUnit report is ready when it finishes.",
        "code": "conflict",
    }
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert again.json() == {
        "message": "Run #1 has already finished; nothing to cancel.",
        "code": "conflict",
    }
    assert _fresh(EvalRun.objects.for_org(org_a).get()).status == RunStatus.CANCELLED


def test_a_cancelled_run_answers_the_results_it_got_before_it_stopped(api, org_a, plan_a):
    run = make_run(org_a, plan_a, status="running", results=("pass", "fail"))

    cancelled = api.post(f"/api/v1/eval-runs/{run.pk}/cancel/").json()

    assert cancelled == api.get(f"/api/v1/eval-runs/{run.pk}/").json()
    assert (cancelled["done_items"], cancelled["passed"], cancelled["failed"]) == (2, 1, 1)
    assert cancelled["pass_rate"] == 0.5
    assert cancelled["thresholds_met"] is False
    assert cancelled["summary"]["counts"]["done"] == 2


def test_run_cancel_returns_the_run_with_its_stored_summary(org_a, plan_a):
    run = make_run(org_a, plan_a, status="running", results=("pass", "fail"))

    returned = services.run_cancel(actor=_system(org_a), run=run)

    assert (returned.passed, returned.failed, returned.pass_rate) == (1, 1, 0.5)
    assert returned.summary == _fresh(run).summary


def test_baseline_and_comparison(api, org_a, plan_a):
    first = make_run(org_a, plan_a, results=("pass",))
    second = make_run(org_a, plan_a, results=("fail",))
    running = make_run(org_a, plan_a, status="running", results=("pass",))

    marked = api.post(f"/api/v1/eval-runs/{first.pk}/baseline/")
    refused = api.post(f"/api/v1/eval-runs/{running.pk}/baseline/")
    compared = api.get(f"/api/v1/eval-runs/{second.pk}/").json()

    assert marked.status_code == 200
    assert marked.json()["is_baseline"] is True
    assert (refused.status_code, refused.json()) == (
        409, {"message": "Only a completed run can be the baseline.", "code": "conflict"}
    )  # fmt: skip
    assert compared["comparison"]["baseline"] == {"id": first.pk, "number": 1}
    # make_run adds a new case for each run: CASE-1 ran in the first, CASE-2 in the second.
    assert compared["comparison"]["cases"]["removed"] == ["CASE-1"]
    assert compared["comparison"]["cases"]["added"] == ["CASE-2"]
    assert _fresh(first).is_baseline is True


def test_an_active_run_shows_live_counts(api, org_a, plan_a):
    run = make_run(org_a, plan_a, status="running", results=("pass", "fail", "error"))
    EvalRun.objects.for_org(org_a).filter(pk=run.pk).update(total_items=6)

    single = api.get(f"/api/v1/eval-runs/{run.pk}/").json()
    listed = api.get("/api/v1/eval-runs/").json()["results"][0]

    live = {"status": "running", "total_items": 6, "done_items": 3, "passed": 1, "failed": 1,
            "errored": 1, "pass_rate": None, "thresholds_met": None,
            "threshold_report": []}  # fmt: skip
    assert {k: single[k] for k in live} == live
    assert {k: listed[k] for k in live} == live
    assert single["eta_seconds"] is not None and single["eta_seconds"] >= 0
    assert listed["eta_seconds"] is None and listed["comparison"] is None


def test_run_list_filters_by_plan_and_status(api, org_a, plan_a):
    other = EvalPlanFactory(use_case=UseCaseFactory(organization=org_a))
    done = make_run(org_a, plan_a)
    running = make_run(org_a, plan_a, status="running")
    elsewhere = make_run(org_a, other)

    def ids(**params):
        return [r["id"] for r in api.get("/api/v1/eval-runs/", params).json()["results"]]

    assert ids() == [elsewhere.pk, running.pk, done.pk]
    assert ids(plan=plan_a.pk) == [running.pk, done.pk]
    assert ids(plan=plan_a.pk, status="completed") == [done.pk]
    assert api.get("/api/v1/eval-runs/", {"status": "sleeping"}).status_code == 400


def test_reading_runs_needs_read_or_evals_run(org_a, api_for):
    run = make_run(org_a)
    telemetry = api_for(org_a, ["telemetry:write"])

    paths = ["/api/v1/eval-runs/", f"/api/v1/eval-runs/{run.pk}/",
             f"/api/v1/eval-runs/{run.pk}/results/",
             f"/api/v1/eval-runs/{run.pk}/junit.xml"]  # fmt: skip
    for path in paths:
        response = telemetry.get(path)
        assert response.status_code == 403, path
        assert response.json() == {
            "message": "This token lacks one of the scopes 'read', 'write', 'evals:run', 'admin'.",
            "code": "permission_denied",
        }


@pytest.mark.parametrize("n_runs", [1, 6])
def test_run_list_queries_do_not_grow(api, org_a, plan_a, django_assert_num_queries, n_runs):
    for n in range(n_runs):
        make_run(org_a, plan_a, status="completed" if n % 2 else "running")

    with django_assert_num_queries(4):  # token, count, page, live counts of active runs
        response = api.get("/api/v1/eval-runs/")

    assert response.json()["count"] == n_runs


@pytest.mark.parametrize("n_results", [1, 7])
def test_result_list_queries_do_not_grow(api, org_a, django_assert_num_queries, n_results):
    run = make_run(org_a, results=("fail",) * n_results)
    Triage.objects.create(organization=org_a, run=run, case=run.results.first().case,
                          category="flaky", author_label="test")  # fmt: skip

    with django_assert_num_queries(5):  # token, run, count, page, triages
        response = api.get(f"/api/v1/eval-runs/{run.pk}/results/")

    assert response.json()["count"] == n_results
    assert all(r["triage"]["category"] == "flaky" for r in response.json()["results"])


def test_unknown_runs_are_404_json_even_when_xml_is_asked_for(api):
    assert api.get(f"/api/v1/eval-runs/{MISSING_ID}/").json() == NOT_FOUND
    for path in [f"/api/v1/eval-runs/{MISSING_ID}/junit.xml", "/api/v1/eval-runs/abc/junit.xml"]:
        response = api.get(path, HTTP_ACCEPT="application/xml")
        assert (response.status_code, response.json()) == (404, NOT_FOUND), path


# --- Results computed elsewhere


def test_uploaded_results_make_a_completed_run_with_thresholds(ci, org_a, plan_a):
    _add_cases(plan_a, failing=False)
    lines = [
        {"case": "CASE-1", "passed": True, "output": "5 to 10 days", "latency_ms": 120},
        {"case": "case-2", "passed": True, "score": 1},
        {"case": "3", "passed": False, "output": "Sorry?"},
        {"case": "CASE-4", "error": "timeout"},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()

    response = ci.post(f"/api/v1/eval-plans/{plan_a.pk}/external-runs/?label=nightly", body,
                       content_type="application/x-ndjson")  # fmt: skip

    assert response.status_code == 201
    run = EvalRun.objects.for_org(org_a).get()
    assert response["Location"] == f"http://testserver/api/v1/eval-runs/{run.pk}/"
    shown = response.json()
    assert shown["status"] == "completed" and shown["trigger"] == "external"
    assert shown["label"] == "nightly"
    assert (shown["done_items"], shown["passed"], shown["failed"], shown["errored"]) == (4, 2, 1, 1)
    assert shown["pass_rate"] == 0.5
    assert shown["thresholds_met"] is False
    assert shown["threshold_report"] == [
        {"scope": "overall", "key": "", "required": 0.8, "actual": 0.5, "met": False}
    ]
    statuses = dict(EvalResult.objects.for_org(org_a).values_list("case_number", "status"))
    assert statuses == {1: ResultStatus.PASS, 2: ResultStatus.PASS, 3: ResultStatus.FAIL,
                        4: ResultStatus.ERROR}  # fmt: skip


def test_a_bad_results_file_is_400_line_by_line_and_stores_no_run(ci, org_a, plan_a):
    _add_cases(plan_a, failing=False)
    body = b'{"case": "CASE-1", "passed": true}\nnot json\n{"case": "CASE-99", "passed": true}\n'

    response = ci.post(f"/api/v1/eval-plans/{plan_a.pk}/external-runs/", body,
                       content_type="application/x-ndjson")  # fmt: skip
    empty = ci.post(f"/api/v1/eval-plans/{plan_a.pk}/external-runs/", b"",
                    content_type="application/x-ndjson")  # fmt: skip

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "file": [
            "line 2: not valid JSON (Expecting value).",
            "line 3: 'CASE-99' is not a case of this plan.",
        ]
    }
    assert response.json()["message"] == "file: line 2: not valid JSON (Expecting value)."
    assert empty.json()["errors"] == {"file": ["The file has no results."]}
    assert not EvalRun.objects.for_org(org_a).exists()
    assert not EvalResult.objects.for_org(org_a).exists()


# --- The genai-po client against the real API


@pytest.mark.django_db(transaction=True)
def test_the_genai_po_client_runs_and_uploads_against_the_api(
    live_server, org_a, plan_a, token_factory, monkeypatch, tmp_path, capsys
):
    """The CLI's paths, headers and fields are the API's: a CI token runs the plan, waits,
    writes the JUnit report; a bad results file comes back line by line."""
    _add_cases(plan_a)
    _, raw = token_factory(org_a, ["evals:run"])
    for name in ("CI", "GITHUB_ACTIONS", "GITHUB_SHA", "GITHUB_REF_NAME", "GITHUB_HEAD_REF"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(cli.ENV_URL, live_server.url)
    monkeypatch.setenv(cli.ENV_TOKEN, raw)
    report = tmp_path / "eval-results.xml"
    results = tmp_path / "results.jsonl"
    results.write_text('{"case": "CASE-1", "passed": true}\n{"case": "CASE-77", "passed": true}\n')

    ran = cli.main(["eval", "run", "--plan", str(plan_a.pk), "--wait", "--junit", str(report)],
                   sleep=lambda seconds: None)  # fmt: skip
    ran_out = capsys.readouterr().out
    uploaded = cli.main(["eval", "upload", "--plan", str(plan_a.pk), str(results)])
    upload_err = capsys.readouterr().err

    assert ran == cli.EXIT_OK
    run = EvalRun.objects.for_org(org_a).get()
    assert f"Run #1 (id {run.pk}): completed" in ran_out
    assert f"Run: {live_server.url}/o/org-a/evals/runs/{run.pk}/" in ran_out
    suite = ET.parse(report).getroot().find("testsuite")  # noqa: S314 - our own report
    assert len(suite.findall("testcase")) == 5
    assert uploaded == cli.EXIT_ERROR
    assert "file: line 2: 'CASE-77' is not a case of this plan. (HTTP 400)" in upload_err
    assert EvalRun.objects.for_org(org_a).count() == 1


# --- The schema


def test_schema_documents_every_evals_endpoint_and_stays_valid(client):
    response = client.get("/api/v1/schema/?format=json")
    schema = json.loads(response.content)

    validate_schema(schema)
    paths = schema["paths"]
    mine = [p for p in paths if p.startswith(("/api/v1/targets/", "/api/v1/eval-"))]
    assert {path: set(paths[path]) for path in mine} == {
        "/api/v1/targets/": {"get", "post"},
        "/api/v1/targets/{id}/": {"get", "patch"},
        "/api/v1/targets/{id}/test-connection/": {"post"},
        "/api/v1/eval-plans/": {"get", "post"},
        "/api/v1/eval-plans/{id}/": {"get", "patch"},
        "/api/v1/eval-plans/{id}/cases/": {"get", "post"},
        "/api/v1/eval-plans/{id}/cases/{number}/": {"get", "patch", "delete"},
        "/api/v1/eval-plans/{id}/cases/import/": {"post"},
        "/api/v1/eval-plans/{id}/runs/": {"post"},
        "/api/v1/eval-plans/{id}/external-runs/": {"post"},
        "/api/v1/eval-runs/": {"get"},
        "/api/v1/eval-runs/{id}/": {"get"},
        "/api/v1/eval-runs/{id}/cancel/": {"post"},
        "/api/v1/eval-runs/{id}/baseline/": {"post"},
        "/api/v1/eval-runs/{id}/results/": {"get"},
        "/api/v1/eval-runs/{id}/results/{number}/triage/": {"post"},
        "/api/v1/eval-runs/{id}/junit.xml": {"get"},
    }
    components = schema["components"]["schemas"]
    assert "api_key" not in components["Target"]["properties"]
    assert {"api_key", "headers"} <= set(components["TargetRequest"]["properties"])
    assert components["TargetRequest"]["properties"]["api_key"]["writeOnly"] is True
    started = paths["/api/v1/eval-plans/{id}/runs/"]["post"]["responses"]["202"]
    assert started["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EvalRun"
    }
    assert "Location" in started["headers"]
    junit = paths["/api/v1/eval-runs/{id}/junit.xml"]["get"]["responses"]["200"]
    assert junit["content"] == {"application/xml": {"schema": {"type": "string"}}}
    upload = paths["/api/v1/eval-plans/{id}/external-runs/"]["post"]["requestBody"]["content"]
    assert set(upload) == {"application/x-ndjson", "text/plain"}
    listed = paths["/api/v1/eval-runs/{id}/results/"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedEvalResultList"
    }
