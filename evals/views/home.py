"""The evals home: every plan with its latest run, the recent runs, and where to start."""

from django.core.paginator import Paginator

from evals import selectors
from evals.models import Target
from genai_po.base_views import OrgView
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from usecases.models import UseCase


class EvalsHomeView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        archived = request.GET.get("archived") == "1"
        plans = Paginator(selectors.plans_of(org, archived=archived), 50).get_page(
            request.GET.get("page")
        )
        return render_page(request, "evals/index.html", {
            "plans": plans,
            "archived": archived,
            "recent_runs": selectors.recent_runs(org),
            "target_count": Target.objects.for_org(org).filter(archived_at__isnull=True).count(),
            "use_cases": UseCase.objects.for_org(org).filter(archived_at__isnull=True)
            .order_by("number").only("number", "title")[:200],
            "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
            "can_run": role_can(request.role, Action.RUN_EVALS),
        })  # fmt: skip
