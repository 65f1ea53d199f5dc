"""The use-case REST API: briefs, stage moves, the AI PRD and its versions, requirements.

Every write goes through a service (one audit event per change, by the token); a refused
write is a 400 with `message` and `errors` and changes nothing; another organization's ids
are 404, or 400 "No such use case." when named in a body, exactly as ids that do not exist.
"""

import json

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework import serializers
from rest_framework.test import APIClient

from genai_po.actors import Actor
from genai_po.models import AuditEvent
from genai_po.roles import Role
from tests.factories.evals import EvalPlanFactory, make_case
from tests.factories.usecases import RequirementFactory, UseCaseFactory, VerificationFactory
from usecases import services
from usecases.models import PRD_SECTION_KEYS, Prd, PrdVersion, Requirement, UseCase

pytestmark = pytest.mark.django_db

MISSING_ID = 987654321
NOT_FOUND = {"message": "Not found.", "code": "not_found"}
NO_WRITE_SCOPE = {"message": "This token lacks the 'write' scope.", "code": "permission_denied"}
EMPTY_SECTIONS = dict.fromkeys(PRD_SECTION_KEYS, "")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_for(token_factory):
    """An API client for a new token of `org` with exactly `scopes`."""

    def make(org, scopes=("read", "write"), name=None):
        token, raw = token_factory(org, list(scopes), **({"name": name} if name else {}))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        api.token = token
        api.get("/api/v1/me/")  # the first use writes last_used_at: not in measured calls
        return api

    return make


@pytest.fixture
def api(org_a, api_for):
    return api_for(org_a, ["read", "write"], name="CI")


@pytest.fixture
def po(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="po@a.example")


@pytest.fixture
def outsider(org_b, member_factory):
    return member_factory(org_b, Role.OWNER, email="outsider@b.example")


def _system(org) -> Actor:
    return Actor.system(organization=org, label="test setup")


def _when(value) -> str:
    """A datetime as the API writes it."""
    return serializers.DateTimeField().to_representation(value)


def _events(org) -> list[tuple[str, str]]:
    return list(
        AuditEvent.objects.for_org(org).order_by("seq").values_list("action", "actor_label")
    )


def _use_case(org, **data) -> UseCase:
    return services.use_case_create(actor=_system(org), data={"title": "Refund answers", **data})


def _fresh(obj):
    return type(obj).objects.for_org(obj.organization_id).get(pk=obj.pk)


BRIEF = {
    "title": "Refund answers",
    "problem": "Agents search three wikis for the refund policy.",
    "workflow": "Tier-1 refund tickets",
    "target_users": "Tier-1 agents",
    "user_count": 40,
    "department": "Support",
    "value_hypothesis": "Halve handling time.",
    "metric_name": "Handling time",
    "metric_unit": "minutes",
    "metric_baseline": "11.5",
    "metric_target": 7,
    "risk_tier": "high",
    "human_involvement": "review_each",
    "status": "active",
}
ALL_FOURS = dict.fromkeys(["volume", "owner", "observable", "risk", "context", "reuse"], 4)
NO_SCORES = dict.fromkeys(ALL_FOURS)


# --- Use cases: create


def test_create_returns_the_brief_and_audits_it(api, org_a, po):
    response = api.post("/api/v1/use-cases/", {**BRIEF, "owner": po.user_id}, format="json")

    assert response.status_code == 201
    use_case = UseCase.objects.for_org(org_a).get()
    assert response.json() == {
        "id": use_case.pk,
        "key": "UC-1",
        "number": 1,
        "title": "Refund answers",
        "problem": "Agents search three wikis for the refund policy.",
        "workflow": "Tier-1 refund tickets",
        "target_users": "Tier-1 agents",
        "user_count": 40,
        "owner": po.user_id,
        "owner_email": "po@a.example",
        "department": "Support",
        "value_hypothesis": "Halve handling time.",
        "metric_name": "Handling time",
        "metric_unit": "minutes",
        "metric_baseline": "11.50",
        "metric_target": "7.00",
        "stage": "discover",
        "risk_tier": "high",
        "human_involvement": "review_each",
        "status": "active",
        "archived": False,
        "archived_at": None,
        "scores": NO_SCORES,
        "priority_score": None,
        "rank": None,
        "created_at": _when(use_case.created_at),
        "updated_at": _when(use_case.updated_at),
    }
    assert _events(org_a)[-1] == ("use_case.create", f"token CI ({api.token.prefix}…)")


