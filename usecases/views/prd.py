"""Work in progress: replaced by the real views of this module."""

from genai_po.base_views import OrgView
from genai_po.roles import Action


class PrdTemplateView(OrgView):
    permission = Action.VIEW


class PrdView(OrgView):
    permission = Action.VIEW


class PrdVersionsView(OrgView):
    permission = Action.VIEW


class PrdMarkdownView(OrgView):
    permission = Action.VIEW


class PrdPrintView(OrgView):
    permission = Action.VIEW


class RequirementAddView(OrgView):
    permission = Action.VIEW


class RequirementReorderView(OrgView):
    permission = Action.VIEW


class RequirementEditView(OrgView):
    permission = Action.VIEW


class RequirementDeleteView(OrgView):
    permission = Action.VIEW


class VerificationAddView(OrgView):
    permission = Action.VIEW


class VerificationDeleteView(OrgView):
    permission = Action.VIEW


class TraceabilityView(OrgView):
    permission = Action.VIEW

