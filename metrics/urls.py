from django.urls import path

from metrics import views

urlpatterns = [
    path("", views.MetricsHomeView.as_view(), name="metrics_home"),
    path("interactions/", views.InteractionListView.as_view(), name="interaction_list"),
    path(
        "interactions/<int:event>/",
        views.InteractionDetailView.as_view(),
        name="interaction_detail",
    ),
]
