"""What the governance area says needs the product owner now (registered in
`GovernanceConfig.ready()`): releases on their way whose gate is not ready, and why; and
serious incidents near their reporting deadline.

A release's gate reads its evidence (a fixed number of queries per release), so at most
`ATTENTION_LIMIT + 1` releases are evaluated, soonest target date first.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from genai_po.registry import ATTENTION_LIMIT, Attention
from governance import gate as release_gate
from governance import selectors
from governance.models import APPROVED_STATUSES, Release, ReleaseStatus

ON_THE_WAY = (ReleaseStatus.DRAFT, ReleaseStatus.IN_REVIEW, *APPROVED_STATUSES)
DEADLINE_NOTICE = timedelta(days=7)


def blocked_releases(request) -> list[Attention]:
    org = request.organization
    releases = (
        Release.objects.for_org(org)
        .filter(status__in=ON_THE_WAY)
        .select_related("use_case", "owner", "organization")
        .order_by(F("target_date").asc(nulls_last=True), "number")[: ATTENTION_LIMIT + 1]
    )
    now = timezone.now()
    out = []
    for release in releases:
        gate = release_gate.evaluate(release, now=now)
        if gate.ready:
            continue
        first = gate.blockers[0] if gate.blockers else None
        more = len(gate.blockers) - 1
        why = f"{gate.verdict_label}: {first.message}" if first else gate.verdict_label
        if more > 0:
            why += f" (and {more} more)"
        late = release.target_date is not None and release.target_date <= now.date()
        out.append(
            Attention(
                title=f"{release.key} {release.name} · {release.get_status_display()}",
                url=(first.url if first and first.url else "")
                or reverse("release_detail", args=[org.slug, release.number]),
                why=why,
                when=None,
                late=late,
                use_case=release.use_case.key,
            )
        )
    return out


def _due(deadline, now) -> str:
    left = deadline - now
    hours = int(abs(left.total_seconds()) // 3600)
    span = f"{hours} h" if hours < 48 else f"{hours // 24} days"
    return f"overdue by {span}" if left.total_seconds() < 0 else f"due in {span}"


def reports_due(request) -> list[Attention]:
    org = request.organization
    now = timezone.now()
    incidents = selectors.reports_due(org).filter(deadline_at__lte=now + DEADLINE_NOTICE)
    return [
        Attention(
            title=f"{incident.key} {incident.title}",
            url=reverse("incident_detail", args=[org.slug, incident.number]),
            why=f"the Article 73 report is {_due(incident.deadline_at, now)}",
            when=incident.deadline_at,
            late=incident.deadline_at - now < timedelta(days=2),
            use_case=incident.use_case.key,
        )
        for incident in incidents[: ATTENTION_LIMIT + 1]
    ]


def releases_url(request) -> str:
    return reverse("release_list", args=[request.organization.slug])


def incidents_url(request) -> str:
    return reverse("incident_list", args=[request.organization.slug]) + "?status=unclosed"
