from django.apps import AppConfig


def _no_context(request) -> dict:
    return {}


def _not_built_yet(use_case, readiness):
    from usecases.gates import UNAVAILABLE, Check

    return Check(
        "Dashboards and an escalation process are live",
        UNAVAILABLE,
        "Metrics dashboards arrive with the metrics area, not built yet.",
    )


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self) -> None:
        from genai_po.registry import HOME_PANELS, Panel, register_periodic_task
        from usecases.gates import register_gate_check
        from usecases.models import Stage

        HOME_PANELS.register(Panel("metrics", "metrics/panels/home.html", _no_context))
        register_periodic_task("metrics-rollups", "metrics.tasks.rollups_update", 60)
        # Until this area is built, its gate check says so (and counts as not met).
        register_gate_check(
            stage=Stage.MONITOR, key="metrics.dashboards_live", evaluate=_not_built_yet
        )
