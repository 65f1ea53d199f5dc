"""Delete an organization and all of its data, its audit trail included. Irreversible."""

from django.core.management.base import BaseCommand, CommandError

from genai_po.maintenance import organization_purge
from genai_po.models import Organization


class Command(BaseCommand):
    help = (
        "Delete an organization with everything it owns, its append-only audit trail "
        "included. Irreversible: export what you must keep first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument(
            "--yes", action="store_true", help="Confirm: without it nothing is deleted"
        )

    def handle(self, *args, org, yes, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        if not yes:
            raise CommandError(
                f"This deletes {organization.name} ({org}) and all its data, its audit trail "
                "included. Run again with --yes to do it."
            )
        organization_purge(organization=organization)
        self.stdout.write(f"Deleted organization {org} and all its data.")
