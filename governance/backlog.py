"""Governance's backlog sources: what a release waits for before launch, and the open
follow-ups of incidents. Registered in `GovernanceConfig.ready()`.

Releases count while they are a draft or in review (`LIVE`): approved ones wait for nothing
more, released and rolled back ones are ended, and a rejected one waits for its owner to
rework and resubmit it, which nothing tells apart from an abandoned one, so it reappears
once submitted again. Each source runs a fixed number of queries whatever the number of
rows: automatic checklist items and stale sign-offs are left out, since telling them needs
each release's evidence (`governance.checks.Evidence`, several queries per release).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone

from governance.models import (
    ChecklistItem,
    FollowUpStatus,
    IncidentFollowUp,
    ItemKind,
    ItemStatus,
    Release,
    ReleaseReviewer,
    ReleaseStatus,
    ReviewerRole,
    SignOff,
    Waiver,
    WaiverStatus,
)
from usecases.backlog import BacklogEntry, person_name, urgency_of_deadline, url_maker
from usecases.models import RiskTier

LIVE = (ReleaseStatus.DRAFT, ReleaseStatus.IN_REVIEW)
UNMET = (ItemStatus.NOT_STARTED, ItemStatus.IN_PROGRESS, ItemStatus.NOT_MET)
SETTLED = (ItemStatus.MET, ItemStatus.NOT_APPLICABLE)
WAIVER_NOTICE = timedelta(days=14)
HIGH_TIERS = (RiskTier.HIGH, RiskTier.UNACCEPTABLE)
SEVERITY_IMPACT = {1: 5, 2: 4, 3: 3, 4: 2}


def _impact(release: Release) -> int:
    """Every entry here blocks a launch: 5 for a high-risk release, else 4. The use case's
    tier is the floor, as the gate reads it."""
    tiers = (release.risk_tier, release.use_case.risk_tier)
    return 5 if any(t in HIGH_TIERS for t in tiers) else 4


def _release_owner(release: Release):
    return release.owner or release.created_by


def _days(delta: timedelta) -> int:
    return int(delta.total_seconds() // 86400)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _expiry(expires_at, now) -> str:
    left = expires_at - now
    if left.total_seconds() <= 0:
        ago = _days(-left)
        return "expired today" if ago < 1 else f"expired {_plural(ago, 'day')} ago"
    days = _days(left)
    return "expires within a day" if days < 1 else f"expires in {_plural(days, 'day')}"


def _waiting_urgency(since, now) -> int:
    days = (now - since).total_seconds() / 86400
    return 3 if days < 2 else 4 if days < 7 else 5


def _by_use_case(rows, field: str, use_case):
    return rows if use_case is None else rows.filter(**{field: use_case})


def governance_entries(organization, *, use_case=None) -> list[BacklogEntry]:
    """Unmet manual items, pending sign-offs and waivers running out, of live releases."""
    now = timezone.now()
    release_url = url_maker("release_detail", organization.slug)
    review_url = url_maker("release_review", organization.slug)
    return [
        *_item_entries(organization, use_case, release_url),
        *_waiver_entries(organization, use_case, now, release_url),
        *_sign_off_entries(organization, use_case, now, review_url),
    ]


_RELEASE_RELATED = ("use_case", "owner", "created_by")


def _item_entries(organization, use_case, release_url) -> list[BacklogEntry]:
    """Manual items not met nor waived (1 query). An item with an approved waiver is the
    waiver's entry, expired or not: renewing it or meeting the item is the one piece of
    work."""
    waived = Waiver.objects.for_org(organization).filter(
        item=OuterRef("pk"), status=WaiverStatus.APPROVED
    )
    items = (
        _by_use_case(
            ChecklistItem.objects.for_org(organization).filter(
                kind=ItemKind.MANUAL, status__in=UNMET, release__status__in=LIVE
            ),
            "release__use_case",
            use_case,
        )
        .exclude(Exists(waived))
        .select_related(*(f"release__{f}" for f in _RELEASE_RELATED))
        .order_by("release__number", "position", "pk")
    )
    out = []
    for item in items:
        release = item.release
        in_review = release.status == ReleaseStatus.IN_REVIEW
        state = ItemStatus(item.status).label.lower()
        where = f"{release.key} is in review" if in_review else f"{release.key} is a draft"
        out.append(
            BacklogEntry(
                kind="governance",
                key=f"{release.key} · {item.key}",
                title=item.text,
                url=f"{release_url(release.number)}#item-{item.key}",
                obj=item,
                created_at=release.created_at,
                impact=_impact(release),
                urgency=4 if in_review else 3,
                effort=2,
                owner=_release_owner(release),
                use_case=release.use_case,
                why=f"{state}: waits for evidence and an attestation; {where}",
            )
        )
    return out


def _waiver_entries(organization, use_case, now, release_url) -> list[BacklogEntry]:
    """The approved waiver an item stands on, when it expires within 14 days or has
    expired (1 query). A waiver outlasted by another approved one of the item, or of an
    item met since, no longer matters."""
    waivers = Waiver.objects.for_org(organization)
    outlasted = waivers.filter(
        item=OuterRef("item"),
        status=WaiverStatus.APPROVED,
        expires_at__gt=OuterRef("expires_at"),
    )
    rows = (
        _by_use_case(
            waivers.filter(
                status=WaiverStatus.APPROVED,
                expires_at__lte=now + WAIVER_NOTICE,
                item__release__status__in=LIVE,
            ),
            "item__release__use_case",
            use_case,
        )
        .exclude(Exists(outlasted))
        .exclude(item__kind=ItemKind.MANUAL, item__status__in=SETTLED)
        .select_related("item", *(f"item__release__{f}" for f in _RELEASE_RELATED))
        .order_by("expires_at", "pk")
    )
    out = []
    for waiver in rows:
        item, release = waiver.item, waiver.item.release
        urgency, _ = urgency_of_deadline(waiver.expires_at, now)
        expiry = _expiry(waiver.expires_at, now)
        out.append(
            BacklogEntry(
                kind="governance",
                key=f"{release.key} · waiver of {item.key}",
                title=f"Waiver of “{item.text}”",
                url=f"{release_url(release.number)}#item-{item.key}",
                obj=waiver,
                created_at=waiver.decided_at or waiver.requested_at,
                impact=_impact(release),
                urgency=urgency,
                effort=2,
                owner=_release_owner(release),
                use_case=release.use_case,
                why=f"waiver {expiry}: meet the item or ask for a new waiver",
            )
        )
    return out


def _sign_off_entries(organization, use_case, now, review_url) -> list[BacklogEntry]:
    """Each reviewer role of a release in review without a decision (3 queries): one entry
    per assigned reviewer, and one per release for the roles any reviewer may sign.

    As in the gate, a sign-off by whoever owns the release now does not count."""
    releases = (
        _by_use_case(
            Release.objects.for_org(organization).filter(status=ReleaseStatus.IN_REVIEW),
            "use_case",
            use_case,
        )
        .select_related("use_case")
        .prefetch_related(
            Prefetch(
                "reviewers",
                queryset=ReleaseReviewer.objects.for_org(organization).select_related("user"),
                to_attr="assigned",
            ),
            Prefetch(
                "sign_offs",
                queryset=SignOff.objects.for_org(organization)
                .filter(superseded=False)
                .only("pk", "release_id", "reviewer_role", "user_id"),
                to_attr="current",
            ),
        )
        .order_by("number")
    )
    out = []
    for release in releases:
        decided = {s.reviewer_role for s in release.current if s.user_id != release.owner_id}
        assigned = {r.reviewer_role: r for r in release.assigned}
        since = release.submitted_at or release.created_at
        waiting = _plural(max(0, _days(now - since)), "day")
        common = {
            "kind": "governance",
            "url": f"{review_url(release.number)}#decision",
            "created_at": since,
            "impact": _impact(release),
            "urgency": _waiting_urgency(since, now),
            "effort": 1,
            "use_case": release.use_case,
        }
        anyone = []
        for role in release.reviewer_roles:
            if role not in ReviewerRole.values or role in decided:
                continue
            label = ReviewerRole(role).label
            row = assigned.get(role)
            if row is None:
                anyone.append(label)
                continue
            out.append(
                BacklogEntry(
                    key=f"{release.key} · {label.lower()} sign-off",
                    title=f"{label} sign-off of {release.key} {release.name}",
                    obj=row,
                    owner=row.user,
                    why=f"in review for {waiting}: waits for {person_name(row.user)}'s decision",
                    **common,
                )
            )
        if anyone:
            roles = ", ".join(label.lower() for label in anyone)
            out.append(
                BacklogEntry(
                    key=f"{release.key} · sign-offs",
                    title=f"Sign-off of {release.key} {release.name}: {roles}",
                    obj=release,
                    owner=None,
                    why=f"in review for {waiting}: waits for any reviewer ({roles}; "
                    "nobody is asked by name)",
                    **common,
                )
            )
    return out


# --------------------------------------------------------------------------- incidents


def incident_follow_up_entries(organization, *, use_case=None) -> list[BacklogEntry]:
    """Open follow-ups of incidents (1 query); done or accepted as is, they leave."""
    rows = (
        _by_use_case(
            IncidentFollowUp.objects.for_org(organization).filter(status=FollowUpStatus.OPEN),
            "incident__use_case",
            use_case,
        )
        .select_related("incident", "incident__use_case", "owner")
        .order_by("incident__number", "due_date", "pk")
    )
    incident_url = url_maker("incident_detail", organization.slug)
    out = []
    for row in rows:
        incident = row.incident
        if row.due_date:
            urgency, when = urgency_of_deadline(row.due_date)
        else:
            urgency, when = 3, "no due date"
        out.append(
            BacklogEntry(
                kind="incident_follow_up",
                key=f"{incident.key} · follow-up",
                title=row.title,
                url=f"{incident_url(incident.number)}#follow-up-{row.pk}",
                obj=row,
                # A follow-up keeps no creation time: its incident's stands for it.
                created_at=incident.created_at,
                impact=SEVERITY_IMPACT.get(incident.severity, 3),
                urgency=urgency,
                effort=3,
                owner=row.owner,
                use_case=incident.use_case,
                why=f"severity {incident.severity} incident; {when}",
            )
        )
    return out
