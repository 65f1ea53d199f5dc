"""OTLP/HTTP's path, mounted at /otel/v1/ by the root URLconf (the exporters' default)."""

from django.urls import path

from metrics.api import views

urlpatterns = [
    path("traces", views.OtlpTracesView.as_view(), name="otlp-traces"),
]
