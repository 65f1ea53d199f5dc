"""SMEs: expertise tags (a normalized table), profiles, routing of gaps, and the SLA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import slugify

from context.business_days import add_business_days
from context.models import (
    OPEN_GAP_STATUSES,
    ContextGap,
    ContextSettings,
    ExpertiseTag,
    GapEventKind,
    GapStatus,
    GapTag,
    SmeExpertise,
    SmeProfile,
)
from context.services.common import gap_event, member_of, settings_of
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.models import Membership
from genai_po.roles import PERMISSIONS, Action

MAX_TAGS = 20
ANSWERING_ROLES = PERMISSIONS[Action.ANSWER_SME]


def normalize_tags(values) -> list[str]:
    """Tags as stored: lower-case slugs, distinct, in order; refuses what cannot be one."""
    if isinstance(values, str):
        values = values.replace(";", ",").split(",")
    tags: list[str] = []
    for value in values or []:
        if not isinstance(value, str):
            raise ValidationError({"tags": "Tags are words, like refunds or shipping."})
        tag = slugify(value.strip(), allow_unicode=True)[:60]
        if value.strip() and not tag:
            raise ValidationError({"tags": f"{value.strip()[:40]!r} is not a usable tag."})
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationError({"tags": f"At most {MAX_TAGS} tags."})
    return tags


def tags_for(organization_id: int, names: list[str]) -> list[ExpertiseTag]:
    """The organization's tag rows for `names` (made as needed)."""
    if not names:
        return []
    ExpertiseTag.objects.bulk_create(
        [ExpertiseTag(organization_id=organization_id, name=name) for name in names],
        ignore_conflicts=True,
    )
    return list(ExpertiseTag.objects.for_org(organization_id).filter(name__in=names))


def gap_set_tags(gap: ContextGap, names: list[str]) -> None:
    """Replace a gap's tags (inside the caller's transaction)."""
    tags = tags_for(gap.organization_id, names)
    GapTag.objects.for_org(gap.organization_id).filter(gap=gap).exclude(tag__in=tags).delete()
    GapTag.objects.bulk_create(
        [GapTag(organization_id=gap.organization_id, gap=gap, tag=tag) for tag in tags],
        ignore_conflicts=True,
    )


def sme_profile_set(*, actor: Actor, user, tags, backup=None, available: bool = True) -> SmeProfile:
    """Set an SME's expertise, backup and availability. SMEs edit their own profile;
    whoever manages members or the product edits anyone's."""
    org_id = actor.organization.pk
    own = actor.user is not None and user.pk == actor.user.pk
    if not own and not (actor.can(Action.MANAGE_MEMBERS) or actor.can(Action.EDIT_PRODUCT)):
        actor.require(Action.MANAGE_MEMBERS)
    membership = member_of(org_id, user)
    if membership is None:
        raise ValidationError({"user": "Choose a member of this organization."})
    if membership.role not in ANSWERING_ROLES:
        raise ValidationError({"user": "This member's role cannot answer SME questions."})
    names = normalize_tags(tags)
    if backup is not None:
        if backup.pk == user.pk:
            raise ValidationError({"backup": "Choose someone else as the backup."})
        backup_membership = member_of(org_id, backup)
        if backup_membership is None or backup_membership.role not in ANSWERING_ROLES:
            raise ValidationError({"backup": "Choose a member who can answer SME questions."})
    with transaction.atomic():
        profile, _ = SmeProfile.objects.for_org(org_id).get_or_create(
            organization_id=org_id, user=user
        )
        before = {
            "tags": sorted(profile.tags.values_list("name", flat=True)),
            "backup": profile.backup_id,
            "available": profile.available,
        }
        rows = tags_for(org_id, names)
        SmeExpertise.objects.for_org(org_id).filter(profile=profile).exclude(tag__in=rows).delete()
        SmeExpertise.objects.bulk_create(
            [SmeExpertise(organization_id=org_id, profile=profile, tag=tag) for tag in rows],
            ignore_conflicts=True,
        )
        profile.backup, profile.available = backup, bool(available)
        profile.save(update_fields=["backup", "available", "updated_at"])
        audit_record(
            actor=actor,
            action="sme_profile.update",
            obj=profile,
            before=before,
            after={
                "user": user.pk,
                "tags": sorted(names),
                "backup": profile.backup_id,
                "available": profile.available,
            },
        )
    return profile


def context_settings_update(*, actor: Actor, sla_business_days: int) -> ContextSettings:
    actor.require(Action.EDIT_PRODUCT)
    if (
        not isinstance(sla_business_days, int)
        or isinstance(sla_business_days, bool)
        or not 1 <= sla_business_days <= 60
    ):
        raise ValidationError({"sla_business_days": "Give 1 to 60 business days."})
    with transaction.atomic():
        row = settings_of(actor.organization)
        before = row.sla_business_days
        ContextSettings.objects.for_org(row.organization_id).filter(pk=row.pk).update(
            sla_business_days=sla_business_days
        )
        row.sla_business_days = sla_business_days
        audit_record(
            actor=actor,
            action="context_settings.update",
            obj=row,
            before={"sla_business_days": before},
            after={"sla_business_days": sla_business_days},
        )
    return row


