"""Answers and their review: an SME answers a gap (or writes knowledge directly), a second
person approves, requests changes or rejects. Nobody approves their own answer. Approval
publishes the knowledge and, for a gap with failing cases, starts their re-check."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from context.models import (
    OPEN_GAP_STATUSES,
    RESOLVED_GAP_STATUSES,
    USABLE_APPROVALS,
    Answer,
    AnswerCitation,
    AnswerReview,
    AnswerStatus,
    AnswerUseCase,
    Confidence,
    ContextGap,
    GapEventKind,
    GapStatus,
    GapUseCase,
    KnowledgeItem,
    ReviewDecision,
)
from context.services.common import gap_event
from context.services.knowledge import knowledge_publish
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action
from usecases.models import UseCase

ANSWER_FIELDS = ["title", "question", "body", "scope", "confidence"]
MAX_CITATIONS = 20


def _clean(organization_id: int, data: dict, citations, use_cases) -> dict:
    errors: dict[str, str] = {}
    clean = {f: (data.get(f) or "").strip() for f in ANSWER_FIELDS}
    clean["question"] = " ".join(clean["question"].split())
    for field, message in (
        ("title", "Give the knowledge a title."),
        ("question", "Say which question this answers."),
        ("body", "Write the answer."),
    ):
        if not clean[field]:
            errors[field] = message
    if clean["confidence"] not in Confidence.values:
        errors["confidence"] = "Say how sure you are: low, medium or high."
    errors.update(inputs.text_errors(Answer, {f: clean[f] for f in ANSWER_FIELDS}))
    citations = list(citations or [])
    if len(citations) > MAX_CITATIONS:
        errors["citations"] = f"Cite at most {MAX_CITATIONS} sources."
    for source in citations:
        if source.organization_id != organization_id:
            errors["citations"] = "Cite sources of this organization."
        elif source.approval_status not in USABLE_APPROVALS:
            errors["citations"] = (
                f"{source.name} is {source.get_approval_status_display().lower()}"
                ": cite approved sources only."
            )
    use_cases = list(use_cases or [])
    ids = {uc.pk for uc in use_cases}
    if UseCase.objects.for_org(organization_id).filter(pk__in=ids).count() != len(ids):
        errors["use_cases"] = "Choose use cases of this organization."
    if errors:
        raise ValidationError(errors)
    clean["citations"], clean["use_cases"] = citations, use_cases
    return clean


def _write_links(answer: Answer, citations, use_cases) -> None:
    org_id = answer.organization_id
    AnswerCitation.objects.for_org(org_id).filter(answer=answer).delete()
    AnswerCitation.objects.bulk_create(
        [AnswerCitation(organization_id=org_id, answer=answer, source=s) for s in citations],
        ignore_conflicts=True,
    )
    AnswerUseCase.objects.for_org(org_id).filter(answer=answer).delete()
    AnswerUseCase.objects.bulk_create(
        [AnswerUseCase(organization_id=org_id, answer=answer, use_case=uc) for uc in use_cases],
        ignore_conflicts=True,
    )


def _audit(answer: Answer) -> dict:
    return {
        "gap": answer.gap_id,
        "knowledge": answer.knowledge_id,
        "title": answer.title[:200],
        "status": answer.status,
        "confidence": answer.confidence,
        "body_chars": len(answer.body),
        "citations": sorted(answer.citation_links.values_list("source_id", flat=True)),
    }


def may_answer(actor: Actor, gap: ContextGap) -> bool:
    """The gap's SME or backup answers it; a product owner may answer any gap."""
    if actor.can(Action.EDIT_PRODUCT):
        return True
    user_id = getattr(actor.user, "pk", None)
    return actor.can(Action.ANSWER_SME) and user_id in (gap.assigned_to_id, gap.backup_id)