def test_create_with_scores_ranks_the_use_case(api, org_a):
    _use_case(org_a, title="Scored lower")
    services.use_case_score(
        actor=_system(org_a), use_case=UseCase.objects.for_org(org_a).get(), scores=ALL_FOURS
    )
    scores = {**ALL_FOURS, "volume": 5}

    response = api.post("/api/v1/use-cases/", {"title": "Triage", "scores": scores}, format="json")

    assert response.status_code == 201
    body = response.json()
    # (5*3 + 4*2*4 + 4*1) / 12 = 51/12
    assert (body["key"], body["scores"], body["priority_score"], body["rank"]) == (
        "UC-2",
        scores,
        "4.250",
        1,
    )
    assert [action for action, _ in _events(org_a)][-2:] == ["use_case.create", "use_case.score"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"title": ["This field is required."]}),
        ({"title": "  "}, {"title": ["This field may not be blank."]}),
        ({"title": "x" * 201}, {"title": ["Ensure this field has no more than 200 characters."]}),
        ({"title": "T", "risk_tier": "extreme"},
         {"risk_tier": ['"extreme" is not a valid choice.']}),
        ({"title": "T", "user_count": -1},
         {"user_count": ["Ensure this value is greater than or equal to 0."]}),
        ({"title": "T", "metric_target": "lots"},
         {"metric_target": ["A valid number is required."]}),
        (
            {"title": "T", "stage": "deploy", "priority": 5, "archived": True},
            {
                "stage": ["Move a use case with POST /api/v1/use-cases/{id}/stage/."],
                "priority": ["Unknown field."],
                "archived": ["Create the use case, then archive it with PATCH."],
            },
        ),
        (
            {"title": "T", "scores": {"volume": 6, "speed": 2, "risk": 0}},
            {
                "scores": {
                    "volume": ["Ensure this value is less than or equal to 5."],
                    "risk": ["Ensure this value is greater than or equal to 1."],
                    "speed": [
                        "Unknown criterion. Known: volume, owner, observable, risk, context, "
                        "reuse."
                    ],
                }
            },
        ),
        (
            {"title": "T", "owner": MISSING_ID},
            {"owner": ["Choose a member of this organization."]},
        ),
    ],
    ids=["no-title", "blank-title", "long-title", "bad-choice", "negative-count", "not-a-number",
         "unknown-and-read-only", "bad-scores", "unknown-owner"],
)  # fmt: skip
def test_create_refuses_invalid_input_and_creates_nothing(api, org_a, body, errors):
    events = _events(org_a)

    response = api.post("/api/v1/use-cases/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"] == errors
    assert not UseCase.objects.for_org(org_a).exists()
    assert _events(org_a) == events


def test_create_message_names_the_field(api):
    response = api.post("/api/v1/use-cases/", {"problem": "p"}, format="json")

    assert response.json() == {
        "message": "title: This field is required.",
        "code": "invalid",
        "errors": {"title": ["This field is required."]},
    }


def test_an_owner_from_another_organization_reads_as_unknown(api, org_a, outsider):
    theirs = api.post(
        "/api/v1/use-cases/", {"title": "T", "owner": outsider.user_id}, format="json"
    )
    missing = api.post("/api/v1/use-cases/", {"title": "T", "owner": MISSING_ID}, format="json")

    assert theirs.status_code == missing.status_code == 400
    assert (
        theirs.json()
        == missing.json()
        == {
            "message": "owner: Choose a member of this organization.",
            "code": "invalid",
            "errors": {"owner": ["Choose a member of this organization."]},
        }
    )
    assert not UseCase.objects.for_org(org_a).exists()


# --- Use cases: retrieve, update, archive


def test_retrieve_by_id(api, org_a, po):
    use_case = _use_case(org_a, owner=po.user_id, department="Support")

    response = api.get(f"/api/v1/use-cases/{use_case.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["key"], body["number"], body["title"]) == (
        use_case.pk,
        "UC-1",
        1,
        "Refund answers",
    )
    assert (body["owner"], body["owner_email"], body["department"]) == (
        po.user_id,
        "po@a.example",
        "Support",
    )


def test_another_organizations_use_case_is_404_like_a_missing_one(api, org_b):
    theirs = _use_case(org_b)

    for method in ("get", "patch"):
        response = getattr(api, method)(f"/api/v1/use-cases/{theirs.pk}/", {}, format="json")
        missing = getattr(api, method)(f"/api/v1/use-cases/{MISSING_ID}/", {}, format="json")
        assert response.status_code == missing.status_code == 404
        assert response.json() == missing.json() == NOT_FOUND


def test_patch_changes_brief_and_scores_with_one_event_each(api, org_a, po):
    use_case = _use_case(org_a)
    events = _events(org_a)

    response = api.patch(
        f"/api/v1/use-cases/{use_case.pk}/",
        {"title": "Refund replies", "owner": po.user_id, "scores": ALL_FOURS},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["owner_email"], body["scores"]) == (
        "Refund replies",
        "po@a.example",
        ALL_FOURS,
    )
    assert (body["priority_score"], body["rank"]) == ("4.000", 1)
    assert [a for a, _ in _events(org_a)[len(events) :]] == ["use_case.update", "use_case.score"]


def test_patch_clears_a_score_and_the_rank(api, org_a):
    use_case = _use_case(org_a)
    services.use_case_score(actor=_system(org_a), use_case=use_case, scores=ALL_FOURS)

    body = api.patch(
        f"/api/v1/use-cases/{use_case.pk}/", {"scores": {"risk": None}}, format="json"
    ).json()

    assert body["scores"] == {**ALL_FOURS, "risk": None}
    assert (body["priority_score"], body["rank"]) == (None, None)


def test_patch_archives_and_restores(api, org_a):
    use_case = _use_case(org_a)
    services.use_case_score(actor=_system(org_a), use_case=use_case, scores=ALL_FOURS)

    archived = api.patch(f"/api/v1/use-cases/{use_case.pk}/", {"archived": True}, format="json")
    archived_at = _fresh(use_case).archived_at
    listed = api.get("/api/v1/use-cases/").json()
    restored = api.patch(f"/api/v1/use-cases/{use_case.pk}/", {"archived": False}, format="json")

    assert archived.status_code == 200
    assert (archived.json()["archived"], archived.json()["rank"]) == (True, None)
    assert archived.json()["archived_at"] == _when(archived_at)
    assert listed["count"] == 0
    assert (restored.json()["archived"], restored.json()["archived_at"]) == (False, None)
    assert restored.json()["rank"] == 1
    assert [a for a, _ in _events(org_a)][-2:] == ["use_case.archive", "use_case.restore"]


