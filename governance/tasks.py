"""Governance background work."""

import logging

from celery import shared_task

from genai_po.models import Organization
from governance.audit import audit_chain_verify

logger = logging.getLogger(__name__)


@shared_task
def audit_chains_verify() -> int:
    """Verify every organization's audit chain; log an error for each broken one."""
    broken = 0
    for org in Organization.objects.order_by("pk").iterator():
        report = audit_chain_verify(organization=org)
        if not report.ok:
            broken += 1
            logger.error(
                "Audit chain of %s is broken at event #%s: %s",
                org.slug,
                report.broken_seq,
                report.reason,
            )
    return broken
