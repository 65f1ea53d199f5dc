from django.urls import path

from metrics import views

urlpatterns = [
    path("", views.MetricsHomeView.as_view(), name="metrics_home"),
]
