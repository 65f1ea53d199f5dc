"""Routes of the evals API, included under /api/v1/ by the root URLconf (genai_po/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from evals.api import views

router = SimpleRouter(trailing_slash=True)
router.register("targets", views.TargetViewSet, basename="target")
router.register("eval-plans", views.EvalPlanViewSet, basename="eval-plan")
router.register("eval-runs", views.EvalRunViewSet, basename="eval-run")

urlpatterns = [
    *router.urls,
    # No trailing slash: the report is a file (CI clients fetch exactly this path). The id
    # is checked by the lookup, which answers 404 for anything but a run of this org.
    path(
        "eval-runs/<pk>/junit.xml",
        views.EvalRunViewSet.as_view({"get": "junit"}),
        name="eval-run-junit",
    ),
]
