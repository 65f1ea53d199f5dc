"""Creating, renaming and switching organizations."""

import re

import pytest
from django.core.exceptions import ValidationError

from genai_po.models import AuditEvent, Membership, Organization
from genai_po.roles import Role
from genai_po.services import organization_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_creating_an_organization_makes_the_creator_its_owner(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post("/orgs/new/", {"name": "Globex Claims"})

    org = Organization.objects.get(name="Globex Claims")
    assert response.status_code == 302 and response["Location"] == f"/o/{org.slug}/"
    assert org.slug == "globex-claims"
    assert Membership.objects.for_org(org).get().role == Role.OWNER
    assert list(
        AuditEvent.objects.for_org(org).order_by("seq").values_list("action", "actor_role")
    ) == [("organization.create", "owner"), ("membership.create", "owner")]


def test_slugs_stay_unique_and_avoid_reserved_words():
    user = UserFactory()
    first = organization_create(user=user, name="Acme")
    second = organization_create(user=user, name="Acme")
    reserved = organization_create(user=user, name="API")
    assert (first.slug, second.slug, reserved.slug) == ("acme", "acme-2", "api-org")


def test_a_taken_or_malformed_slug_is_refused_and_nothing_is_created():
    user = UserFactory()
    organization_create(user=user, name="Acme", slug="acme")
    count = Organization.objects.count()
    with pytest.raises(ValidationError, match="This address is taken"):
        organization_create(user=user, name="Other", slug="acme")
    with pytest.raises(ValidationError, match="lower-case"):
        organization_create(user=user, name="Other", slug="Not A Slug")
    assert Organization.objects.count() == count


def test_an_empty_name_gets_a_clear_error(client):
    client.force_login(UserFactory())
    count = Organization.objects.count()
    response = client.post("/orgs/new/", {"name": "   "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert Organization.objects.count() == count


def test_admins_rename_and_viewers_cannot(client, org_a, member_factory):
    admin = member_factory(org_a, Role.ADMIN)
    viewer = member_factory(org_a, Role.VIEWER)

    client.force_login(viewer.user)
    assert client.post(f"/o/{org_a.slug}/settings/", {"name": "Hijacked"}).status_code == 403

    client.force_login(admin.user)
    response = client.post(f"/o/{org_a.slug}/settings/", {"name": "Renamed A"})
    assert response.status_code == 302
    org_a.refresh_from_db()
    assert org_a.name == "Renamed A"
    event = AuditEvent.objects.for_org(org_a).get(action="organization.update")
    assert (event.before, event.after, event.actor_role) == (
        {"name": "Organization A"},
        {"name": "Renamed A"},
        "admin",
    )


def test_home_goes_to_the_last_organization_visited(client, org_a, org_b, member_factory):
    membership = member_factory(org_a, Role.VIEWER)
    Membership.objects.create(organization=org_b, user=membership.user, role=Role.ENGINEER)
    client.force_login(membership.user)

    client.get(f"/o/{org_b.slug}/")
    assert client.get("/")["Location"] == f"/o/{org_b.slug}/"
    client.get(f"/o/{org_a.slug}/")
    assert client.get("/")["Location"] == f"/o/{org_a.slug}/"


def test_a_user_without_organizations_is_sent_to_create_one(client):
    client.force_login(UserFactory())
    assert client.get("/")["Location"] == "/orgs/new/"


def test_the_switcher_lists_only_the_users_own_organizations(client, org_a, org_b, member_factory):
    membership = member_factory(org_a, Role.VIEWER)
    member_factory(org_b, Role.OWNER)
    client.force_login(membership.user)
    html = client.get(f"/o/{org_a.slug}/").content.decode()
    assert "Organization A" in html
    assert "Organization B" not in html


@pytest.mark.parametrize(
    ("path", "area"),
    [
        ("/o/org-a/", "Overview"),
        ("/o/org-a/use-cases/portfolio/", "Use cases"),
        ("/o/org-a/use-cases/weights/", "Use cases"),
        ("/o/org-a/governance/audit/", "Governance"),
        ("/o/org-a/settings/members/", "Settings"),
    ],
)
def test_the_navigation_marks_the_current_area(client, org_a, member_factory, path, area):
    client.force_login(member_factory(org_a, Role.OWNER).user)
    html = client.get(path).content.decode()
    current = re.findall(r'aria-current="page">([^<]+)</a>', html)
    assert current[0] == area
