"""What the context area says needs the product owner now (registered in
`ContextConfig.ready()`): SME questions past their answer time, and sources gone stale.
One query each.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from context.models import INBOX_STATUSES, ContextGap, ContextSource, Freshness
from genai_po.registry import ATTENTION_LIMIT, Attention


def _overdue_by(due_at, now) -> str:
    hours = int((now - due_at).total_seconds() // 3600)
    if hours < 1:
        return "overdue"
    if hours < 48:
        return f"{hours} h overdue"
    return f"{hours // 24} days overdue"


def overdue_questions(request) -> list[Attention]:
    """Routed questions nobody has answered in time, the longest overdue first."""
    org = request.organization
    now = timezone.now()
    gaps = (
        ContextGap.objects.for_org(org)
        .filter(status__in=INBOX_STATUSES, due_at__lt=now)
        .select_related("assigned_to")
        .order_by("due_at", "pk")[: ATTENTION_LIMIT + 1]
    )
    out = []
    for gap in gaps:
        who = gap.assigned_to.display_name if gap.assigned_to else "nobody"
        out.append(
            Attention(
                title=f"{gap.key} {gap.question[:120]}",
                url=reverse("gap_detail", args=[org.slug, gap.number]),
                why=f"{_overdue_by(gap.due_at, now)}, assigned to {who}",
                when=gap.due_at,
                late=True,
            )
        )
    return out


def stale_sources(request) -> list[Attention]:
    """Sources past their review date: what the AI retrieves from them may be wrong."""
    org = request.organization
    sources = (
        ContextSource.objects.for_org(org)
        .filter(freshness=Freshness.STALE)
        .select_related("owner")
        .order_by("next_review_due", "name", "pk")[: ATTENTION_LIMIT + 1]
    )
    out = []
    for source in sources:
        owner = source.owner.display_name if source.owner else "no owner"
        out.append(
            Attention(
                title=source.name,
                url=reverse("source_edit", args=[org.slug, source.pk]),
                why=f"review was due {source.next_review_due:%-d %b %Y}; {owner}",
            )
        )
    return out


def gaps_url(request) -> str:
    return reverse("gap_list", args=[request.organization.slug])  # those waiting, by default


def sources_url(request) -> str:
    return reverse("source_list", args=[request.organization.slug]) + "?freshness=stale"
