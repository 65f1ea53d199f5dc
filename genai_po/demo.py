"""Demo data for `seed_demo`: the organizations, then each area's step, in order.

Areas register their step in their AppConfig (`genai_po.registry.register_demo_seeder`):
a function taking the DemoContext, safe to run again on an already-seeded database.
"""

from dataclasses import dataclass, field

from genai_po.actors import Actor
from genai_po.models import Membership, Organization, User
from genai_po.registry import demo_seeders
from genai_po.roles import Role
from genai_po.services import membership_add, organization_create

DEMO_PASSWORD = "acme-demo-pass"  # noqa: S105 - local demo only, documented in README.md
DEMO_ORG_SLUG = "acme-support"
DEMO_DOMAIN = "acme-support.example"

DEMO_USERS = [
    (Role.OWNER, "owner", "Olivia Owner"),
    (Role.ADMIN, "admin", "Adam Admin"),
    (Role.PRODUCT_OWNER, "po", "Priya Product"),
    (Role.ENGINEER, "engineer", "Erik Engineer"),
    (Role.SME, "sme", "Sara Expert"),
    (Role.REVIEWER, "reviewer", "Rita Reviewer"),
    (Role.VIEWER, "viewer", "Victor Viewer"),
]


@dataclass
class DemoContext:
    organization: Organization | None = None
    users: dict[str, User] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def _demo_user(key: str, full_name: str) -> User:
    email = f"{key}@{DEMO_DOMAIN}"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, full_name=full_name)
    return user


def seed_organizations(ctx: DemoContext) -> None:
    """Acme Support with one member per role, and a second org to switch to."""
    users = {role: _demo_user(key, name) for role, key, name in DEMO_USERS}
    ctx.users = {str(role): user for role, user in users.items()}
    owner = users[Role.OWNER]
    org = Organization.objects.filter(slug=DEMO_ORG_SLUG).first()
    if org is None:
        org = organization_create(user=owner, name="Acme Support", slug=DEMO_ORG_SLUG)
        ctx.log.append("created organization Acme Support")
    actor = Actor.system(organization=org, label="seed_demo")
    existing = set(Membership.objects.for_org(org).values_list("user_id", flat=True))
    for role, user in users.items():
        if user.pk not in existing:
            membership_add(actor=actor, user=user, role=role)
    ctx.organization = org

    second = Organization.objects.filter(slug="acme-internal-tools").first()
    if second is None:
        second = organization_create(
            user=users[Role.ADMIN], name="Acme Internal Tools", slug="acme-internal-tools"
        )
        ctx.log.append("created organization Acme Internal Tools")
    if not Membership.objects.for_org(second).filter(user=owner).exists():
        membership_add(
            actor=Actor.system(organization=second, label="seed_demo"),
            user=owner,
            role=Role.PRODUCT_OWNER,
        )


def seeders() -> list:
    """Every step of `seed_demo`, in order: the organizations first."""
    return [seed_organizations, *demo_seeders()]
