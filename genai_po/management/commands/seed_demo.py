"""Load the demo organizations (idempotent: running it twice changes nothing)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from genai_po.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USERS, DemoContext, seeders


class Command(BaseCommand):
    help = "Create the Acme Support demo organization with one user per role."

    def handle(self, *args, **options):
        ctx = DemoContext()
        with transaction.atomic():
            for step in seeders():
                step(ctx)
        for line in ctx.log:
            self.stdout.write(f"  {line}")
        self.stdout.write(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for role, key, _ in DEMO_USERS:
            self.stdout.write(f"  {role.label:<14} {key}@{DEMO_DOMAIN}")