def test_a_refused_patch_changes_nothing_even_after_a_step_succeeded(api, org_a, outsider):
    """Restoring comes first; the owner is refused after it: all of it is rolled back."""
    use_case = _use_case(org_a)
    services.use_case_archive(actor=_system(org_a), use_case=use_case)
    events = _events(org_a)

    response = api.patch(
        f"/api/v1/use-cases/{use_case.pk}/",
        {"archived": False, "owner": outsider.user_id},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"owner": ["Choose a member of this organization."]}
    assert _fresh(use_case).archived_at is not None
    assert _events(org_a) == events


def test_patch_refuses_read_only_fields(api, org_a):
    use_case = _use_case(org_a)

    response = api.patch(
        f"/api/v1/use-cases/{use_case.pk}/",
        {"stage": "deploy", "key": "UC-9", "rank": 1, "title": "New"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "stage": ["Move a use case with POST /api/v1/use-cases/{id}/stage/."],
        "key": ["Read-only."],
        "rank": ["Read-only."],
    }
    assert _fresh(use_case).title == "Refund answers"


def test_use_cases_are_neither_replaced_nor_deleted(api, org_a):
    use_case = _use_case(org_a)

    put = api.put(f"/api/v1/use-cases/{use_case.pk}/", {"title": "T"}, format="json")
    delete = api.delete(f"/api/v1/use-cases/{use_case.pk}/")

    assert put.status_code == delete.status_code == 405
    assert delete.json() == {
        "message": 'Method "DELETE" not allowed.',
        "code": "method_not_allowed",
    }
    assert _fresh(use_case).title == "Refund answers"


# --- Use cases: list


@pytest.fixture
def portfolio(org_a, org_b, member_factory):
    """Organization A: five use cases, one archived; B has one of its own."""
    owner = member_factory(org_a, Role.PRODUCT_OWNER, email="owner@a.example")
    system = _system(org_a)
    made = {
        "refunds": _use_case(org_a, title="Refund answers", owner=owner.user_id,
                             risk_tier="high", department="Support"),
        "triage": _use_case(org_a, title="Ticket triage", status="active"),
        "claims": _use_case(org_a, title="Claims summaries", problem="Refund claims pile up"),
        "hr": _use_case(org_a, title="HR policy bot", owner=owner.user_id, risk_tier="minimal"),
        "old": _use_case(org_a, title="Old pilot"),
    }  # fmt: skip
    services.use_case_score(actor=system, use_case=made["triage"], scores=ALL_FOURS)
    services.use_case_score(
        actor=system, use_case=made["claims"], scores={**ALL_FOURS, "volume": 5}
    )
    services.use_case_score(
        actor=system, use_case=made["old"], scores={**ALL_FOURS, "volume": 5, "reuse": 5}
    )
    services.use_case_archive(actor=system, use_case=made["old"])
    made["claims"].stage = "prototype"  # set directly: the gates are tested elsewhere
    made["claims"].save(update_fields=["stage"])
    _use_case(org_b, title="Refund answers in B")
    return {"owner": owner, **made}


def _keys(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["key"] for row in response.json()["results"]]


def test_list_ranks_active_use_cases_unscored_last(api, portfolio):
    response = api.get("/api/v1/use-cases/")

    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert (body["count"], body["next"], body["previous"]) == (4, None, None)
    assert [(r["key"], r["rank"]) for r in body["results"]] == [
        ("UC-3", 1),
        ("UC-2", 2),
        ("UC-1", None),
        ("UC-4", None),
    ]


def test_list_is_paginated(api, portfolio):
    first = api.get("/api/v1/use-cases/?page_size=3&ordering=key").json()
    second = api.get("/api/v1/use-cases/?page_size=3&ordering=key&page=2").json()

    assert first["count"] == second["count"] == 4
    assert first["next"] == "http://testserver/api/v1/use-cases/?ordering=key&page=2&page_size=3"
    assert second["previous"] == "http://testserver/api/v1/use-cases/?ordering=key&page_size=3"
    assert second["next"] is None
    assert [r["key"] for r in first["results"] + second["results"]] == [
        "UC-1",
        "UC-2",
        "UC-3",
        "UC-4",
    ]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("stage=prototype", ["UC-3"]),
        ("status=active", ["UC-2"]),
        ("risk_tier=minimal", ["UC-4"]),
        ("q=refund", ["UC-3", "UC-1"]),
        ("q=SUPPORT", ["UC-1"]),
        ("archived=true", ["UC-5"]),
        ("archived=false&ordering=key", ["UC-1", "UC-2", "UC-3", "UC-4"]),
        ("ordering=-key", ["UC-4", "UC-3", "UC-2", "UC-1"]),
        ("ordering=-rank", ["UC-4", "UC-1", "UC-2", "UC-3"]),
        ("stage=&status=&ordering=key", ["UC-1", "UC-2", "UC-3", "UC-4"]),
    ],
)
def test_list_filters(api, portfolio, query, keys):
    assert _keys(api.get(f"/api/v1/use-cases/?{query}")) == keys


def test_list_filters_by_owner_and_orders_by_update(api, portfolio):
    services.use_case_update(
        actor=_system(portfolio["owner"].organization),
        use_case=portfolio["refunds"],
        data={"title": "Refund answers v2"},
    )

    owned = api.get(f"/api/v1/use-cases/?owner={portfolio['owner'].user_id}&ordering=key")
    recent = api.get("/api/v1/use-cases/?ordering=-updated")

    assert _keys(owned) == ["UC-1", "UC-4"]
    assert _keys(recent)[0] == "UC-1"


