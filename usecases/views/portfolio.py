"""Work in progress: replaced by the real views of this module."""

from genai_po.base_views import OrgView
from genai_po.roles import Action


class PortfolioView(OrgView):
    permission = Action.VIEW


class PortfolioExportView(OrgView):
    permission = Action.VIEW


class WeightsView(OrgView):
    permission = Action.VIEW

