"""What the context area shows on other areas' pages (registered in ContextConfig.ready)."""

from context import selectors
from genai_po.roles import Action, role_can


def use_case_panel(request, *, use_case) -> dict:
    """The loop's figures for the use case, and its open gaps."""
    return {
        "loop": selectors.loop_metrics(request.organization, use_case=use_case),
        "open_gaps": list(
            selectors.gaps_of(request.organization, use_case=use_case, open_only=True)[:5]
        ),
        "can_edit_gaps": role_can(request.role, Action.EDIT_PRODUCT),
    }


def home_panel(request) -> dict:
    org = request.organization
    return {
        "open_gap_count": selectors.gaps_of(org, open_only=True).count(),
        "my_inbox_count": selectors.inbox_of(org, request.user).count(),
        "freshness": selectors.freshness_counts(org),
    }
