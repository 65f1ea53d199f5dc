"""The context loop in a real browser: the SME's day (only their questions, with the
evidence; answer one and see it go to review), and the product owner closing the loop
(triage a failure as a gap, route it, approve the SME's answer, see the gap verified
after its case ran again against the reference agent, which reads the knowledge search
API of the live server)."""

import pytest
from playwright.sync_api import Page, expect

from context import services
from context.models import ContextGap, GapStatus
from evals.models import EvalRun
from evals.reference_agent import start_in_thread
from evals.services import run_start, triage_set
from genai_po.actors import Actor
from genai_po.roles import Role
from tests.browser.test_usecase_journey import sign_in
from tests.factories.context import make_sme
from tests.factories.evals import EvalPlanFactory, TargetFactory, allow_loopback, make_case
from tests.factories.usecases import UseCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Can I get a refund on a gift card I bought last week?"


@pytest.fixture
def loop(live_server, org_a, token_factory, settings):
    """A plan whose one case fails for lack of knowledge, against an agent that answers
    from the live server's knowledge search API; its first run done."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    allow_loopback(org_a)
    _, raw = token_factory(org_a, scopes=["knowledge:read"])
    agent, _ = start_in_thread(
        knowledge_url=f"{live_server.url}/api/v1/knowledge/search", knowledge_token=raw
    )
    target = TargetFactory(organization=org_a, name="Reference agent", url=agent.base_url)
    plan = EvalPlanFactory(
        use_case=UseCaseFactory(organization=org_a, title="Refund answers"),
        target=target,
        name="Refund desk suite",
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
    plan.refresh_from_db()
    run = run_start(actor=Actor.system(organization=org_a, label="test"), plan=plan)
    run.refresh_from_db()
    assert run.failed == 1
    yield run, case
    agent.stop()


def test_the_smes_day(page: Page, org_a, member_factory, loop):
    run, case = loop
    sara = make_sme(org_a, tags=["gift-cards"], email="sara@example.com")
    other = make_sme(org_a, tags=["shipping"], email="sam@example.com")
    system = Actor.system(organization=org_a, label="test")
    triage = triage_set(actor=system, run=run, case=case, category="context_gap", note="")
    mine = ContextGap.objects.for_org(org_a).get(number=int(triage.follow_up_ref[4:]))
    services.gap_route(actor=system, gap=mine, assignee=sara.user)
    theirs = services.gap_create(actor=system, question="Do you ship to Norway?", tags=["x"])
    services.gap_route(actor=system, gap=theirs, assignee=other.user)

    sign_in(page, "sara@example.com")
    # An SME lands in their inbox; the navigation holds only their part of the loop.
    expect(page.get_by_role("heading", level=1)).to_have_text("My inbox")
    areas = page.get_by_role("navigation", name="Areas")
    expect(areas.get_by_role("link", name="My inbox")).to_be_visible()
    expect(areas.get_by_role("link", name="Use cases")).to_have_count(0)
    expect(page.get_by_text("Questions (1)")).to_be_visible()
    expect(page.get_by_text("Do you ship to Norway?")).to_have_count(0)

    page.get_by_role("button", name="Answer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Answer {mine.key}")
    # The question sits next to its evidence: the input, the AI's output, the reasons.
    evidence = page.locator(".answer").first
    expect(evidence).to_contain_text(QUESTION)
    expect(evidence).to_contain_text("handing this to a human agent")
    expect(evidence).to_contain_text("none found")
    page.get_by_label("Title").fill("Gift card refunds")
    page.locator("#id_body").fill("Gift cards are refundable within **14 days** if unused.")
    page.get_by_label("Scope").fill("Gift cards bought from Acme, EU")
    page.get_by_role("button", name="Send to review").click()
    expect(page.get_by_text(f"Your answer to {mine.key} is with a reviewer.")).to_be_visible()
    expect(page.get_by_text("Questions (0)")).to_be_visible()
    mine.refresh_from_db()
    assert mine.status == GapStatus.IN_REVIEW


def test_the_product_owner_closes_the_loop(page: Page, org_a, member_factory, loop):
    run, case = loop
    member_factory(org_a, Role.PRODUCT_OWNER, email="pat@example.com", full_name="Pat PO")
    sara = make_sme(org_a, tags=["gift-cards"], email="sara@example.com")
    sign_in(page, "pat@example.com")

    # Triage the failed case as a context gap; its follow-up links to the new gap.
    page.goto(f"/o/{org_a.slug}/evals/runs/{run.pk}/cases/{case.pk}/")
    page.get_by_label("Context gap").check()
    page.get_by_role("button", name="Save triage").click()
    expect(page.locator("#triage")).to_contain_text("Follow-up: GAP-1")
    page.get_by_role("link", name="GAP-1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("GAP-1 · Open")
    expect(page.get_by_text("Expertise match:")).to_contain_text(sara.user.display_name)
    page.get_by_role("button", name="Route").click()
    expect(page.get_by_text("is in")).to_contain_text("inbox")

    # The SME answers (her day is the other test); the product owner reviews.
    gap = ContextGap.objects.for_org(org_a).get(number=1)
    services.answer_submit(
        actor=Actor.for_member(user=sara.user, organization=org_a, role="sme"),
        gap=gap,
        data={
            "title": "Gift card refunds",
            "question": "gift card refund, unused gift card",
            "body": "Gift cards are refundable within 14 days if unused.",
            "confidence": "high",
        },
    )
    page.reload()
    page.get_by_role("button", name="Review the answer").click()
    expect(page.locator(".prd-text")).to_contain_text("refundable within 14 days")
    page.get_by_label("Approve").check()
    page.get_by_role("button", name="Record the decision").click()

    # Published, re-run against the agent (which now retrieves it), verified.
    expect(page.get_by_role("heading", level=1)).to_contain_text("GAP-1 · Verified")
    verification = page.get_by_role("region", name="Re-check after publishing")
    expect(verification).to_contain_text("Fixed: all 1 case(s) pass")
    expect(verification.locator("tbody tr")).to_contain_text("pass")
    recheck = EvalRun.objects.for_org(org_a).get(rechecks=run)
    assert recheck.passed == 1
