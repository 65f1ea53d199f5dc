"""Celery tasks of the context area: thin, idempotent, taking ids (state is in the tables)."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from context import services
from context.models import INBOX_STATUSES, ContextGap, ContextSource
from genai_po.models import User

logger = logging.getLogger(__name__)
EMAIL_RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name="context.tasks.gap_verify", acks_late=True, reject_on_worker_lost=True)
def gap_verify(gap_id: int, version_id: int | None) -> None:
    """After publication: re-run the gap's cases (once per published version)."""
    services.gap_verify_start(gap_id=gap_id, version_id=version_id)


@shared_task(name="context.tasks.verification_settle", acks_late=True, reject_on_worker_lost=True)
def verification_settle(verification_id: int) -> None:
    """A re-check run ended: verified, or "did not fix it"."""
    services.verification_settle(verification_id=verification_id)


def _gap_url(gap: ContextGap) -> str:
    return settings.SITE_URL + reverse("gap_detail", args=[gap.organization.slug, gap.number])


@shared_task(name="context.tasks.gap_assignment_email", **EMAIL_RETRY)
def gap_assignment_email(gap_id: int, user_id: int) -> None:
    """Tell an SME a question is theirs (skipped if it moved on since)."""
    gap = (
        ContextGap.objects.across_orgs()
        .select_related("organization")
        .filter(pk=gap_id, assigned_to_id=user_id, status__in=INBOX_STATUSES)
        .first()
    )
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if gap is None or user is None:
        return
    context = {"gap": gap, "user": user, "link": _gap_url(gap)}
    send_mail(
        subject=f"[{gap.organization.name}] {gap.key} is yours to answer by "
        f"{timezone.localtime(gap.due_at):%a %d %b %H:%M}",
        message=render_to_string("context/email/assigned.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


@shared_task(name="context.tasks.gaps_sla_check")
def gaps_sla_check() -> int:
    """Beat, hourly: email the SME and their backup once for each question past its due
    time; the number of breaches reported."""
    now = timezone.now()
    breached = list(
        ContextGap.objects.across_orgs()
        .filter(status__in=INBOX_STATUSES, due_at__lt=now, breach_notified_at__isnull=True)
        .select_related("organization", "assigned_to", "backup")
        .order_by("pk")[:500]
    )
    for gap in breached:
        with transaction.atomic():
            # Claim the breach first: a second beat (or a retry) does not email again.
            claimed = (
                ContextGap.objects.for_org(gap.organization_id)
                .filter(pk=gap.pk, breach_notified_at__isnull=True)
                .update(breach_notified_at=now)
            )
        if not claimed:
            continue
        recipients = [u.email for u in (gap.assigned_to, gap.backup) if u and u.is_active]
        if recipients:
            send_mail(
                subject=f"[{gap.organization.name}] {gap.key} is past its SLA",
                message=render_to_string(
                    "context/email/breach.txt", {"gap": gap, "link": _gap_url(gap)}
                ),
                from_email=None,
                recipient_list=recipients,
            )
    return len(breached)


@shared_task(name="context.tasks.sources_freshness")
def sources_freshness() -> int:
    """Beat, daily: recompute freshness; email the owner and steward of each source that
    went stale, once (until it is verified again)."""
    stale_ids = services.sources_refresh_freshness()
    for source in (
        ContextSource.objects.across_orgs()
        .filter(pk__in=stale_ids, stale_notified_at__isnull=True)
        .select_related("organization", "owner", "steward")
    ):
        claimed = (
            ContextSource.objects.for_org(source.organization_id)
            .filter(pk=source.pk, stale_notified_at__isnull=True)
            .update(stale_notified_at=timezone.now())
        )
        recipients = sorted({u.email for u in (source.owner, source.steward) if u and u.is_active})
        if not claimed or not recipients:
            continue
        link = settings.SITE_URL + reverse("source_list", args=[source.organization.slug])
        send_mail(
            subject=f"[{source.organization.name}] Context source {source.name} is stale",
            message=render_to_string("context/email/stale.txt", {"source": source, "link": link}),
            from_email=None,
            recipient_list=recipients,
        )
    logger.info("Context freshness: %s source(s) went stale", len(stale_ids))
    return len(stale_ids)
