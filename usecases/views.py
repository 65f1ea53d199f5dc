"""Pages of the usecases area."""

from django.shortcuts import render

from genai_po.base_views import OrgView
from genai_po.roles import Action


class UseCasesHomeView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        return render(request, "usecases/index.html")