@dataclass(frozen=True)
class Route:
    """Who a gap goes to, and why."""

    assignee: object | None  # User
    backup: object | None
    reason: str


def route_for(gap: ContextGap) -> Route:
    """The available SME whose expertise matches most of the gap's tags (fewest open
    questions breaks a tie, then the earliest member), and their backup (their profile's,
    else the next best match). No match: nobody, and the gap waits to be assigned by hand."""
    org_id = gap.organization_id
    tag_ids = list(GapTag.objects.for_org(org_id).filter(gap=gap).values_list("tag_id", flat=True))
    if not tag_ids:
        return Route(None, None, "The gap has no tags to match an SME's expertise.")
    answering = Membership.objects.for_org(org_id).filter(role__in=ANSWERING_ROLES)
    profiles = list(
        SmeProfile.objects.for_org(org_id)
        .filter(available=True, user_id__in=answering.values("user_id"))
        .annotate(
            matches=Count("expertise", filter=Q(expertise__tag_id__in=tag_ids), distinct=True)
        )
        .filter(matches__gt=0)
        .select_related("user", "backup")
    )
    if not profiles:
        return Route(None, None, "No available SME has an expertise tag of this gap.")
    load = dict(
        ContextGap.objects.for_org(org_id)
        .filter(status__in=OPEN_GAP_STATUSES, assigned_to_id__in=[p.user_id for p in profiles])
        .values_list("assigned_to_id")
        .annotate(n=Count("pk"))
    )
    profiles.sort(key=lambda p: (-p.matches, load.get(p.user_id, 0), p.user_id))
    best = profiles[0]
    backup = best.backup or (profiles[1].user if len(profiles) > 1 else None)
    tags = ", ".join(sorted(best.tags.filter(pk__in=tag_ids).values_list("name", flat=True)))
    return Route(best.user, backup, f"Expertise matches: {tags}.")


def due_at_for(organization_id: int, start: datetime) -> datetime:
    return add_business_days(start, settings_of(organization_id).sla_business_days)


def gap_route(*, actor: Actor, gap: ContextGap, assignee=None, backup=None) -> ContextGap:
    """Route a gap: to `assignee` (by hand), else to the SME its tags match. The SLA clock
    starts at the first routing; a reassignment keeps it. The SME is emailed after commit."""
    from context import tasks

    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(gap)
    org_id = gap.organization_id
    if assignee is None:
        route = route_for(gap)
        if route.assignee is None:
            raise ValidationError({"assignee": f"{route.reason} Assign it by hand."})
        assignee, backup, reason = route.assignee, backup or route.backup, route.reason
    else:
        membership = member_of(org_id, assignee)
        if membership is None or membership.role not in ANSWERING_ROLES:
            raise ValidationError({"assignee": "Choose a member who can answer SME questions."})
        reason = "Assigned by hand."
        if backup is None:
            profile = SmeProfile.objects.for_org(org_id).filter(user=assignee).first()
            backup = profile.backup if profile else None
    if backup is not None and backup.pk == assignee.pk:
        backup = None
    with transaction.atomic():
        gap = ContextGap.objects.for_org(org_id).select_for_update().get(pk=gap.pk)
        if gap.status not in (GapStatus.OPEN, GapStatus.ROUTED, GapStatus.ANSWERED):
            raise ValidationError(
                f"{gap.key} is {gap.get_status_display().lower()}: only an open or routed "
                "gap can be routed."
            )
        before = {"status": gap.status, "assigned_to": gap.assigned_to_id}
        now = timezone.now()
        gap.assigned_to, gap.backup = assignee, backup
        if gap.routed_at is None:
            gap.routed_at = now
            gap.due_at = due_at_for(org_id, now)
        if gap.status == GapStatus.OPEN:
            gap.status = GapStatus.ROUTED
        gap.breach_notified_at = None if gap.due_at and gap.due_at > now else gap.breach_notified_at
        gap.save(
            update_fields=[
                "assigned_to",
                "backup",
                "routed_at",
                "due_at",
                "status",
                "breach_notified_at",
                "updated_at",
            ]
        )
        verb = "Reassigned" if before["assigned_to"] else "Routed"
        gap_event(
            gap,
            kind=GapEventKind.ROUTED,
            actor=actor,
            text=f"{verb} to {assignee.display_name}"
            f"{f', backup {backup.display_name}' if backup else ''}. {reason}",
        )
        audit_record(
            actor=actor,
            action="context_gap.route",
            obj=gap,
            before=before,
            after={
                "status": gap.status,
                "assigned_to": assignee.pk,
                "backup": gap.backup_id,
                "due_at": gap.due_at.isoformat(),
                "reason": reason,
            },
        )
        gap_id, user_id = gap.pk, assignee.pk
        transaction.on_commit(lambda: tasks.gap_assignment_email.delay(gap_id, user_id))
    return gap