def test_rank_in_a_filtered_list_is_the_organizations_rank(api, portfolio):
    """Filtering shows fewer rows; it does not re-rank them."""
    response = api.get("/api/v1/use-cases/?status=active")

    assert [(r["key"], r["rank"]) for r in response.json()["results"]] == [("UC-2", 2)]
    assert api.get(f"/api/v1/use-cases/{portfolio['triage'].pk}/").json()["rank"] == 2


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("stage=launch", {"stage": ['"launch" is not a valid choice.']}),
        ("owner=me", {"owner": ["A valid integer is required."]}),
        ("archived=maybe", {"archived": ["Must be a valid boolean."]}),
        ("ordering=title", {"ordering": ['"title" is not a valid choice.']}),
    ],
)
def test_list_refuses_invalid_filters(api, portfolio, query, errors):
    response = api.get(f"/api/v1/use-cases/?{query}")

    assert response.status_code == 400
    assert response.json()["errors"] == errors


@pytest.mark.parametrize("n_use_cases", [3, 30])
def test_list_queries_do_not_grow_with_use_cases(
    api, org_a, member_factory, django_assert_num_queries, n_use_cases
):
    owner = member_factory(org_a, Role.PRODUCT_OWNER)
    for n in range(n_use_cases):
        use_case = UseCaseFactory(organization=org_a, owner=owner.user)
        if n % 2:
            services.use_case_score(actor=_system(org_a), use_case=use_case, scores=ALL_FOURS)

    # token + organization, COUNT(*), one page of use cases with owners and ranks
    with django_assert_num_queries(3):
        response = api.get("/api/v1/use-cases/")

    assert response.json()["count"] == n_use_cases
    assert len(response.json()["results"]) == n_use_cases


# --- Stage moves


GATE_MISSING_BRIEF = [
    {
        "label": "Brief describes problem, workflow and users",
        "state": "missing",
        "detail": "Fill in: problem, workflow, target users.",
    },
    {"label": "An owner is named", "state": "missing", "detail": "Choose the use case's owner."},
    {
        "label": "Success metric with baseline and target",
        "state": "missing",
        "detail": "Give the business metric a name, a baseline and a target.",
    },
]


def test_a_gate_not_met_lists_what_is_missing_and_moves_nothing(api, org_a):
    use_case = _use_case(org_a)
    events = _events(org_a)

    response = api.post(
        f"/api/v1/use-cases/{use_case.pk}/stage/", {"to_stage": "prototype"}, format="json"
    )

    assert response.status_code == 400
    message = (
        "The gate is not met: Brief describes problem, workflow and users; An owner is "
        "named; Success metric with baseline and target. Give a reason to override it."
    )
    assert response.json() == {
        "message": f"override_reason: {message}",
        "code": "invalid",
        "errors": {"override_reason": [message], "unmet": GATE_MISSING_BRIEF},
    }
    assert _fresh(use_case).stage == "discover"
    assert _events(org_a) == events


def test_a_gate_is_overridden_with_a_reason(api, org_a):
    use_case = _use_case(org_a)

    response = api.post(
        f"/api/v1/use-cases/{use_case.pk}/stage/",
        {"to_stage": "prototype", "override_reason": "Pilot agreed with the VP."},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k not in ("id", "created_at")} == {
        "use_case": use_case.pk,
        "from_stage": "discover",
        "to_stage": "prototype",
        "overridden": True,
        "override_reason": "Pilot agreed with the VP.",
        "unmet": GATE_MISSING_BRIEF,
        "actor": f"token CI ({api.token.prefix}…)",
    }
    assert _fresh(use_case).stage == "prototype"
    assert _events(org_a)[-1][0] == "use_case.stage_override"


