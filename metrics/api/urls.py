"""Routes of the metrics API, included under /api/v1/ by the root URLconf."""

from django.urls import path

from metrics.api import views

urlpatterns = [
    path("telemetry/events/", views.TelemetryEventsView.as_view(), name="telemetry-events"),
]
