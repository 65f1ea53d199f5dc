"""What the use-case area puts at the top of the home page (registered in
`UsecasesConfig.ready()`): the top of the product owner's backlog, and the portfolio's
state for a viewer."""

from collections import Counter

from usecases.backlog import backlog_of
from usecases.models import Stage, UseCase

TOP_OF_BACKLOG = 5


def top_of_backlog(request) -> dict:
    """The first entries of the member's own order (their rank, then the suggestion)."""
    backlog = backlog_of(request.organization, user=request.user, order="mine")
    return {
        "top_entries": backlog.entries[:TOP_OF_BACKLOG],
        "backlog_count": len(backlog.entries),
        "ranked_count": len(backlog.ranked),
    }


def portfolio_state(request) -> dict:
    """Every active use case with its stage, owner and status, and the count per stage."""
    use_cases = list(
        UseCase.objects.for_org(request.organization)
        .filter(archived_at__isnull=True)
        .select_related("owner")
        .order_by("number")
    )
    per_stage = Counter(u.stage for u in use_cases)
    return {
        "portfolio_use_cases": use_cases,
        "portfolio_stages": [
            (value, label, per_stage.get(value, 0)) for value, label in Stage.choices
        ],
    }
