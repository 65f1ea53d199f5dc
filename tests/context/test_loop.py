"""The whole loop end to end, on real HTTP: the reference agent answers from the knowledge
search API of a live server. A case fails for missing knowledge, is triaged as a context
gap, routed to the SME, answered, approved (published), re-run automatically, passes, and
the gap is verified; the plan's next full run shows the case as fixed."""

import json
import urllib.request

import pytest
from django.test import Client

from context.models import ContextGap, GapStatus, GapVerification, KnowledgeItem
from evals import compare
from evals import services as eval_services
from evals.models import EvalRun, RunScope
from evals.reference_agent import start_in_thread
from genai_po.actors import Actor
from genai_po.roles import Role
from tests.factories.context import make_sme
from tests.factories.evals import EvalPlanFactory, TargetFactory, allow_loopback, make_case
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db(transaction=True)
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
QUESTION = "Can I get a refund on a gift card I bought last week?"


def call(base: str, method: str, path: str, raw: str, body=None) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the live server on loopback
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
    )
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def agent_on_live_knowledge(live_server, org_a, token_factory):
    _, raw = token_factory(org_a, scopes=["knowledge:read"])
    server, _ = start_in_thread(
        knowledge_url=f"{live_server.url}/api/v1/knowledge/search", knowledge_token=raw
    )
    yield server
    server.stop()


def test_a_gap_closes_from_failure_to_verified(
    live_server, org_a, member_factory, token_factory, agent_on_live_knowledge, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    allow_loopback(org_a)
    po = member_factory(org_a, Role.PRODUCT_OWNER, email="po@a.example")
    sme = make_sme(org_a, tags=["gift-cards"], email="sara@a.example")
    use_case = UseCaseFactory(organization=org_a)
    target = TargetFactory(organization=org_a, url=agent_on_live_knowledge.base_url)
    plan = EvalPlanFactory(
        use_case=use_case,
        target=target,
        approved_sources=["KB-*"],
        scorers=[{"type": "escalation"}],
    )
    case = make_case(
        org_a,
        plan,
        name="Gift cards",
        prompt=QUESTION,
        tags=["gift-cards"],
        scorers=[{"type": "citation"}],
    )
    _, ci = token_factory(org_a, scopes=["read", "write", "evals:run"])
    base = live_server.url

    # 1. The run fails: the agent finds no knowledge and hands off.
    status, started = call(base, "POST", f"/api/v1/eval-plans/{plan.pk}/runs/", ci, {})
    assert status == 202, started
    run = EvalRun.objects.for_org(org_a).get(pk=started["id"])
    assert (run.status, run.failed) == ("completed", 1)

    # 2. Triaged as a context gap: a gap opens, with the failure as evidence.
    status, triaged = call(
        base,
        "POST",
        f"/api/v1/eval-runs/{run.pk}/results/{case.number}/triage/",
        ci,
        {"category": "context_gap", "note": "No policy."},
    )
    assert status in (200, 201), triaged
    gap = ContextGap.objects.for_org(org_a).get()
    assert (gap.question, gap.status, gap.failing_cases) == (QUESTION, GapStatus.OPEN, 1)

    # 3. Routed to the SME by expertise; 4. answered.
    status, routed = call(base, "POST", f"/api/v1/gaps/{gap.number}/route/", ci, {})
    assert (status, routed["assigned_to"]["email"]) == (200, "sara@a.example")
    sara = Client()
    sara.force_login(sme.user)
    answered = sara.post(
        f"/o/{org_a.slug}/context/gaps/{gap.number}/answer/",
        {
            "title": "Gift card refunds",
            "question": "gift card refund, unused gift card",
            "body": "Gift cards are refundable within 14 days if unused.",
            "confidence": "high",
        },
    )
    assert answered.status_code == 302
    answer = gap.answers.get()

    # 5. Approved by the product owner: published, re-checked, verified.
    pat = Client()
    pat.force_login(po.user)
    approved = pat.post(f"/o/{org_a.slug}/context/answers/{answer.pk}/", {"decision": "approve"})
    assert approved.status_code == 302
    gap.refresh_from_db()
    verification = GapVerification.objects.for_org(org_a).get()
    assert verification.status == "fixed", verification.message
    assert gap.status == GapStatus.VERIFIED
    recheck = verification.run
    assert (recheck.scope, recheck.case_version, recheck.target_id) == (
        RunScope.CASES,
        run.case_version,
        run.target_id,
    )
    row = verification.comparison[0]
    assert (row["before"]["passed"], row["after"]["passed"]) == (False, True)
    item = KnowledgeItem.objects.for_org(org_a).get()
    assert f"({item.key})" in row["after"]["output"]
    assert agent_on_live_knowledge.retrieve.calls >= 2  # real HTTP calls to the search API

    # 6. The next full run confirms it: against the baseline, the case is fixed.
    eval_services.run_mark_baseline(actor=Actor.system(organization=org_a, label="t"), run=run)
    status, second = call(base, "POST", f"/api/v1/eval-plans/{plan.pk}/runs/", ci, {})
    full = EvalRun.objects.for_org(org_a).get(pk=second["id"])
    assert full.passed == 1
    assert compare.compare(full).groups[compare.FIXED] == [case.number]
    page = pat.get(f"/o/{org_a.slug}/context/gaps/{gap.number}/").content.decode()
    assert "Fixed: all 1 case(s) pass" in page
