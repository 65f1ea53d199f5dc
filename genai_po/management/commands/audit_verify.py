"""Verify an organization's audit chain, print its head digest, and check an exported one."""

from django.core.management.base import BaseCommand, CommandError

from genai_po.audit import audit_chain_verify, audit_head_check
from genai_po.models import Organization


class Command(BaseCommand):
    help = (
        "Verify the audit trail of an organization (HMAC-SHA-256 chain) and print its head "
        "digest <seq>:<hash>; keep that line somewhere the database's writers cannot reach and "
        "pass it back with --expect to prove nothing up to it was rewritten. Exit status 1 if "
        "a link is broken or the expected head no longer holds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument(
            "--expect",
            metavar="SEQ:HASH",
            help="A head digest printed by an earlier audit_verify: the event it names must "
            "still carry that digest",
        )

    def handle(self, *args, org, expect=None, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        report = audit_chain_verify(organization=organization)
        if not report.ok:
            raise CommandError(
                f"BROKEN: the audit chain of {org} breaks at event #{report.broken_seq}: "
                f"{report.reason}. {report.events_checked} event(s) read."
            )
        if expect:
            problem = audit_head_check(organization=organization, digest=expect)
            if problem and problem.startswith("the expected head must be"):
                raise CommandError(f"--expect {expect.strip()!r} is not a head: {problem}.")
            if problem:
                raise CommandError(f"BROKEN: the audit chain of {org} does not hold: {problem}.")
        checked = f"; the exported head {expect.strip()} still holds" if expect else ""
        self.stdout.write(
            f"OK: {report.events_checked} audit events of {org} verified; the chain is "
            f"intact{checked}."
        )
        self.stdout.write(f"head: {report.head_digest}")
