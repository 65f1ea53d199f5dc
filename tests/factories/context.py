"""Objects of the context area, made through its services so they are what users make
(one organization each)."""

from context import services
from context.models import ContextGap, KnowledgeItem
from genai_po.actors import Actor
from tests.factories import MembershipFactory


def system(org) -> Actor:
    return Actor.system(organization=org, label="factory")


def make_source(org, **data):
    defaults = {"name": f"Refund policy {ContextGapCounter.next()}", "source_type": "policy",
                "location": "https://kb.example.com/refunds"}  # fmt: skip
    source = services.source_create(actor=system(org), data={**defaults, **data})
    return services.source_set_approval(actor=system(org), source=source, status="approved")


def make_gap(org, question="Can I get a refund on a gift card?", **kwargs) -> ContextGap:
    kwargs.setdefault("tags", ["gift-cards"])
    return services.gap_create(actor=system(org), question=question, **kwargs)


def make_sme(org, *, tags=("gift-cards",), email=None):
    membership = MembershipFactory(organization=org, role="sme",
                                   **({"user__email": email} if email else {}))  # fmt: skip
    services.sme_profile_set(actor=system(org), user=membership.user, tags=list(tags))
    return membership


def make_answer(org, gap=None, *, author=None):
    """An answer in review, to a routed gap (a new one by default), by an SME."""
    gap = gap or make_gap(org)
    author = author or make_sme(org)
    gap = services.gap_route(actor=system(org), gap=gap, assignee=author.user)
    actor = Actor.for_member(user=author.user, organization=org, role=author.role)
    return services.answer_submit(actor=actor, gap=gap, data={
        "title": "Gift card refunds", "question": gap.question,
        "body": "Gift cards are refundable within 14 days if unused.", "confidence": "high",
    })  # fmt: skip


def make_knowledge(
    org,
    *,
    title="Gift card refunds",
    body="Gift cards are refundable within 14 days if unused.",
    question="gift card refund",
    use_case=None,
) -> KnowledgeItem:
    """A published item, written by an SME and approved by a product owner."""
    sme = make_sme(org)
    po = MembershipFactory(organization=org, role="product_owner")
    sme_actor = Actor.for_member(user=sme.user, organization=org, role="sme")
    answer = services.answer_submit(
        actor=sme_actor, data={"title": title, "question": question, "body": body,
                               "confidence": "high"},
        use_cases=[use_case] if use_case else [],
    )  # fmt: skip
    po_actor = Actor.for_member(user=po.user, organization=org, role="product_owner")
    services.answer_review(actor=po_actor, answer=answer, decision="approve")
    return KnowledgeItem.objects.for_org(org).get(pk=_item_of(answer))


def _item_of(answer) -> int:
    from context.models import KnowledgeVersion

    return KnowledgeVersion.objects.for_org(answer.organization_id).get(answer=answer).item_id


class ContextGapCounter:
    n = 0

    @classmethod
    def next(cls) -> int:
        cls.n += 1
        return cls.n