def test_a_met_gate_moves_without_override(api, org_a, po):
    use_case = _use_case(org_a, **{**BRIEF, "owner": po.user_id})

    response = api.post(
        f"/api/v1/use-cases/{use_case.pk}/stage/", {"to_stage": "prototype"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["overridden"], response.json()["unmet"]) == (False, [])
    assert api.get(f"/api/v1/use-cases/{use_case.pk}/").json()["stage"] == "prototype"
    assert _events(org_a)[-1][0] == "use_case.stage_change"


@pytest.mark.parametrize(
    ("body", "message", "errors"),
    [
        ({}, "to_stage: This field is required.", {"to_stage": ["This field is required."]}),
        (
            {"to_stage": "launch"},
            'to_stage: "launch" is not a valid choice.',
            {"to_stage": ['"launch" is not a valid choice.']},
        ),
        (
            {"to_stage": "discover"},
            "to_stage: The use case is already in this stage.",
            {"to_stage": ["The use case is already in this stage."]},
        ),
    ],
)
def test_invalid_stage_moves(api, org_a, body, message, errors):
    use_case = _use_case(org_a)

    response = api.post(f"/api/v1/use-cases/{use_case.pk}/stage/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"message": message, "code": "invalid", "errors": errors}


def test_an_archived_use_case_does_not_move(api, org_a):
    use_case = _use_case(org_a)
    services.use_case_archive(actor=_system(org_a), use_case=use_case)

    response = api.post(
        f"/api/v1/use-cases/{use_case.pk}/stage/",
        {"to_stage": "prototype", "override_reason": "Because."},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["message"] == "Restore the archived use case before moving it."
    assert _fresh(use_case).stage == "discover"


# --- The AI PRD


def test_prd_before_the_first_save_starts_from_the_template(api, org_a):
    services.prd_template_update(
        actor=_system(org_a), sections={"tone_constraints": "Plain, friendly English."}
    )
    use_case = _use_case(org_a)

    response = api.get(f"/api/v1/use-cases/{use_case.pk}/prd/")

    assert response.status_code == 200
    assert response.json() == {
        "use_case": use_case.pk,
        "use_case_key": "UC-1",
        "version": 0,
        "updated_at": None,
        "sections": {**EMPTY_SECTIONS, "tone_constraints": "Plain, friendly English."},
        "requirements": [],
        "readiness": {
            "ready": False,
            "requirement_count": 0,
            "launch_blocking_count": 0,
            "unverified": [],
        },
    }
    assert not Prd.objects.for_org(org_a).exists()


def test_each_put_is_a_new_version(api, org_a):
    use_case = _use_case(org_a)
    url = f"/api/v1/use-cases/{use_case.pk}/prd/"

    first = api.put(
        url,
        {"sections": {"user_goal": "One reply.", "tone_constraints": "Plain."},
         "summary": "First draft"},
        format="json",
    )  # fmt: skip
    second = api.put(
        url, {"sections": {"user_goal": "One correct reply."}, "summary": "Goal"}, format="json"
    )

    assert first.status_code == second.status_code == 200
    assert first.json()["version"] == 1
    body = second.json()
    assert body["version"] == 2
    assert body["sections"] == {
        **EMPTY_SECTIONS,
        "user_goal": "One correct reply.",
        "tone_constraints": "Plain.",
    }
    assert body["updated_at"] == _when(Prd.objects.for_org(org_a).get().updated_at)
    assert api.get(url).json() == body
    assert [a for a, _ in _events(org_a)][-2:] == ["prd.save", "prd.save"]


def test_versions_list_and_retrieve(api, org_a):
    use_case = _use_case(org_a)
    system = _system(org_a)
    services.prd_save(actor=system, use_case=use_case, sections={"user_goal": "A"}, summary="v1")
    api.put(
        f"/api/v1/use-cases/{use_case.pk}/prd/",
        {"sections": {"user_goal": "B"}, "summary": "Sharper goal"},
        format="json",
    )
    versions = list(PrdVersion.objects.for_org(org_a).order_by("-number"))

    listed = api.get(f"/api/v1/use-cases/{use_case.pk}/prd/versions/")
    first = api.get(f"/api/v1/use-cases/{use_case.pk}/prd/versions/1/")
    missing = api.get(f"/api/v1/use-cases/{use_case.pk}/prd/versions/3/")

    assert listed.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "number": 2,
                "author": f"token CI ({api.token.prefix}…)",
                "created_at": _when(versions[0].created_at),
                "summary": "Sharper goal",
            },
            {
                "number": 1,
                "author": "test setup",
                "created_at": _when(versions[1].created_at),
                "summary": "v1",
            },
        ],
    }
    assert first.json() == {
        "number": 1,
        "author": "test setup",
        "created_at": _when(versions[1].created_at),
        "summary": "v1",
        "content": {"sections": {**EMPTY_SECTIONS, "user_goal": "A"}, "requirements": []},
    }
    assert missing.status_code == 404
    assert missing.json() == NOT_FOUND


