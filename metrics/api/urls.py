"""Routes of the metrics API, included under /api/v1/ by the root URLconf."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from metrics.api import views

router = SimpleRouter()
router.register("metrics/alert-rules", views.AlertRuleViewSet, basename="alert-rule")
router.register("metrics/alerts", views.AlertViewSet, basename="alert")
router.register("metrics/readings", views.ReadingViewSet, basename="metric-reading")

urlpatterns = [
    path("telemetry/events/", views.TelemetryEventsView.as_view(), name="telemetry-events"),
    path("metrics/dashboard/", views.DashboardView.as_view(), name="metrics-dashboard"),
    path("metrics/assumptions/", views.AssumptionsView.as_view(), name="metrics-assumptions"),
    path(
        "metrics/online-scoring/", views.OnlineScoringView.as_view(), name="metrics-online-scoring"
    ),
    *router.urls,
]
