"""One search scenario, run on PostgreSQL in the test process and on SQLite in a process
of its own (`python -m tests.context.search_scenario`, printing JSON): the same service must
give the same results on both."""

import json
import os
import sys


def run_scenario() -> dict:
    """Two organizations; A has gaps and knowledge, B a twin that must never show."""
    from context import selectors, services
    from context.models import KnowledgeStatus
    from genai_po.actors import Actor
    from genai_po.models import User
    from genai_po.services import organization_create
    from tests.factories.context import make_knowledge

    def org(slug):
        user = User.objects.create_user(f"owner@{slug}.example", "x")
        return organization_create(user=user, name=slug, slug=slug)

    a, b = org("search-a"), org("search-b")
    system_a = Actor.system(organization=a, label="scenario")
    for question in (
        "Can I get a refund on a gift card I bought last week?",
        "Do you deliver to Canada and how much is it?",
        "How do I reset my password?",
    ):
        services.gap_create(actor=system_a, question=question)
    services.gap_create(
        actor=Actor.system(organization=b, label="scenario"),
        question="Can I get a refund on a gift card?",
    )
    make_knowledge(
        a,
        title="Gift card refunds",
        question="gift card refund, unused gift card",
        body="Gift cards are refundable within 14 days if unused.",
    )
    make_knowledge(
        a,
        title="Shipping to Canada",
        question="deliver Canada, international",
        body="We ship to Canada in 7 to 12 business days for 19 EUR.",
    )
    retired = make_knowledge(
        a,
        title="Old gift card rule",
        question="gift card refund",
        body="Gift cards were never refundable.",
    )
    services.knowledge_retire(actor=system_a, item=retired, reason="Superseded")
    make_knowledge(
        b,
        title="Gift card refunds of B",
        question="gift card refund",
        body="B's gift cards are refundable within 30 days.",
    )
    suggestions = selectors.suggestions_for(
        a, "Is a gift card refundable if I bought it last week?"
    )
    search = selectors.knowledge_search(a, "refund for an unused gift card")
    nothing = selectors.knowledge_search(a, "how tall is the eiffel tower")
    tricky = selectors.knowledge_search(a, 'gift" OR card* NEAR(x) \\u0000 -- ;DROP')
    return {
        "similar_gaps": [gap.question for _, gap in suggestions["gaps"]],
        "suggested_knowledge": [hit.item.title for hit in suggestions["knowledge"]],
        "search": [hit.item.title for hit in search],
        "search_statuses": sorted({hit.item.status for hit in search}),
        "nothing": [hit.item.title for hit in nothing],
        "tricky": [hit.item.title for hit in tricky],
        "scores_in_unit_range": all(0 < hit.score <= 1 for hit in search),
        # A hit that holds words of the question never reads as 0.00 (bm25 alone would,
        # for words found in most items).
        "scores_readable": all(hit.score >= 0.05 for hit in search),
        "published": KnowledgeStatus.PUBLISHED,
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_po.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sys.stdout.write(json.dumps(run_scenario()) + "\n")
