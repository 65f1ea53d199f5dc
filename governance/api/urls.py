"""Routes of the governance API, included under /api/v1/ by the root URLconf."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from governance.api import views

router = SimpleRouter(trailing_slash=True)
router.register("releases", views.ReleaseViewSet, basename="release")
router.register("incidents", views.IncidentViewSet, basename="incident")

urlpatterns = [
    re_path(
        r"^use-cases/(?P<pk>[0-9]+)/hitl-policy/$",
        views.HitlPolicyView.as_view(),
        name="hitl-policy",
    ),
    *router.urls,
]
