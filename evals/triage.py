"""What happens when a failed case is triaged: handlers other areas register in their
`AppConfig.ready()`, per category.

A handler runs inside the triage's transaction, after the triage row is saved: it may
write (a context gap, say) and return what it made (a FollowUp, or just its label), stored
on the triage as `follow_up_ref` and `follow_up_url` and linked from the case's page. If
it raises, nothing of the triage is kept: one action, one transaction.
"""

from collections.abc import Callable
from dataclasses import dataclass

from evals.models import TriageCategory


@dataclass(frozen=True)
class FollowUp:
    label: str  # "GAP-12"
    url: str = ""  # its page


# (triage, actor) -> a FollowUp, a label, or None
TriageHandler = Callable[..., "FollowUp | str | None"]

_HANDLERS: dict[str, list[tuple[str, TriageHandler]]] = {c: [] for c in TriageCategory.values}


def register_triage_handler(*, category: str, key: str, handler: TriageHandler) -> None:
    """Call `handler(triage=…, actor=…)` when a case is triaged as `category`; registering a
    key again replaces it."""
    if category not in _HANDLERS:
        raise ValueError(f"Unknown triage category {category!r}.")
    _HANDLERS[category] = [(k, h) for k, h in _HANDLERS[category] if k != key] + [(key, handler)]


def triage_handlers(category: str) -> list[TriageHandler]:
    return [handler for _, handler in _HANDLERS.get(category, [])]


def unregister_triage_handler(*, category: str, key: str) -> None:
    _HANDLERS[category] = [(k, h) for k, h in _HANDLERS[category] if k != key]
