"""A second person reviews every answer: approve publishes a versioned item, request changes
needs a comment and goes back to the author, reject sends the gap back; nobody approves
their own answer, and no API token reviews."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from context import services
from context.models import AnswerStatus, GapStatus, KnowledgeItem, KnowledgeVersion
from genai_po.actors import Actor
from genai_po.models import AuditEvent
from tests.context.conftest import actor_of
from tests.factories.context import make_answer, make_gap

pytestmark = pytest.mark.django_db


def answer_by(sme, org, gap=None):
    return make_answer(org, gap, author=sme)


def test_nobody_approves_their_own_answer(org_a, sme):
    answer = answer_by(sme, org_a)
    with pytest.raises(PermissionDenied, match="Nobody reviews their own answer"):
        services.answer_review(actor=actor_of(sme), answer=answer, decision="approve")
    answer.refresh_from_db()
    assert answer.status == AnswerStatus.IN_REVIEW


def test_an_api_token_never_reviews(org_a, sme, token_factory):
    answer = answer_by(sme, org_a)
    token, _ = token_factory(org_a, scopes=["read", "write"])
    with pytest.raises(PermissionDenied, match="A person reviews answers"):
        services.answer_review(
            actor=Actor.for_token(token=token), answer=answer, decision="approve"
        )


def test_another_sme_may_approve_and_it_publishes_version_1(
    org_a, sme, sme2, django_capture_on_commit_callbacks
):
    answer = answer_by(sme, org_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.answer_review(actor=actor_of(sme2), answer=answer, decision="approve")
    gap = answer.gap
    gap.refresh_from_db()
    item = KnowledgeItem.objects.for_org(org_a).get()
    assert (gap.status, gap.knowledge, item.status) == (GapStatus.PUBLISHED, item, "published")
    assert (item.current.number, item.current.approved_by_label) == (1, "sam@a.example")
    assert len(callbacks) == 1  # the re-check is scheduled after commit
    actions = set(AuditEvent.objects.for_org(org_a).values_list("action", flat=True))
    assert {"context_answer.review", "knowledge.publish", "context_gap.publish"} <= actions


def test_requesting_changes_needs_a_comment_and_returns_it_to_the_author(org_a, po, sme):
    answer = answer_by(sme, org_a)
    with pytest.raises(ValidationError, match="the comment is required"):
        services.answer_review(actor=actor_of(po), answer=answer, decision="request_changes")
    services.answer_review(
        actor=actor_of(po),
        answer=answer,
        decision="request_changes",
        comment="Say which payment method gets the money.",
    )
    answer.refresh_from_db()
    assert answer.status == AnswerStatus.CHANGES_REQUESTED
    assert answer.gap.status == GapStatus.ROUTED  # back in the SME's inbox

    revised = services.answer_revise(
        actor=actor_of(sme),
        answer=answer,
        data={
            "title": answer.title,
            "question": answer.question,
            "confidence": "high",
            "body": "Refunded to the original payment method within 14 days if unused.",
        },
    )
    assert revised.status == AnswerStatus.IN_REVIEW
    revised.gap.refresh_from_db()
    assert revised.gap.status == GapStatus.IN_REVIEW


def test_reject_sends_the_gap_back_for_a_new_answer(org_a, po, sme):
    answer = answer_by(sme, org_a)
    services.answer_review(
        actor=actor_of(po), answer=answer, decision="reject", comment="Wrong policy."
    )
    answer.refresh_from_db()
    assert (answer.status, answer.gap.status) == (AnswerStatus.REJECTED, GapStatus.ROUTED)
    again = services.answer_submit(
        actor=actor_of(sme),
        gap=answer.gap,
        data={"title": "Gift cards", "question": "q", "body": "b", "confidence": "low"},
    )
    assert again.status == AnswerStatus.IN_REVIEW


def test_a_decided_answer_cannot_be_decided_again(org_a, po, sme, sme2):
    answer = answer_by(sme, org_a)
    services.answer_review(actor=actor_of(po), answer=answer, decision="approve")
    with pytest.raises(ValidationError, match="not waiting for review"):
        services.answer_review(actor=actor_of(sme2), answer=answer, decision="reject")


def test_answering_a_gap_again_publishes_a_new_version_of_its_item(org_a, po, sme):
    first = answer_by(sme, org_a)
    services.answer_review(actor=actor_of(po), answer=first, decision="approve")
    gap = first.gap
    gap.refresh_from_db()
    gap.status = GapStatus.ANSWERED  # the re-check said "did not fix it"
    gap.save()
    second = services.answer_submit(
        actor=actor_of(sme),
        gap=gap,
        data={
            "title": "Gift card refunds",
            "question": gap.question,
            "confidence": "high",
            "body": "Unused gift cards: refundable within 14 days, to the card used.",
        },
    )
    services.answer_review(actor=actor_of(po), answer=second, decision="approve")
    item = KnowledgeItem.objects.for_org(org_a).get()
    assert list(
        KnowledgeVersion.objects.for_org(org_a).filter(item=item).values_list("number", flat=True)
    ) == [2, 1]
    assert item.body.startswith("Unused gift cards")


def test_only_the_gaps_sme_backup_or_a_product_owner_answers(org_a, po, sme, sme2):
    gap = services.gap_route(actor=actor_of(po), gap=make_gap(org_a), assignee=sme.user)
    data = {"title": "t", "question": "q", "body": "b", "confidence": "high"}
    with pytest.raises(PermissionDenied, match="assigned to someone else"):
        services.answer_submit(actor=actor_of(sme2), gap=gap, data=data)
    assert services.answer_submit(actor=actor_of(po), gap=gap, data=data).gap == gap


def test_only_approved_sources_can_be_cited(org_a, sme):
    from context.models import ContextSource

    proposed = services.source_create(
        actor=Actor.system(organization=org_a, label="t"),
        data={"name": "Draft policy", "source_type": "policy", "location": "x"},
    )
    gap = make_gap(org_a)
    gap = services.gap_route(
        actor=Actor.system(organization=org_a, label="t"), gap=gap, assignee=sme.user
    )
    with pytest.raises(ValidationError, match="cite approved sources only"):
        services.answer_submit(
            actor=actor_of(sme),
            gap=gap,
            citations=[proposed],
            data={"title": "t", "question": "q", "body": "b", "confidence": "high"},
        )
    assert ContextSource.objects.for_org(org_a).count() == 1
