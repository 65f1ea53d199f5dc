"""What other areas do when a run finishes: handlers registered in their
`AppConfig.ready()`.

A handler is called inside the transaction that writes the run's final state, with the
finished run. It must be quick and must not call out: schedule work with
`transaction.on_commit` (a Celery task), so a slow or failing follow-up never holds or
undoes the run's end.
"""

from collections.abc import Callable

RunFinishedHandler = Callable[..., None]  # (run=EvalRun) -> None

_HANDLERS: list[tuple[str, RunFinishedHandler]] = []


def register_run_finished_handler(*, key: str, handler: RunFinishedHandler) -> None:
    """Call `handler(run=…)` when any run ends (completed or failed); a key registered
    again replaces it."""
    global _HANDLERS
    _HANDLERS = [(k, h) for k, h in _HANDLERS if k != key] + [(key, handler)]


def run_finished_handlers() -> list[RunFinishedHandler]:
    return [handler for _, handler in _HANDLERS]


def notify_run_finished(run) -> None:
    for handler in run_finished_handlers():
        handler(run=run)
