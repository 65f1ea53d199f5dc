"""Routes of the use-case API, included under /api/v1/ by the root URLconf (genai_po/urls.py)."""

from rest_framework.routers import SimpleRouter

from usecases.api import backlog, views

router = SimpleRouter(trailing_slash=True)
router.register("use-cases", views.UseCaseViewSet, basename="use-case")
router.register("requirements", views.RequirementViewSet, basename="requirement")
router.register("backlog", backlog.BacklogViewSet, basename="backlog")
router.register("backlog-items", backlog.BacklogItemViewSet, basename="backlog-item")

urlpatterns = router.urls
