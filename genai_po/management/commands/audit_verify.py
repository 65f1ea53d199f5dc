"""Verify an organization's audit hash chain and report the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from genai_po.models import Organization
from governance.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail of an organization; exit status 1 if a link is broken."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug")

    def handle(self, *args, org, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        report = audit_chain_verify(organization=organization)
        if report.ok:
            self.stdout.write(
                f"OK: {report.events_checked} audit events of {org} verified; the chain is intact."
            )
            return
        raise CommandError(
            f"BROKEN: the audit chain of {org} breaks at event #{report.broken_seq}: "
            f"{report.reason}. {report.events_checked} event(s) read."
        )
