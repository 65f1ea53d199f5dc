"""A release's capability card, to share with end users inside the organization: the
page (printable), and the Markdown."""

from __future__ import annotations

from django.http import HttpResponse

from context.markdown import render_markdown
from genai_po.base_views import OrgView
from genai_po.htmx import render_page
from genai_po.roles import Action
from governance import capability
from governance import gate as release_gate
from governance.views.releases import RELEASE


def _card(release) -> str:
    """The card approved with the release (generated when it went to review; a preview
    before), headed by where its approval stands today."""
    body = release.capability_card or capability.card_markdown(release)
    status = capability.approval_line(release, release_gate.evaluate(release))
    return f"{status}\n\n{body}"


class CapabilityCardView(OrgView):
    permission = Action.VIEW
    scoped_objects = RELEASE

    def get(self, request, release):
        return render_page(
            request,
            "governance/capability_card.html",
            {
                "release": release,
                "card_html": render_markdown(_card(release)),
                "preview": not release.capability_card,
            },
        )


class CapabilityCardMarkdownView(OrgView):
    permission = Action.VIEW
    scoped_objects = RELEASE

    def get(self, request, release):
        response = HttpResponse(_card(release), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="capability-card-UC-{release.use_case.number}-{release.key}.md"'
        )
        return response
