"""Pages of the context area."""

from django.shortcuts import render

from genai_po.base_views import OrgView
from genai_po.roles import Action


class ContextHomeView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        return render(request, "context/index.html")
