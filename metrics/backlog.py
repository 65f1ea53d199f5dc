"""Metrics' backlog source: the alert breaches someone must look at. Registered in
`MetricsConfig.ready()`.

An alert counts while it is open (the metric is still past its threshold), and, for a rule
whose action is "keep it on the backlog until acknowledged", until it is acknowledged
even once the metric is back. The alert of a disabled rule is left out: nothing checks
the rule any more, so it would never resolve.
"""

from __future__ import annotations

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from metrics.models import Alert, AlertAction, AlertMetric
from usecases.backlog import BacklogEntry

SEVERE_METRICS = (AlertMetric.ERROR_RATE, AlertMetric.HALLUCINATION_RATE)


def _ago(moment, now) -> str:
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"


def alert_entries(organization, *, use_case=None) -> list[BacklogEntry]:
    """Open alerts, and unacknowledged ones of "backlog" rules (1 query)."""
    now = timezone.now()
    waiting = Q(resolved_at__isnull=True) | Q(
        rule__action=AlertAction.BACKLOG, acknowledged_at__isnull=True
    )
    alerts = (
        Alert.objects.for_org(organization)
        .filter(waiting, rule__enabled=True)
        .select_related("rule", "use_case", "use_case__owner")
        .order_by("rule__number", "fired_at", "pk")
    )
    if use_case is not None:
        alerts = alerts.filter(use_case=use_case)
    page = reverse("alert_list", args=[organization.slug])
    out = []
    for alert in alerts:
        rule = alert.rule
        acknowledged = alert.acknowledged_at is not None
        why = f"fired {_ago(alert.fired_at, now)}, "
        if acknowledged:
            why += f"acknowledged by {alert.acknowledged_by_label}"
            if alert.acknowledgment_note:
                why += f": {alert.acknowledgment_note[:200]}"
        else:
            why += "not acknowledged"
        if alert.resolved_at is not None:
            why += f"; back within threshold {_ago(alert.resolved_at, now)}"
        out.append(
            BacklogEntry(
                kind="alert",
                # One open alert per rule; a resolved one kept for acknowledgment is named
                # by its own key too.
                key=rule.key if alert.resolved_at is None else f"{rule.key} · {alert.key}",
                title=alert.summary,
                # Unacknowledged alerts are on the page's "Not acknowledged" view, with
                # the button; the full list is paged, newest first.
                url=f"{page}{'' if acknowledged else '?state=open'}#alert-{alert.pk}",
                obj=alert,
                created_at=alert.fired_at,
                impact=5 if rule.metric in SEVERE_METRICS else 4,
                urgency=3 if acknowledged else 5,
                effort=2,
                owner=alert.use_case.owner,
                use_case=alert.use_case,
                why=why,
            )
        )
    return out
