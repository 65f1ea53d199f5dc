"""The demo shows the loop live: the four cases the reference agent fails for lack of
knowledge are gaps; one waits in the SME's inbox, one is in review, one is published and
verified (its case ran again and passed)."""

import pytest
from django.core.management import call_command

from context.models import ContextGap, ContextSource, KnowledgeItem
from context.selectors import inbox_of
from evals.models import EvalRun
from genai_po.models import Organization, User

pytestmark = pytest.mark.django_db


def test_seed_demo_triages_the_four_knowledge_failures_into_gaps_at_each_step():
    call_command("seed_demo", verbosity=0)
    org = Organization.objects.get(slug="acme-support")
    gaps = {g.question: g for g in ContextGap.objects.for_org(org)}
    assert sorted(g.status for g in gaps.values()) == ["in_review", "open", "routed", "verified"]
    by_topic = {
        "gift card": "verified",
        "price match": "in_review",
        "warranty": "routed",
        "Canada": "open",
    }
    for words, expected in by_topic.items():
        (gap,) = [g for q, g in gaps.items() if words in q]
        assert gap.status == expected, (words, gap.status)
    sme = User.objects.get(email="sme@acme-support.example")
    assert [g.question for g in inbox_of(org, sme)] == [
        "Is my coffee machine still under warranty after 18 months?"
    ]
    baseline = EvalRun.objects.for_org(org).get(is_baseline=True)
    assert (baseline.passed, baseline.failed) == (16, 4)
    recheck = EvalRun.objects.for_org(org).get(rechecks=baseline)
    assert (recheck.passed, recheck.failed) == (1, 0)
    assert KnowledgeItem.objects.for_org(org).count() == 14  # 13 policies + gift cards
    assert ContextSource.objects.for_org(org).filter(freshness="stale").count() == 1

    call_command("seed_demo", verbosity=0)  # again: nothing more
    assert ContextGap.objects.for_org(org).count() == 4
