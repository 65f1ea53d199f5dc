"""Celery tasks of the evals area. State lives in PostgreSQL (see evals.engine)."""

from celery import shared_task

from evals import engine, services


@shared_task(name="evals.tasks.drive_run", acks_late=True, reject_on_worker_lost=True)
def drive_run(run_id: int) -> None:
    """Work a run's chunks; safe to run twice at once (chunks are leased)."""
    engine.drive(run_id)


@shared_task(name="evals.tasks.reap_leases")
def reap_leases() -> dict:
    """Beat: expired leases go back, lost runs get a driver, settled runs are finalized."""
    return engine.reap()


@shared_task(name="evals.tasks.start_scheduled_runs")
def start_scheduled_runs() -> int:
    """Beat: start the runs that plans' cadences say are due."""
    return services.start_due_plans()
