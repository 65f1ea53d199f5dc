from django.apps import AppConfig


def _home_panel(request, **kwargs) -> dict:
    from metrics.models import Alert

    open_alerts = (
        Alert.objects.for_org(request.organization).filter(acknowledged_at__isnull=True).count()
    )
    return {"metrics_panel": {"open_alerts": open_alerts}}


def _dashboards_live(use_case, readiness):
    """Monitor gate: telemetry arrived in the last 7 days (the dashboard shows real use),
    and an enabled alert rule tells someone when a metric goes wrong."""
    from datetime import timedelta

    from django.utils import timezone

    from metrics.models import AlertRule, Granularity, MetricRollup
    from usecases.gates import MET, MISSING, Check

    org_id = use_case.organization_id
    since = timezone.now() - timedelta(days=7)
    live = (
        MetricRollup.objects.for_org(org_id)
        .filter(use_case=use_case, granularity=Granularity.DAY, bucket__gte=since)
        .exists()
    )
    rules = AlertRule.objects.for_org(org_id).filter(use_case=use_case, enabled=True).count()
    missing = []
    if not live:
        missing.append("no telemetry in the last 7 days (send events or OpenTelemetry traces)")
    if not rules:
        missing.append("no alert rule (for example on the error or escalation rate)")
    label = "Dashboards and an escalation process are live"
    if missing:
        return Check(label, MISSING, "Missing: " + "; ".join(missing) + ".")
    return Check(label, MET, f"Telemetry this week; {rules} alert rule{'s' if rules > 1 else ''}.")


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self) -> None:
        from genai_po.registry import (
            HOME_FOCUS,
            HOME_PANELS,
            AttentionSource,
            Panel,
            register_attention_source,
            register_demo_seeder,
            register_periodic_task,
        )
        from genai_po.roles import PERMISSIONS, Action, Role
        from metrics import attention, backlog, home, lifecycle
        from usecases.backlog import BacklogSource, register_backlog_source
        from usecases.gates import register_gate_check
        from usecases.lifecycle import register_stage_artifact
        from usecases.models import Stage

        HOME_PANELS.register(Panel("metrics", "metrics/panels/home.html", _home_panel))
        HOME_FOCUS.register(
            Panel("metrics.use", "metrics/panels/home_use.html", home.portfolio_use,
                  roles=frozenset({Role.VIEWER}))
        )  # fmt: skip
        register_attention_source(
            AttentionSource(
                "metrics.alerts",
                "Alert breaches",
                PERMISSIONS[Action.EDIT_PRODUCT],
                attention.alert_breaches,
                attention.alerts_url,
                position=40,
                hint="A metric is past its threshold: acknowledge it, or open an incident.",
            )
        )
        register_stage_artifact(
            stage=Stage.MONITOR, key="metrics.dashboard", describe=lifecycle.dashboard_artifact
        )
        register_periodic_task("metrics-rollups", "metrics.tasks.rollups_update", 60)
        register_periodic_task("metrics-online-scoring", "metrics.tasks.score_online", 60)
        register_demo_seeder("metrics.demo.seed_metrics")
        register_gate_check(
            stage=Stage.MONITOR, key="metrics.dashboards_live", evaluate=_dashboards_live
        )
        register_backlog_source(
            BacklogSource(
                kind="alert",
                label="Alert breaches",
                entries=backlog.alert_entries,
                description="Alerts still breached, and those of rules that keep them on the "
                "backlog until acknowledged.",
            )
        )
