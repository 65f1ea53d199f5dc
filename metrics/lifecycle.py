"""What the metrics area shows on a use case's lifecycle view (registered in
`MetricsConfig.ready()`): under Monitor, its dashboard fed by telemetry, with alerts."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from metrics.models import AlertRule, MetricRollup
from usecases.lifecycle import MISSING, PARTIAL, PRODUCED, Artifact

RECENT = timedelta(days=7)


def dashboard_artifact(use_case) -> Artifact:
    org_id = use_case.organization_id
    url = reverse("metrics_use_case", args=[use_case.organization.slug, use_case.number])
    live = (
        MetricRollup.objects.for_org(org_id)
        .filter(use_case=use_case, bucket__gte=timezone.now() - RECENT)
        .exists()
    )
    rules = AlertRule.objects.for_org(org_id).filter(use_case=use_case, enabled=True).count()
    missing = []
    if not live:
        missing.append("Send telemetry from the AI system (none in the last 7 days)")
    if not rules:
        missing.append("Add an alert rule so someone hears when a metric goes wrong")
    parts = ["telemetry in the last 7 days" if live else "no recent telemetry",
             f"{rules} alert rule{'s' * (rules != 1)}"]  # fmt: skip
    state = PRODUCED if not missing else PARTIAL if len(missing) == 1 else MISSING
    return Artifact("Dashboard and alerts", state, "; ".join(parts), url, tuple(missing))
