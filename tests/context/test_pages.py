"""The pages of the loop: the SME's inbox (only theirs, overdue first, with the evidence),
the answer form next to the failures, the product owner's gap list with SLA states, and
the knowledge base with its search."""

from html.parser import HTMLParser

import pytest
from django.utils import timezone

from context import services
from context.models import ContextGap
from tests.factories.context import make_gap, make_knowledge
from tests.factories.evals import make_run

pytestmark = pytest.mark.django_db


def routed(org, assignee, question, *, overdue=False):
    gap = services.gap_route(
        actor=actor_of_system(org), gap=make_gap(org, question=question), assignee=assignee.user
    )
    if overdue:
        ContextGap.objects.for_org(org).filter(pk=gap.pk).update(
            due_at=timezone.now() - timezone.timedelta(days=1)
        )
    return gap


def actor_of_system(org):
    from genai_po.actors import Actor

    return Actor.system(organization=org, label="test")


def test_the_inbox_shows_only_my_questions_overdue_first(
    client, org_a, org_b, sme, sme2, member_factory
):
    routed(org_a, sme, "Due later: can I return a gift card?")
    routed(org_a, sme, "Overdue: is my warranty valid?", overdue=True)
    routed(org_a, sme2, "Someone else's question about Canada")
    other_org_sme = member_factory(org_b, "sme")
    routed(org_b, other_org_sme, "Another organization's question")
    client.force_login(sme.user)
    page = client.get(f"/o/{org_a.slug}/context/inbox/").content.decode()
    assert "Questions (2)" in page
    assert page.index("Overdue: is my warranty valid?") < page.index("Due later")
    assert "Someone else" not in page and "Another organization" not in page
    assert '<strong class="bad">Overdue</strong>' in page


def test_an_sme_lands_in_the_inbox_and_sees_only_their_part_of_the_app(client, org_a, sme):
    client.force_login(sme.user)
    assert client.get(f"/o/{org_a.slug}/").url == f"/o/{org_a.slug}/context/inbox/"
    page = client.get(f"/o/{org_a.slug}/context/inbox/").content.decode()
    nav = page[
        page.index('aria-label="Areas"') : page.index("</nav>", page.index('aria-label="Areas"'))
    ]
    assert "My inbox" in nav and "Knowledge" in nav
    assert "Use cases" not in nav and "Evals" not in nav and "Governance" not in nav


def test_the_answer_form_sits_next_to_the_failing_input_output_and_reasons(client, org_a, sme):
    from evals.services import triage_set

    run = make_run(org_a, results=("fail",))
    result = run.results.get()
    result.output = "I'm handing this to a human agent because no policy covers it."
    result.assertions = [
        {"type": "citation", "passed": False, "reason": 'expected a citation of "KB-*"; none found'}
    ]
    result.save()
    triage = triage_set(
        actor=actor_of_system(org_a), run=run, case=result.case, category="context_gap", note=""
    )
    gap = ContextGap.objects.for_org(org_a).get(number=int(triage.follow_up_ref[4:]))
    services.gap_route(actor=actor_of_system(org_a), gap=gap, assignee=sme.user)
    client.force_login(sme.user)
    page = client.get(f"/o/{org_a.slug}/context/gaps/{gap.number}/answer/").content.decode()
    assert "Where is my refund?" in page  # the user's input
    assert "handing this to a human agent" in page  # the AI's output
    assert "expected a citation of &quot;KB-*&quot;; none found" in page  # the scorer's reason


def test_the_inbox_costs_the_same_queries_for_5_or_60_questions(
    client, org_a, sme, django_assert_num_queries
):
    client.force_login(sme.user)
    url = f"/o/{org_a.slug}/context/inbox/"
    for i in range(5):
        routed(org_a, sme, f"Question {i} about gift cards")
    client.get(url)
    with django_assert_num_queries(QUERIES) as few:
        client.get(url)
    for i in range(55):
        routed(org_a, sme, f"More question {i} about refunds", overdue=i % 2 == 0)
    with django_assert_num_queries(len(few.captured_queries)):
        assert "Questions (60)" in client.get(url).content.decode()


QUERIES = 12  # session, membership, the questions, returned and in-review answers, reviews…


def test_knowledge_search_page_ranks_and_renders_markdown_safely(client, org_a, po):
    item = make_knowledge(
        org_a,
        title="Gift card refunds",
        question="gift card refund",
        body="**Refundable** within 14 days. <script>alert(1)</script> "
        '<a href="javascript:alert(1)" hx-get="/x">x</a>',
    )
    client.force_login(po.user)
    results = client.get(f"/o/{org_a.slug}/context/knowledge/?q=gift+card").content.decode()
    assert f"{item.key} Gift card refunds" in results
    page = client.get(f"/o/{org_a.slug}/context/knowledge/{item.number}/").content.decode()
    start = page.index('<div class="prd-text" hx-disable>')
    body = page[start : page.index("</div>", start)]
    assert "<strong>Refundable</strong>" in body
    # Raw HTML is shown as text, never as tags: no script, no link, no htmx attribute.
    tags = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append((tag, sorted(name for name, _ in attrs)))

    Tags().feed(body)
    assert tags == [("div", ["class", "hx-disable"]), ("p", []), ("strong", [])]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
