"""Background work of the tenancy core. Tasks take ids and call services."""

from celery import shared_task
from django.core.mail import send_mail
from django.core.management import call_command
from django.template.loader import render_to_string

from genai_po.models import Invitation


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def invitation_send_email(invitation_id: int) -> None:
    """Email the invitation link; safe to run twice (the link is the same)."""
    from genai_po.services import invitation_link

    invitation = (
        Invitation.objects.across_orgs()
        .select_related("organization", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or invitation.status != "pending":
        return
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
