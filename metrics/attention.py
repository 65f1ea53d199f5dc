"""What the metrics area says needs the product owner now (registered in
`MetricsConfig.ready()`): alerts still breached that nobody has acknowledged. One query.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from genai_po.registry import ATTENTION_LIMIT, Attention
from metrics.backlog import SEVERE_METRICS, _ago
from metrics.models import Alert


def alert_breaches(request) -> list[Attention]:
    org = request.organization
    now = timezone.now()
    alerts = (
        Alert.objects.for_org(org)
        .filter(resolved_at__isnull=True, acknowledged_at__isnull=True, rule__enabled=True)
        .select_related("rule", "use_case")
        .order_by("fired_at", "pk")[: ATTENTION_LIMIT + 1]
    )
    page = reverse("alert_list", args=[org.slug])
    return [
        Attention(
            title=f"{alert.rule.key} {alert.summary}",
            url=f"{page}?state=open#alert-{alert.pk}",
            why=f"fired {_ago(alert.fired_at, now)}, not acknowledged",
            when=alert.fired_at,
            late=alert.rule.metric in SEVERE_METRICS,
            use_case=alert.use_case.key,
        )
        for alert in alerts
    ]


def alerts_url(request) -> str:
    return reverse("alert_list", args=[request.organization.slug]) + "?state=open"
