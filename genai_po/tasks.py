"""Background work of the tenancy core. Tasks take ids and call services."""

import logging

from celery import shared_task
from django.core.mail import send_mail
from django.core.management import call_command
from django.template.loader import render_to_string

from genai_po.models import Invitation

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def invitation_send_email(invitation_id: int) -> None:
    """Email the invitation link; safe to run twice (the link is the same)."""
    from genai_po.services import invitation_inviter_can_still_invite, invitation_link

    invitation = (
        Invitation.objects.across_orgs()
        .select_related("organization", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or invitation.status != "pending":
        return
    if not invitation_inviter_can_still_invite(invitation):
        return  # void: the link would only say so
    context = {"invitation": invitation, "link": invitation_link(invitation)}
    send_mail(
        subject=f"You are invited to {invitation.organization.name} on GenAI PO Workspace",
        message=render_to_string("genai_po/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@shared_task
def sessions_clear_expired() -> None:
    call_command("clearsessions")


@shared_task
def audit_chains_verify() -> int:
    """Verify every organization's audit chain (nightly); log each head digest, and an error
    for each broken chain."""
    from genai_po.audit import audit_chain_verify
    from genai_po.models import Organization

    broken = 0
    for org in Organization.objects.order_by("pk").iterator():
        report = audit_chain_verify(organization=org)
        if report.ok:
            logger.info(
                "Audit chain of %s intact: %s event(s), head %s",
                org.slug,
                report.events_checked,
                report.head_digest,
            )
            continue
        broken += 1
        logger.error(
            "Audit chain of %s is broken at event #%s: %s (recorded head %s)",
            org.slug,
            report.broken_seq,
            report.reason,
            report.head_digest,
        )
    return broken
