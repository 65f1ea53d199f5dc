"""The context inventory: approved sources, their review cadence and freshness."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from context.models import (
    ApprovalStatus,
    Classification,
    ContextSource,
    Freshness,
    SourceSme,
    SourceType,
    SourceUseCase,
)
from context.services.common import require_member
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action, Role
from usecases.models import UseCase

SOURCE_FIELDS = [
    "name",
    "source_type",
    "location",
    "description",
    "owner",
    "steward",
    "classification",
    "review_every_days",
]
SME_ROLES = (Role.SME, Role.PRODUCT_OWNER, Role.ADMIN, Role.OWNER)


def due_window_days(review_every_days: int) -> int:
    """How many days before its due date a source shows as "review due": a week, or a
    quarter of a short cadence."""
    return max(1, min(7, review_every_days // 4))


def freshness_of(*, next_review_due: date, review_every_days: int, today: date) -> str:
    if today > next_review_due:
        return Freshness.STALE
    if today >= next_review_due - timedelta(days=due_window_days(review_every_days)):
        return Freshness.DUE
    return Freshness.FRESH


def _today() -> date:
    return timezone.localdate()


def _audit(source: ContextSource) -> dict:
    return {
        "name": source.name,
        "type": source.source_type,
        "location": source.location[:300],
        "owner": source.owner_id,
        "steward": source.steward_id,
        "approval": source.approval_status,
        "classification": source.classification,
        "review_every_days": source.review_every_days,
        "next_review_due": source.next_review_due.isoformat() if source.next_review_due else None,
        "use_cases": sorted(source.use_case_links.values_list("use_case_id", flat=True))
        if source.pk
        else [],
        "smes": sorted(source.sme_links.values_list("user_id", flat=True)) if source.pk else [],
    }


def _clean(source: ContextSource, data: dict) -> dict:
    errors: dict[str, str] = {}
    clean = {}
    for field in SOURCE_FIELDS:
        if field in data:
            value = data[field]
            clean[field] = value.strip() if isinstance(value, str) else value
    name = clean.get("name", source.name)
    if not (name or "").strip():
        errors["name"] = "Name the source."
    if not (clean.get("location", source.location) or "").strip():
        errors["location"] = "Say where the source lives: a URL, a path or a table."
    if clean.get("source_type", source.source_type) not in SourceType.values:
        errors["source_type"] = "Choose a type of source."
    if clean.get("classification", source.classification) not in Classification.values:
        errors["classification"] = "Choose a data classification."
    every = clean.get("review_every_days", source.review_every_days)
    if not isinstance(every, int) or isinstance(every, bool) or not 1 <= every <= 3650:
        errors["review_every_days"] = "Review it every 1 to 3,650 days."
    errors.update(
        inputs.text_errors(
            ContextSource, {f: clean[f] for f in ("name", "location", "description") if f in clean}
        )
    )
    for field in ("owner", "steward"):
        if clean.get(field) is not None:
            try:
                require_member(source.organization_id, clean[field], field=field)
            except ValidationError as exc:
                errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if name and not errors.get("name"):
        taken = ContextSource.objects.for_org(source.organization_id).filter(name__iexact=name)
        if source.pk:
            taken = taken.exclude(pk=source.pk)
        if taken.exists():
            errors["name"] = "Another source already has this name."
    if errors:
        raise ValidationError(errors)
    return clean


def _set_links(source: ContextSource, *, use_cases=None, smes=None) -> None:
    org_id = source.organization_id
    if use_cases is not None:
        ids = {uc.pk for uc in use_cases}
        if UseCase.objects.for_org(org_id).filter(pk__in=ids).count() != len(ids):
            raise ValidationError({"use_cases": "Choose use cases of this organization."})
        SourceUseCase.objects.for_org(org_id).filter(source=source).exclude(
            use_case_id__in=ids
        ).delete()
        SourceUseCase.objects.bulk_create(
            [SourceUseCase(organization_id=org_id, source=source, use_case_id=i) for i in ids],
            ignore_conflicts=True,
        )
    if smes is not None:
        users = list(smes)
        for user in users:
            require_member(org_id, user, field="smes", roles=SME_ROLES)
        ids = {u.pk for u in users}
        SourceSme.objects.for_org(org_id).filter(source=source).exclude(user_id__in=ids).delete()
        SourceSme.objects.bulk_create(
            [SourceSme(organization_id=org_id, source=source, user_id=i) for i in ids],
            ignore_conflicts=True,
        )


def source_create(*, actor: Actor, data: dict, use_cases=None, smes=None) -> ContextSource:
    """Add a source to the inventory: proposed until someone approves it."""
    actor.require(Action.EDIT_PRODUCT)
    source = ContextSource(organization=actor.organization, created_by=actor.user)
    clean = _clean(source, data)
    for field, value in clean.items():
        setattr(source, field, value)
    source.next_review_due = _today() + timedelta(days=source.review_every_days)
    source.freshness = freshness_of(
        next_review_due=source.next_review_due,
        review_every_days=source.review_every_days,
        today=_today(),
    )
    with transaction.atomic():
        source.save()
        _set_links(source, use_cases=use_cases, smes=smes)
        audit_record(actor=actor, action="context_source.create", obj=source, after=_audit(source))
    return source


def source_update(
    *, actor: Actor, source: ContextSource, data: dict, use_cases=None, smes=None
) -> ContextSource:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(source)
    clean = _clean(source, data)
    with transaction.atomic():
        source = (
            ContextSource.objects.for_org(source.organization_id)
            .select_for_update()
            .get(pk=source.pk)
        )
        before = _audit(source)
        for field, value in clean.items():
            setattr(source, field, value)
        base = (
            source.last_verified_at.date()
            if source.last_verified_at
            else (source.created_at.date())
        )
        source.next_review_due = base + timedelta(days=source.review_every_days)
        source.freshness = freshness_of(
            next_review_due=source.next_review_due,
            review_every_days=source.review_every_days,
            today=_today(),
        )
        source.save()
        _set_links(source, use_cases=use_cases, smes=smes)
        audit_record(
            actor=actor,
            action="context_source.update",
            obj=source,
            before=before,
            after=_audit(source),
        )
    return source


def source_set_approval(*, actor: Actor, source: ContextSource, status: str) -> ContextSource:
    """Approve, restrict, deprecate or retire a source (or propose it again); records who
    decided and when."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(source)
    if status not in ApprovalStatus.values:
        raise ValidationError({"approval_status": "Choose an approval status."})
    with transaction.atomic():
        source = (
            ContextSource.objects.for_org(source.organization_id)
            .select_for_update()
            .get(pk=source.pk)
        )
        before = source.approval_status
        if before == status:
            return source
        source.approval_status = status
        if status == ApprovalStatus.PROPOSED:
            source.approved_by, source.approved_at = None, None
        else:
            source.approved_by, source.approved_at = actor.user, timezone.now()
        source.save(update_fields=["approval_status", "approved_by", "approved_at", "updated_at"])
        audit_record(
            actor=actor,
            action="context_source.approval",
            obj=source,
            before={"approval": before},
            after={"approval": status},
        )
    return source