def answer_submit(
    *,
    actor: Actor,
    data: dict,
    gap: ContextGap | None = None,
    knowledge: KnowledgeItem | None = None,
    citations=(),
    use_cases=None,
) -> Answer:
    """Send an answer to review: to a gap, as a new version of a knowledge item, or as new
    knowledge written directly."""
    actor.require(Action.ANSWER_SME)
    org_id = actor.organization.pk
    if gap is not None:
        actor.require_same_org(gap)
        if not may_answer(actor, gap):
            raise PermissionDenied("This question is assigned to someone else.")
        if knowledge is None and gap.knowledge_id:  # answered again: a new version of it
            knowledge = gap.knowledge
    if knowledge is not None:
        actor.require_same_org(knowledge)
    if use_cases is None:
        if gap is not None:
            ids = GapUseCase.objects.for_org(org_id).filter(gap=gap).values("use_case_id")
            use_cases = list(UseCase.objects.for_org(org_id).filter(pk__in=ids))
        elif knowledge is not None:
            use_cases = list(knowledge.use_cases.all())
    clean = _clean(org_id, data, citations, use_cases)
    with transaction.atomic():
        if gap is not None:
            gap = ContextGap.objects.for_org(org_id).select_for_update().get(pk=gap.pk)
            if gap.status not in (GapStatus.OPEN, GapStatus.ROUTED, GapStatus.ANSWERED):
                raise ValidationError(
                    f"{gap.key} is {gap.get_status_display().lower()}: it takes no new answer."
                )
            if (
                Answer.objects.for_org(org_id)
                .filter(gap=gap, status=AnswerStatus.IN_REVIEW)
                .exists()
            ):
                raise ValidationError(f"An answer to {gap.key} is already in review.")
        elif knowledge is not None:
            KnowledgeItem.objects.for_org(org_id).select_for_update().get(pk=knowledge.pk)
            if (
                Answer.objects.for_org(org_id)
                .filter(knowledge=knowledge, gap__isnull=True, status=AnswerStatus.IN_REVIEW)
                .exists()
            ):
                raise ValidationError(
                    f"A new version of {knowledge.key} is already in review: review it, or "
                    "revise that one."
                )
        answer = Answer.objects.create(
            organization_id=org_id,
            gap=gap,
            knowledge=knowledge,
            # An answer sent with a token is the token's creator's: they never review it.
            author=actor.user or (actor.token.created_by if actor.token else None),
            author_label=actor.label,
            status=AnswerStatus.IN_REVIEW,
            **{f: clean[f] for f in ANSWER_FIELDS},
        )
        _write_links(answer, clean["citations"], clean["use_cases"])
        if gap is not None:
            now = timezone.now()
            before = gap.status
            gap.status = GapStatus.IN_REVIEW
            gap.answered_at = gap.answered_at or now
            gap.verification_note = ""
            gap.save(update_fields=["status", "answered_at", "verification_note", "updated_at"])
            gap_event(
                gap,
                kind=GapEventKind.ANSWERED,
                actor=actor,
                text=f"Answered: {answer.title[:200]} (confidence "
                f"{answer.get_confidence_display().lower()}). Waiting for review.",
            )
            audit_record(
                actor=actor,
                action="context_gap.answer",
                obj=gap,
                before={"status": before},
                after={"status": gap.status, "answer": answer.pk},
            )
        audit_record(actor=actor, action="context_answer.submit", obj=answer, after=_audit(answer))
    return answer


def answer_revise(
    *, actor: Actor, answer: Answer, data: dict, citations=(), use_cases=None
) -> Answer:
    """The author changes an answer that came back with requested changes: it goes back to
    review."""
    actor.require(Action.ANSWER_SME)
    actor.require_same_org(answer)
    if answer.author_id != getattr(actor.user, "pk", None):
        raise PermissionDenied("Only the author revises an answer.")
    if answer.status != AnswerStatus.CHANGES_REQUESTED:
        raise ValidationError("Only an answer with requested changes can be revised.")
    if use_cases is None:
        use_cases = list(answer.use_cases.all())
    clean = _clean(answer.organization_id, data, citations, use_cases)
    with transaction.atomic():
        answer = (
            Answer.objects.for_org(answer.organization_id).select_for_update().get(pk=answer.pk)
        )
        if answer.status != AnswerStatus.CHANGES_REQUESTED:
            raise ValidationError("Only an answer with requested changes can be revised.")
        before = _audit(answer)
        for field in ANSWER_FIELDS:
            setattr(answer, field, clean[field])
        answer.status = AnswerStatus.IN_REVIEW
        answer.save()
        _write_links(answer, clean["citations"], clean["use_cases"])
        if answer.gap_id:
            gap = (
                ContextGap.objects.for_org(answer.organization_id)
                .select_for_update()
                .get(pk=answer.gap_id)
            )
            gap.status = GapStatus.IN_REVIEW
            gap.save(update_fields=["status", "updated_at"])
            gap_event(
                gap,
                kind=GapEventKind.ANSWERED,
                actor=actor,
                text="Answer revised. Waiting for review.",
            )
        audit_record(
            actor=actor,
            action="context_answer.revise",
            obj=answer,
            before=before,
            after=_audit(answer),
        )
    return answer