def test_a_use_case_without_prd_has_no_versions(api, org_a):
    use_case = _use_case(org_a)

    listed = api.get(f"/api/v1/use-cases/{use_case.pk}/prd/versions/")
    one = api.get(f"/api/v1/use-cases/{use_case.pk}/prd/versions/1/")

    assert listed.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert one.status_code == 404


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"sections": {"user_goal": "A"}}, {"summary": ["This field is required."]}),
        ({"sections": {"user_goal": "A"}, "summary": " "},
         {"summary": ["This field may not be blank."]}),
        (
            {"sections": {"vision": "A"}, "summary": "s"},
            {"sections": {"vision": [
                "Unknown section. Known: " + ", ".join(PRD_SECTION_KEYS) + "."
            ]}},
        ),
        ({"sections": {"user_goal": ["a", "b"]}, "summary": "s"},
         {"sections": {"user_goal": ["Not a valid string."]}}),
        ({"sections": "text", "summary": "s"},
         {"sections": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}}),
    ],
    ids=["no-summary", "blank-summary", "unknown-section", "not-text", "not-a-dict"],
)  # fmt: skip
def test_prd_put_refuses_invalid_input_and_saves_nothing(api, org_a, body, errors):
    use_case = _use_case(org_a)
    services.prd_save(
        actor=_system(org_a), use_case=use_case, sections={"user_goal": "Kept"}, summary="v1"
    )
    events = _events(org_a)

    response = api.put(f"/api/v1/use-cases/{use_case.pk}/prd/", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    prd = Prd.objects.for_org(org_a).get()
    assert (prd.version, prd.sections["user_goal"]) == (1, "Kept")
    assert _events(org_a) == events


def test_prd_shows_requirements_and_readiness(api, org_a, po):
    use_case = _use_case(org_a)
    system = _system(org_a)
    blocking = services.requirement_add(
        actor=system,
        use_case=use_case,
        data={"statement": "Never promise a refund.", "type": "forbidden", "launch_blocking": True},
    )
    services.requirement_add(actor=system, use_case=use_case, data={"statement": "Be brief."})
    url = f"/api/v1/use-cases/{use_case.pk}/prd/"

    before = api.get(url).json()
    services.requirement_update(actor=system, requirement=blocking, data={"owner": po.user_id})
    services.verification_add(
        actor=system, requirement=blocking, kind="human_review", name="Weekly sample",
        owner=po.user_id,
    )  # fmt: skip
    after = api.get(url).json()

    assert [r["key"] for r in before["requirements"]] == ["REQ-1", "REQ-2"]
    assert before["readiness"] == {
        "ready": False,
        "requirement_count": 2,
        "launch_blocking_count": 1,
        "unverified": [{"key": "REQ-1", "reasons": ["no owner", "no verification"]}],
    }
    assert after["readiness"] == {
        "ready": True,
        "requirement_count": 2,
        "launch_blocking_count": 1,
        "unverified": [],
    }
    assert after["requirements"][0]["verifications"][0]["name"] == "Weekly sample"
    assert after["requirements"][0]["use_case_key"] == "UC-1"
    assert after["version"] == 3  # each requirement change is a PRD version


@pytest.mark.parametrize("n_requirements", [3, 30])
def test_prd_queries_do_not_grow_with_requirements(
    api, org_a, po, django_assert_num_queries, n_requirements
):
    use_case = _use_case(org_a)
    services.prd_save(actor=_system(org_a), use_case=use_case, sections={}, summary="v1")
    for _ in range(n_requirements):
        VerificationFactory(
            requirement=RequirementFactory(use_case=use_case, owner=po.user), owner=po.user
        )

    # token, use case, PRD, requirements with owners; one query per verification provider
    # (human reviews with their owners, eval cases)
    with django_assert_num_queries(6):
        response = api.get(f"/api/v1/use-cases/{use_case.pk}/prd/")

    assert len(response.json()["requirements"]) == n_requirements


@pytest.mark.parametrize("n_versions", [3, 30])
def test_versions_list_queries_do_not_grow(api, org_a, django_assert_num_queries, n_versions):
    use_case = _use_case(org_a)
    for n in range(n_versions):
        services.prd_save(actor=_system(org_a), use_case=use_case, sections={}, summary=f"v{n}")

    # token, use case, PRD, COUNT(*), one page of versions
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/use-cases/{use_case.pk}/prd/versions/")

    assert response.json()["count"] == n_versions


# --- Requirements


def test_create_requirement_gets_the_next_key(api, org_a, po):
    use_case = _use_case(org_a)

    response = api.post(
        "/api/v1/requirements/",
        {
            "use_case": use_case.pk,
            "statement": "Hand off to a human when the customer mentions a lawyer.",
            "type": "handoff",
            "launch_blocking": True,
            "owner": po.user_id,
            "verification_method": "human_review",
        },
        format="json",
    )

    assert response.status_code == 201
    requirement = Requirement.objects.for_org(org_a).get()
    assert response.json() == {
        "id": requirement.pk,
        "key": "REQ-1",
        "number": 1,
        "use_case": use_case.pk,
        "use_case_key": "UC-1",
        "statement": "Hand off to a human when the customer mentions a lawyer.",
        "type": "handoff",
        "launch_blocking": True,
        "owner": po.user_id,
        "owner_email": "po@a.example",
        "verification_method": "human_review",
        "status": "draft",
        "position": 1,
        "verifications": [],
        "created_at": _when(requirement.created_at),
        "updated_at": _when(requirement.updated_at),
    }
    assert _events(org_a)[-1] == ("requirement.create", f"token CI ({api.token.prefix}…)")
    versions = api.get(f"/api/v1/use-cases/{use_case.pk}/prd/versions/").json()["results"]
    assert [v["summary"] for v in versions] == ["REQ-1 added"]


def test_requirement_keys_are_never_reused(api, org_a):
    use_case = _use_case(org_a)

    def add(statement):
        return api.post(
            "/api/v1/requirements/",
            {"use_case": use_case.pk, "statement": statement},
            format="json",
        ).json()

    first, second = add("One"), add("Two")
    deleted = api.delete(f"/api/v1/requirements/{second['id']}/")
    third = add("Three")
    patched = api.patch(
        f"/api/v1/requirements/{first['id']}/", {"statement": "One, reworded"}, format="json"
    )

    assert deleted.status_code == 204
    assert (first["key"], second["key"], third["key"]) == ("REQ-1", "REQ-2", "REQ-3")
    assert (patched.json()["key"], patched.json()["statement"]) == ("REQ-1", "One, reworded")
    assert api.get(f"/api/v1/requirements/{second['id']}/").status_code == 404
    listed = api.get(f"/api/v1/requirements/?use_case={use_case.pk}").json()["results"]
    assert [r["key"] for r in listed] == ["REQ-1", "REQ-3"]
    assert [a for a, _ in _events(org_a)][-4:] == [
        "requirement.create",
        "requirement.delete",
        "requirement.create",
        "requirement.update",
    ]


def test_a_requirement_of_another_organizations_use_case_is_refused(api, org_a, org_b):
    theirs = _use_case(org_b)
    b_events = _events(org_b)

    refused = api.post(
        "/api/v1/requirements/", {"use_case": theirs.pk, "statement": "S"}, format="json"
    )
    missing = api.post(
        "/api/v1/requirements/", {"use_case": MISSING_ID, "statement": "S"}, format="json"
    )

    assert refused.status_code == missing.status_code == 400
    assert (
        refused.json()
        == missing.json()
        == {
            "message": "use_case: No such use case.",
            "code": "invalid",
            "errors": {"use_case": ["No such use case."]},
        }
    )
    assert not Requirement.objects.for_org(org_b).exists()
    assert not Requirement.objects.for_org(org_a).exists()
    assert _fresh(theirs).requirement_seq == 0
    assert _events(org_b) == b_events


USE_CASE_REQUIRED = {"use_case": ["This field is required."]}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"statement": "S"}, USE_CASE_REQUIRED),
        ({"use_case": "UC-1", "statement": "S"},
         {"use_case": ["Give the use case's id, a number."]}),
        ({"use_case": None},
         {"use_case": ["This field may not be null."], "statement": ["This field is required."]}),
        ({"statement": "S", "type": "wish"},
         {**USE_CASE_REQUIRED, "type": ['"wish" is not a valid choice.']}),
        ({"statement": "S", "launch_blocking": "perhaps"},
         {**USE_CASE_REQUIRED, "launch_blocking": ["Must be a valid boolean."]}),
        ({"statement": "S", "key": "REQ-7"},
         {**USE_CASE_REQUIRED, "key": ["Keys are given once and never change."]}),
    ],
    ids=["no-use-case", "key-not-id", "null", "bad-type", "bad-bool", "key"],
)  # fmt: skip
def test_create_requirement_refuses_invalid_input(api, org_a, body, errors):
    _use_case(org_a)

    response = api.post("/api/v1/requirements/", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert not Requirement.objects.for_org(org_a).exists()


def test_create_requirement_refuses_an_owner_who_is_not_a_member(api, org_a, outsider):
    use_case = _use_case(org_a)
    events = _events(org_a)

    response = api.post(
        "/api/v1/requirements/",
        {"use_case": use_case.pk, "statement": "S", "owner": outsider.user_id},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"owner": ["Choose a member of this organization."]}
    assert _fresh(use_case).requirement_seq == 0
    assert _events(org_a) == events


def test_patch_requirement_refuses_moving_it_and_changes_nothing(api, org_a):
    use_case, other = _use_case(org_a), _use_case(org_a, title="Other")
    requirement = services.requirement_add(
        actor=_system(org_a), use_case=use_case, data={"statement": "S"}
    )

    response = api.patch(
        f"/api/v1/requirements/{requirement.pk}/",
        {"use_case": other.pk, "statement": "Changed"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "use_case": ["A requirement stays with its use case: add a new one there instead."]
    }
    assert (_fresh(requirement).use_case_id, _fresh(requirement).statement) == (use_case.pk, "S")


def test_retrieve_requirement_with_verifications(api, org_a, po):
    use_case = _use_case(org_a)
    requirement = services.requirement_add(
        actor=_system(org_a), use_case=use_case, data={"statement": "S"}
    )
    verification = services.verification_add(
        actor=_system(org_a), requirement=requirement, kind="human_review",
        name="Weekly sample", owner=po.user_id,
    )  # fmt: skip

    case = make_case(org_a, EvalPlanFactory(use_case=use_case, name="Refunds"),
                     requirement_keys=["REQ-1"])  # fmt: skip

    body = api.get(f"/api/v1/requirements/{requirement.pk}/").json()

    assert (body["key"], body["use_case_key"]) == ("REQ-1", "UC-1")
    assert body["verifications"] == [
        {
            "kind": "human_review",
            "name": "Weekly sample",
            "owner": po.user_id,
            "owner_email": "po@a.example",
            "url": f"/o/org-a/use-cases/1/prd/#req-{requirement.pk}",
            "review_id": verification.pk,
        },
        {
            "kind": "eval_case",
            "name": "Refunds · CASE-1: Where is my refund?",
            "owner": None,
            "owner_email": None,
            "url": f"/o/org-a/evals/plans/{case.plan_id}/",
            "review_id": None,
        },
    ]


def test_another_organizations_requirement_is_404_on_every_method(api, org_b):
    theirs = services.requirement_add(
        actor=_system(org_b), use_case=_use_case(org_b), data={"statement": "Theirs"}
    )

    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(f"/api/v1/requirements/{theirs.pk}/", {}, format="json")
        missing = getattr(api, method)(f"/api/v1/requirements/{MISSING_ID}/", {}, format="json")
        assert response.status_code == missing.status_code == 404, method
        assert response.json() == missing.json() == NOT_FOUND
    assert _fresh(theirs).statement == "Theirs"


@pytest.fixture
def requirements(org_a, org_b):
    system = _system(org_a)
    refunds, triage = _use_case(org_a), _use_case(org_a, title="Triage")

    def add(use_case, statement, **data):
        return services.requirement_add(
            actor=system, use_case=use_case, data={"statement": statement, **data}
        )

    made = {
        "r1": add(refunds, "Cite the policy.", launch_blocking=True, status="agreed"),
        "r2": add(refunds, "Never promise refunds.", type="forbidden", launch_blocking=True),
        "r3": add(refunds, "Be brief.", type="tone"),
        "t1": add(triage, "Route by product.", status="agreed"),
    }
    services.requirement_add(
        actor=_system(org_b), use_case=_use_case(org_b), data={"statement": "B's own."}
    )
    return {"refunds": refunds, "triage": triage, **made}


def _statements(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [r["statement"] for r in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "statements"),
    [
        ("", ["Cite the policy.", "Never promise refunds.", "Be brief.", "Route by product."]),
        ("launch_blocking=true", ["Cite the policy.", "Never promise refunds."]),
        ("launch_blocking=false", ["Be brief.", "Route by product."]),
        ("status=agreed", ["Cite the policy.", "Route by product."]),
        ("type=forbidden", ["Never promise refunds."]),
        ("status=agreed&launch_blocking=true", ["Cite the policy."]),
    ],
)
def test_requirements_list_filters(api, requirements, query, statements):
    assert _statements(api.get(f"/api/v1/requirements/?{query}")) == statements


def test_requirements_list_filters_by_use_case_and_is_paginated(api, requirements, org_b):
    mine = api.get(f"/api/v1/requirements/?use_case={requirements['triage'].pk}")
    theirs_id = Requirement.objects.for_org(org_b).get().use_case_id
    theirs = api.get(f"/api/v1/requirements/?use_case={theirs_id}")
    page = api.get("/api/v1/requirements/?page_size=3&page=2").json()

    assert _statements(mine) == ["Route by product."]
    assert theirs.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert (page["count"], page["next"]) == (4, None)
    assert page["previous"] == "http://testserver/api/v1/requirements/?page_size=3"
    assert [r["key"] for r in page["results"]] == ["REQ-1"]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("use_case=UC-1", {"use_case": ["A valid integer is required."]}),
        ("status=done", {"status": ['"done" is not a valid choice.']}),
    ],
)
def test_requirements_list_refuses_invalid_filters(api, requirements, query, errors):
    response = api.get(f"/api/v1/requirements/?{query}")

    assert response.status_code == 400
    assert response.json()["errors"] == errors


