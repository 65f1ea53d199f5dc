"""Celery tasks of the metrics area: thin and idempotent (state is in the tables)."""

import logging

from celery import shared_task

from metrics import rollups

logger = logging.getLogger(__name__)


@shared_task(name="metrics.tasks.rollups_update")
def rollups_update() -> int:
    """Beat, every minute: each organization's rollups brought up to its new events (the
    alert rules are checked after each), and the rules of organizations with no new events
    checked too: a use case gone quiet can breach a rule (active users below a floor).
    Returns the number of organizations rolled up."""
    from metrics import alerts

    organizations = rollups.organizations_with_new_events()
    for organization_id in organizations:
        run = rollups.rollup_organization(organization_id)
        logger.info(
            "Rollups of organization %s: %s hours and %s days recomputed",
            organization_id, run.hours, run.days,
        )  # fmt: skip
    for organization_id in alerts.organizations_with_rules():
        if organization_id not in organizations:
            alerts.evaluate_organization(organization_id)
    return len(organizations)


@shared_task(name="metrics.tasks.score_online")
def score_online(organization_id: int | None = None) -> int:
    """After ingest (and on beat, every minute, for any left over): the sampled production
    interactions scored by their plan's scorers. Returns the number scored."""
    from metrics import online

    organizations = [organization_id] if organization_id else online.organizations_scoring()
    return sum(online.score_organization(org_id) for org_id in organizations)
