"""The context area's front page: the loop at a glance, and where each kind of user goes."""

from django.shortcuts import redirect

from context import selectors
from genai_po.base_views import OrgView
from genai_po.htmx import render_page
from genai_po.roles import Action, Role, role_can


class ContextHomeView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        if request.role == Role.SME:
            return redirect("inbox", org.slug)
        open_gaps = list(selectors.gaps_of(org, open_only=True)[:10])
        for gap in open_gaps:
            gap.sla = selectors.sla_state(gap)
        return render_page(
            request,
            "context/index.html",
            {
                "loop": selectors.loop_metrics(org),
                "open_gaps": open_gaps,
                "open_gap_count": selectors.gaps_of(org, open_only=True).count(),
                "freshness": selectors.freshness_counts(org),
                "knowledge_count": selectors.knowledge_of(org).count(),
                "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
                "can_answer": role_can(request.role, Action.ANSWER_SME),
            },
        )
