"""Pages of the evals area."""

from django.shortcuts import render

from genai_po.base_views import OrgView
from genai_po.roles import Action


class EvalsHomeView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        return render(request, "evals/index.html")