@pytest.mark.parametrize("n_requirements", [3, 30])
def test_requirements_list_queries_do_not_grow(
    api, org_a, po, django_assert_num_queries, n_requirements
):
    use_cases = [UseCaseFactory(organization=org_a) for _ in range(3)]
    for n in range(n_requirements):
        VerificationFactory(
            requirement=RequirementFactory(use_case=use_cases[n % 3], owner=po.user),
            owner=po.user,
        )

    # token, COUNT(*), one page with use cases and owners; one query per verification
    # provider (human reviews with owners, eval cases)
    with django_assert_num_queries(5):
        response = api.get("/api/v1/requirements/")

    assert response.json()["count"] == n_requirements
    assert all(len(r["verifications"]) == 1 for r in response.json()["results"])


# --- Scopes


def test_a_read_token_reads_and_writes_nothing(org_a, api_for):
    api = api_for(org_a, ["read"])
    use_case = _use_case(org_a)
    requirement = services.requirement_add(
        actor=_system(org_a), use_case=use_case, data={"statement": "S"}
    )
    events = _events(org_a)
    uc, req = f"/api/v1/use-cases/{use_case.pk}/", f"/api/v1/requirements/{requirement.pk}/"

    reads = [api.get(path) for path in ("/api/v1/use-cases/", uc, uc + "prd/",
             uc + "prd/versions/", "/api/v1/requirements/", req)]  # fmt: skip
    writes = [
        api.post("/api/v1/use-cases/", {"title": "T"}, format="json"),
        api.patch(uc, {"title": "T"}, format="json"),
        api.post(uc + "stage/", {"to_stage": "prototype", "override_reason": "r"}, format="json"),
        api.put(uc + "prd/", {"sections": {}, "summary": "s"}, format="json"),
        api.post("/api/v1/requirements/", {"use_case": use_case.pk, "statement": "S"},
                 format="json"),
        api.patch(req, {"statement": "T"}, format="json"),
        api.delete(req),
    ]  # fmt: skip

    assert [r.status_code for r in reads] == [200] * 6
    assert [r.status_code for r in writes] == [403] * 7
    assert all(r.json() == NO_WRITE_SCOPE for r in writes)
    assert _events(org_a) == events
    assert _fresh(use_case).title == "Refund answers"
    assert Requirement.objects.for_org(org_a).count() == 1


