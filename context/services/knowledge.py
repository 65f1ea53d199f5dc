"""Knowledge items: published from approved answers as new versions, retired, and kept
out of search once retired."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from context.models import (
    Answer,
    AnswerStatus,
    ContextGap,
    GapEventKind,
    GapStatus,
    KnowledgeCitation,
    KnowledgeItem,
    KnowledgeStatus,
    KnowledgeUseCase,
    KnowledgeVersion,
)
from context.services.common import next_number
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action

DEFAULT_REVIEW_DAYS = 180  # a published item is reviewed again after this, unless told


def _clean_review_by(value) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, date):
        raise ValidationError({"review_by": "Give a date."})
    if value <= timezone.localdate():
        raise ValidationError({"review_by": "The review date must be in the future."})
    return value


def knowledge_publish(*, actor: Actor, answer: Answer, review_by=None) -> KnowledgeItem:
    """Publish an approved answer: a new item, or a new version of the item it revises
    (the item's text is the newest version's). Inside the review's transaction."""
    if answer.status != AnswerStatus.APPROVED:
        raise ValidationError("Only an approved answer is published.")
    review_by = _clean_review_by(review_by)
    org_id = answer.organization_id
    now = timezone.now()
    if answer.knowledge_id:
        item = KnowledgeItem.objects.for_org(org_id).select_for_update().get(pk=answer.knowledge_id)
        number = item.versions.count() + 1
    else:
        item = KnowledgeItem(organization_id=org_id, number=next_number(org_id, "knowledge_seq"))
        number = 1
    approver = actor.label
    item.title, item.question, item.body, item.scope = (
        answer.title,
        answer.question,
        answer.body,
        answer.scope,
    )
    item.status, item.published_at, item.retired_at = KnowledgeStatus.PUBLISHED, now, None
    item.review_by = review_by or (timezone.localdate(now) + timedelta(days=DEFAULT_REVIEW_DAYS))
    item.save()
    version = KnowledgeVersion.objects.create(
        organization_id=org_id,
        item=item,
        number=number,
        answer=answer,
        title=answer.title,
        question=answer.question,
        body=answer.body,
        scope=answer.scope,
        confidence=answer.confidence,
        author_label=answer.author_label,
        approved_by_label=approver,
    )
    sources = list(answer.citations.all())
    KnowledgeCitation.objects.bulk_create(
        [KnowledgeCitation(organization_id=org_id, version=version, source=s) for s in sources]
    )
    use_case_ids = {uc.pk for uc in answer.use_cases.all()}
    KnowledgeUseCase.objects.for_org(org_id).filter(item=item).exclude(
        use_case_id__in=use_case_ids
    ).delete()
    KnowledgeUseCase.objects.bulk_create(
        [KnowledgeUseCase(organization_id=org_id, item=item, use_case_id=i) for i in use_case_ids],
        ignore_conflicts=True,
    )
    item.current = version
    item.save(update_fields=["current", "updated_at"])
    audit_record(
        actor=actor,
        action="knowledge.publish",
        obj=item,
        after={
            "key": item.key,
            "version": number,
            "answer": answer.pk,
            "title": item.title[:200],
            "citations": [s.pk for s in sources],
            "use_cases": sorted(use_case_ids),
            "review_by": item.review_by.isoformat(),
        },
    )
    return item


def knowledge_retire(*, actor: Actor, item: KnowledgeItem, reason: str = "") -> KnowledgeItem:
    """Take an item out of search (its versions stay, for the record). The gaps it
    answered are open again: the AI no longer has that knowledge."""
    actor.require(Action.ANSWER_SME)  # SMEs and product owners
    actor.require_same_org(item)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why it is retired: the gaps it answered reopen."})
    if len(reason) > 300:
        raise ValidationError({"reason": "Keep the reason under 300 characters."})
    with transaction.atomic():
        item = (
            KnowledgeItem.objects.for_org(item.organization_id).select_for_update().get(pk=item.pk)
        )
        if item.status == KnowledgeStatus.RETIRED:
            return item
        item.status, item.retired_at = KnowledgeStatus.RETIRED, timezone.now()
        item.save(update_fields=["status", "retired_at", "updated_at"])
        reopened = _reopen_gaps_of(actor, item, reason)
        audit_record(
            actor=actor,
            action="knowledge.retire",
            obj=item,
            before={"status": KnowledgeStatus.PUBLISHED},
            after={"status": item.status, "reason": reason, "reopened": reopened},
        )
    return item


def _reopen_gaps_of(actor: Actor, item: KnowledgeItem, reason: str) -> list[str]:
    """The gaps this item answered (published or verified) go back to their SME, or open."""
    from context.services.common import gap_event

    org_id = item.organization_id
    gaps = list(
        ContextGap.objects.for_org(org_id)
        .select_for_update()
        .filter(knowledge=item, status__in=(GapStatus.PUBLISHED, GapStatus.VERIFIED))
        .order_by("pk")
    )
    for gap in gaps:
        before = gap.status
        gap.status = GapStatus.ROUTED if gap.assigned_to_id else GapStatus.OPEN
        gap.knowledge = None
        gap.closed_at = None
        gap.save(update_fields=["status", "knowledge", "closed_at", "updated_at"])
        gap_event(
            gap,
            kind=GapEventKind.STATUS,
            actor=actor,
            text=f"{item.key} was retired ({reason[:200].rstrip('.')}): the gap is open again.",
        )
        audit_record(
            actor=actor,
            action="context_gap.reopened",
            obj=gap,
            before={"status": before, "knowledge": item.pk},
            after={"status": gap.status, "knowledge": None},
        )
    return [gap.key for gap in gaps]
