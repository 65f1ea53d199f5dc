"""The core's API routes; the root URLconf puts each area's beside them under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from genai_po.api import views

router = SimpleRouter(trailing_slash=True)
router.register("members", views.MemberViewSet, basename="member")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    *router.urls,
]