def test_a_token_without_read_scope_reads_nothing(org_a, api_for):
    api = api_for(org_a, ["evals:run"])

    response = api.get("/api/v1/use-cases/")

    assert response.status_code == 403
    assert response.json()["message"] == (
        "This token lacks one of the scopes 'read', 'write', 'admin'."
    )


def test_no_token_is_401(client, org_a):
    response = client.get("/api/v1/use-cases/")

    assert response.status_code == 401
    assert response.json()["message"] == "Send an API token: 'Authorization: Bearer <token>'."


# --- The schema


def test_schema_documents_every_use_case_endpoint_and_stays_valid(client):
    response = client.get("/api/v1/schema/?format=json")
    schema = json.loads(response.content)

    validate_schema(schema)
    paths = schema["paths"]
    mine = [
        path for path in paths if path.startswith(("/api/v1/use-cases/", "/api/v1/requirements/"))
    ]
    assert {path: set(paths[path]) for path in mine} == {
        "/api/v1/use-cases/": {"get", "post"},
        "/api/v1/use-cases/{id}/": {"get", "patch"},
        "/api/v1/use-cases/{id}/stage/": {"post"},
        "/api/v1/use-cases/{id}/prd/": {"get", "put"},
        "/api/v1/use-cases/{id}/prd/versions/": {"get"},
        "/api/v1/use-cases/{id}/prd/versions/{number}/": {"get"},
        "/api/v1/use-cases/{id}/hitl-policy/": {"get"},  # governance's, for the AI system
        "/api/v1/requirements/": {"get", "post"},
        "/api/v1/requirements/{id}/": {"get", "patch", "delete"},
    }  # fmt: skip
    list_params = {p["name"] for p in paths["/api/v1/use-cases/"]["get"]["parameters"]}
    assert list_params == {"stage", "owner", "status", "risk_tier", "q", "archived", "ordering",
                           "page", "page_size"}  # fmt: skip
    ref = paths["/api/v1/use-cases/{id}/prd/"]["put"]["requestBody"]["content"]
    assert ref["application/json"]["schema"] == {"$ref": "#/components/schemas/PrdSaveRequest"}
    listed = paths["/api/v1/use-cases/{id}/prd/versions/"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedPrdVersionSummaryList"
    }
