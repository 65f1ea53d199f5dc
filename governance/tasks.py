"""Celery tasks of the governance area: thin and idempotent (state is in the tables)."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from genai_po.models import Membership
from genai_po.roles import Role
from governance.services import incidents

logger = logging.getLogger(__name__)


def _recipients(incident) -> list[str]:
    """The incident's owner; with no active owner, the organization's owners and admins."""
    if incident.owner is not None and incident.owner.is_active:
        return [incident.owner.email]
    return sorted(
        Membership.objects.for_org(incident.organization_id)
        .filter(role__in=(Role.OWNER, Role.ADMIN), user__is_active=True)
        .values_list("user__email", flat=True)
    )


@shared_task(name="governance.tasks.incident_deadline_reminders")
def incident_deadline_reminders() -> int:
    """Beat, hourly: remind the owner of each serious incident whose Article 73 deadline
    nears (three days before, or halfway through a shorter clock), once per deadline.
    Returns the number of reminders sent."""
    now = timezone.now()
    sent = 0
    for incident in incidents.deadline_reminders_due(now):
        # Claim first: a second beat, a retry or another worker does not send it again.
        if not incidents.claim_reminder(incident, now):
            continue
        recipients = _recipients(incident)
        if not recipients:
            logger.warning("%s: no one to remind of its reporting deadline", incident.key)
            continue
        link = settings.SITE_URL + reverse(
            "incident_detail", args=[incident.organization.slug, incident.number]
        )
        overdue = incident.deadline_at <= now
        due = f"{timezone.localtime(incident.deadline_at):%a %d %b %H:%M}"
        send_mail(
            subject=f"[{incident.organization.name}] {incident.key}: the Article 73 report "
            + (f"is OVERDUE (was due {due})" if overdue else f"is due {due}"),
            message=render_to_string(
                "governance/email/incident_deadline.txt",
                {"incident": incident, "link": link, "overdue": overdue, "now": now},
            ),
            from_email=None,
            recipient_list=recipients,
        )
        sent += 1
    return sent


@shared_task(name="governance.tasks.review_asked_email", autoretry_for=(OSError,),
             retry_backoff=True, max_retries=5)  # fmt: skip
def review_asked_email(release_id: int, user_id: int, reviewer_role: str) -> None:
    """Tell a reviewer a release in review waits for them (skipped if it moved on since,
    or someone else is asked now)."""
    from genai_po.models import User
    from governance.models import Release, ReleaseReviewer, ReviewerRole

    release = (
        Release.objects.across_orgs()
        .select_related("organization", "use_case", "owner")
        .filter(pk=release_id, status="in_review")
        .first()
    )
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if release is None or user is None:
        return
    still_asked = (
        ReleaseReviewer.objects.for_org(release.organization_id)
        .filter(release=release, reviewer_role=reviewer_role, user=user)
        .exists()
    )
    if not still_asked:
        return
    link = settings.SITE_URL + reverse(
        "release_review", args=[release.organization.slug, release.number]
    )
    role = ReviewerRole(reviewer_role).label.lower()
    send_mail(
        subject=f"[{release.organization.name}] {release.key} waits for your sign-off as {role}",
        message=render_to_string(
            "governance/email/review_asked.txt",
            {"release": release, "user": user, "role": role, "link": link},
        ),
        from_email=None,
        recipient_list=[user.email],
    )
