"""The context API: the knowledge search the AI calls (its own scope, published items of the
token's organization only, ranked), and gaps and sources for CI and other systems."""

import pytest
from rest_framework.test import APIClient

from context import services
from context.models import ContextGap
from tests.context.conftest import actor_of
from tests.factories.context import make_knowledge, make_sme
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db


def api(raw) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_search_returns_ranked_published_items_of_the_tokens_org_only(org_a, org_b, token_factory):
    gift = make_knowledge(
        org_a,
        title="Gift card refunds",
        question="gift card refund",
        body="Gift cards are refundable within 14 days if unused.",
    )
    make_knowledge(
        org_a,
        title="Delivery times",
        question="delivery, shipping",
        body="Standard delivery takes 3 to 5 business days.",
    )
    retired = make_knowledge(
        org_a,
        title="Old gift card refund rule",
        question="gift card",
        body="Gift cards are never refunded.",
    )
    services.knowledge_retire(actor=actor_of(make_sme(org_a)), item=retired, reason="Superseded")
    make_knowledge(
        org_b,
        title="B's gift card refunds",
        question="gift card refund",
        body="B refunds gift cards within 30 days.",
    )
    _, raw = token_factory(org_a, scopes=["knowledge:read"])

    response = api(raw).get("/api/v1/knowledge/search", {"q": "Can I refund a gift card?"})

    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "Can I refund a gift card?"
    assert [r["key"] for r in body["results"]] == [gift.key]
    result = body["results"][0]
    assert result["answer"] == "Gift cards are refundable within 14 days if unused."
    assert (result["status"], result["version"]) == ("published", 1)
    assert 0 < result["score"] <= 1


def test_search_narrows_to_a_use_case_and_the_items_for_every_use_case(org_a, token_factory):
    refunds, other = UseCaseFactory(organization=org_a), UseCaseFactory(organization=org_a)
    mine = make_knowledge(
        org_a, title="Refund timing", question="refund", body="5 days", use_case=refunds
    )
    make_knowledge(
        org_a, title="Refund timing elsewhere", question="refund", body="9 days", use_case=other
    )
    everyone = make_knowledge(org_a, title="Refund policy scope", question="refund", body="all")
    _, raw = token_factory(org_a, scopes=["knowledge:read"])
    response = api(raw).get("/api/v1/knowledge/search", {"q": "refund", "use_case": refunds.key})
    assert sorted(r["key"] for r in response.json()["results"]) == sorted([mine.key, everyone.key])
    unknown = api(raw).get("/api/v1/knowledge/search", {"q": "refund", "use_case": "UC-999"})
    assert unknown.status_code == 400
    assert "No such use case" in unknown.json()["message"]


def test_the_knowledge_scope_reads_nothing_else_and_others_cannot_search(org_a, token_factory):
    _, knowledge_only = token_factory(org_a, scopes=["knowledge:read"])
    assert api(knowledge_only).get("/api/v1/gaps/").status_code == 403
    assert api(knowledge_only).get("/api/v1/use-cases/").status_code == 403
    _, telemetry = token_factory(org_a, scopes=["telemetry:write"])
    refused = api(telemetry).get("/api/v1/knowledge/search", {"q": "refund"})
    assert refused.status_code == 403
    assert "knowledge:read" in refused.json()["message"]
    assert api(None).get("/api/v1/knowledge/search", {"q": "x"}).status_code == 401


@pytest.mark.parametrize("q", ["", " ", "x" * 1001])
def test_a_question_is_required_and_bounded(org_a, token_factory, q):
    _, raw = token_factory(org_a, scopes=["knowledge:read"])
    assert api(raw).get("/api/v1/knowledge/search", {"q": q}).status_code == 400


def test_gaps_are_recorded_routed_and_answered_through_the_api(org_a, token_factory):
    sme = make_sme(org_a, tags=["shipping"])
    _, raw = token_factory(org_a, scopes=["read", "write"])
    created = api(raw).post(
        "/api/v1/gaps/",
        {"question": "Do you ship to Norway?", "tags": ["shipping"], "severity": "high"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    number = created.json()["number"]
    routed = api(raw).post(f"/api/v1/gaps/{number}/route/", {}, format="json")
    assert routed.status_code == 200
    assert routed.json()["assigned_to"]["email"] == sme.user.email
    assert routed.json()["status"] == "routed"
    answered = api(raw).post(
        f"/api/v1/gaps/{number}/answers/",
        {
            "title": "Norway",
            "question": "Do you ship to Norway?",
            "body": "Yes, in 5 to 8 business days.",
        },
        format="json",
    )
    assert answered.status_code == 201
    assert ContextGap.objects.for_org(org_a).get(number=number).status == "in_review"
    listed = api(raw).get("/api/v1/gaps/", {"status": "open"}).json()
    assert [g["key"] for g in listed["results"]] == [f"GAP-{number}"]


def test_a_bad_route_or_status_is_a_400_that_changes_nothing(org_a, token_factory):
    _, raw = token_factory(org_a, scopes=["read", "write"])
    number = api(raw).post("/api/v1/gaps/", {"question": "Q?"}, format="json").json()["number"]
    nobody = api(raw).post(f"/api/v1/gaps/{number}/route/", {}, format="json")
    assert nobody.status_code == 400
    assert "Assign it by hand" in nobody.json()["message"]
    wont = api(raw).post(f"/api/v1/gaps/{number}/status/", {"status": "wont_fix"}, format="json")
    assert wont.status_code == 400
    assert ContextGap.objects.for_org(org_a).get(number=number).status == "open"


def test_the_hand_written_search_result_is_what_the_schema_serializer_gives(org_a):
    from context.api.serializers import KnowledgeHitSerializer, knowledge_hit_data
    from context.selectors import knowledge_search
    from tests.factories.context import make_source

    source = make_source(org_a)
    item = make_knowledge(
        org_a,
        title="Gift card refunds",
        question="gift card refund",
        body="Refundable within 14 days.",
        use_case=UseCaseFactory(organization=org_a),
    )
    version = item.current
    version.citation_links.create(organization=org_a, source=source)
    (hit,) = knowledge_search(org_a, "gift card refund")
    hit.item.score = hit.score
    assert knowledge_hit_data(hit.item, hit.score) == KnowledgeHitSerializer(hit.item).data