def may_review(actor: Actor, answer: Answer) -> bool:
    """A person (never a token) who may answer, and is not the answer's author."""
    return (
        actor.user is not None
        and actor.can(Action.ANSWER_SME)
        and answer.author_id != actor.user.pk
        and answer.author_label != actor.label
    )


def answer_review(
    *, actor: Actor, answer: Answer, decision: str, comment: str = "", review_by=None
) -> AnswerReview:
    """A second person decides. Approve publishes the knowledge (a new item, or a new version
    of the item it revises); request changes sends it back to its author with the comment;
    reject sends the gap back to its SME for a new answer."""
    actor.require(Action.ANSWER_SME)  # SMEs and product owners
    actor.require_same_org(answer)
    if decision not in ReviewDecision.values:
        raise ValidationError({"decision": "Approve, request changes or reject."})
    comment = (comment or "").strip()
    if decision == ReviewDecision.REQUEST_CHANGES and not comment:
        raise ValidationError({"comment": "Say what should change: the comment is required."})
    if problem := inputs.check_text(AnswerReview, "comment", comment):
        raise ValidationError({"comment": problem})
    if not may_review(actor, answer):
        if actor.user is None:
            raise PermissionDenied("A person reviews answers, not an API token.")
        raise PermissionDenied("Nobody reviews their own answer: ask a second person.")
    org_id = answer.organization_id
    with transaction.atomic():
        answer = Answer.objects.for_org(org_id).select_for_update().get(pk=answer.pk)
        if answer.status != AnswerStatus.IN_REVIEW:
            raise ValidationError(
                f"This answer is {answer.get_status_display().lower()}: it is "
                "not waiting for review."
            )
        gap = None
        if answer.gap_id:
            gap = ContextGap.objects.for_org(org_id).select_for_update().get(pk=answer.gap_id)
            if decision == ReviewDecision.APPROVE and gap.status in RESOLVED_GAP_STATUSES:
                raise ValidationError(
                    f"{gap.key} is {gap.get_status_display().lower()}: reopen it before "
                    "publishing an answer to it, or reject this answer."
                )
        review = AnswerReview.objects.create(
            organization_id=org_id,
            answer=answer,
            reviewer=actor.user,
            reviewer_label=actor.label,
            decision=decision,
            comment=comment,
        )
        answer.status = {
            ReviewDecision.APPROVE: AnswerStatus.APPROVED,
            ReviewDecision.REQUEST_CHANGES: AnswerStatus.CHANGES_REQUESTED,
            ReviewDecision.REJECT: AnswerStatus.REJECTED,
        }[ReviewDecision(decision)]
        answer.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            action="context_answer.review",
            obj=answer,
            before={"status": AnswerStatus.IN_REVIEW},
            after={"status": answer.status, "decision": decision, "comment": comment[:500]},
        )
        if gap is not None:
            label = ReviewDecision(decision).label
            gap_event(
                gap,
                kind=GapEventKind.REVIEWED,
                actor=actor,
                text=f"{label}{f': {comment[:300]}' if comment else ''}".rstrip(".") + ".",
            )
        if decision == ReviewDecision.APPROVE:
            item = knowledge_publish(actor=actor, answer=answer, review_by=review_by)
            if gap is not None:
                from context.services.verification import gap_publish

                gap_publish(actor=actor, gap=gap, item=item)
        elif gap is not None and gap.status in OPEN_GAP_STATUSES:  # a closed gap stays closed
            before = gap.status
            gap.status = GapStatus.ROUTED if gap.assigned_to_id else GapStatus.OPEN
            gap.save(update_fields=["status", "updated_at"])
            audit_record(
                actor=actor,
                action="context_gap.review",
                obj=gap,
                before={"status": before},
                after={"status": gap.status, "decision": decision},
            )
    return review