def source_mark_verified(*, actor: Actor, source: ContextSource) -> ContextSource:
    """Someone checked the source is still right today: it is fresh for another cycle."""
    actor.require(Action.ANSWER_SME)  # product owners and SMEs (the matrix includes both)
    actor.require_same_org(source)
    now = timezone.now()
    with transaction.atomic():
        source = (
            ContextSource.objects.for_org(source.organization_id)
            .select_for_update()
            .get(pk=source.pk)
        )
        before = {
            "last_verified_at": source.last_verified_at.isoformat()
            if source.last_verified_at
            else None,
            "freshness": source.freshness,
        }
        source.last_verified_at, source.last_verified_by = now, actor.user
        source.next_review_due = timezone.localdate(now) + timedelta(days=source.review_every_days)
        source.freshness = freshness_of(
            next_review_due=source.next_review_due,
            review_every_days=source.review_every_days,
            today=timezone.localdate(now),
        )
        source.stale_notified_at = None
        source.save(
            update_fields=[
                "last_verified_at",
                "last_verified_by",
                "next_review_due",
                "freshness",
                "stale_notified_at",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action="context_source.verify",
            obj=source,
            before=before,
            after={
                "last_verified_at": now.isoformat(),
                "freshness": source.freshness,
                "next_review_due": source.next_review_due.isoformat(),
            },
        )
    return source


def sources_refresh_freshness(*, today: date | None = None) -> list[int]:
    """Beat, daily: recompute every source's freshness; the ids of the sources that went
    stale and whose owners were not told yet (the task emails them, then marks them)."""
    today = today or _today()
    went_stale = []
    rows = (
        ContextSource.objects.across_orgs()
        .exclude(approval_status=ApprovalStatus.RETIRED)
        .only(
            "pk",
            "organization_id",
            "next_review_due",
            "review_every_days",
            "freshness",
            "stale_notified_at",
        )
        .order_by("pk")
    )
    changes: dict[str, list[int]] = {state: [] for state in Freshness.values}
    for source in rows.iterator(chunk_size=2000):
        state = freshness_of(
            next_review_due=source.next_review_due,
            review_every_days=source.review_every_days,
            today=today,
        )
        if state != source.freshness:
            changes[state].append(source.pk)
        if state == Freshness.STALE and source.stale_notified_at is None:
            went_stale.append(source.pk)
    for state, ids in changes.items():
        for start in range(0, len(ids), 1000):
            ContextSource.objects.across_orgs().filter(pk__in=ids[start : start + 1000]).update(
                freshness=state
            )
    return went_stale
