"""What the evals area shows on other areas' pages (registered in EvalsConfig.ready)."""

from evals import selectors
from genai_po.roles import Action, role_can


def use_case_panel(request, *, use_case) -> dict:
    """The use case's eval plans with their latest run."""
    return {
        "eval_plans": selectors.plans_of(request.organization, use_case=use_case),
        "can_edit_plans": role_can(request.role, Action.EDIT_PRODUCT),
    }


def home_panel(request) -> dict:
    return {"recent_runs": selectors.recent_runs(request.organization, limit=3)}
