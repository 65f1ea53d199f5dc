"""Routes of the context API, included under /api/v1/ by the root URLconf."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from context.api import views

router = SimpleRouter(trailing_slash=True)
router.register("sources", views.SourceViewSet, basename="source")
router.register("gaps", views.GapViewSet, basename="gap")
router.register("knowledge", views.KnowledgeViewSet, basename="knowledge")

urlpatterns = [
    # Before the router: "search" is not a knowledge number.
    path("knowledge/search", views.KnowledgeSearchView.as_view(), name="knowledge-search"),
    *router.urls,
]
