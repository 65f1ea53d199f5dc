"""Create an organization's API token; the token is printed on the last line, once."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from genai_po.actors import Actor
from genai_po.models import Organization
from genai_po.roles import Scope
from genai_po.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for an organization and print it (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--name", required=True, help="Where the token is used")
        scopes = "; ".join(f"{scope.value}: {scope.label.lower()}" for scope in Scope)
        parser.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated, e.g. read,evals:run. The scopes are {scopes}.",
        )

    def handle(self, *args, org, name, scopes, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        actor = Actor.system(organization=organization, label="cli:create_api_token")
        try:
            token, raw = api_token_create(
                actor=actor, name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()]
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(
            f"Created token {token.name!r} ({token.prefix}…) for {organization.slug} "
            f"with scopes {', '.join(token.scopes)}. It is shown once:"
        )
        self.stdout.write(raw)
