"""Members: changing roles, removing, leaving; the owner rules; one audit event per write."""

import re

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from genai_po import services
from genai_po.actors import Actor
from genai_po.models import AuditEvent, Membership
from genai_po.roles import Role


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _events(org) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_org(org).order_by("seq"))


def _role_url(membership) -> str:
    return f"/o/{membership.organization.slug}/settings/members/{membership.pk}/role/"


def _remove_url(membership) -> str:
    return f"/o/{membership.organization.slug}/settings/members/{membership.pk}/remove/"


def _roles(org) -> dict[str, str]:
    return dict(Membership.objects.for_org(org).values_list("user__email", "role"))


def test_members_page_in_the_browser_queries_do_not_grow_with_members(
    client, org_a, owner_a, member_factory, django_assert_num_queries
):
    client.force_login(owner_a.user)
    for _ in range(2):
        member_factory(org_a)
    with CaptureQueriesContext(connection) as with_3:
        client.get("/o/org-a/settings/members/")

    for _ in range(27):
        member_factory(org_a)
    with django_assert_num_queries(len(with_3)):
        response = client.get("/o/org-a/settings/members/")

    assert response.context["page"].paginator.count == 30


# --- Changing roles


@pytest.mark.parametrize("actor_role", [Role.OWNER, Role.ADMIN], ids=["owner", "admin"])
def test_owner_or_admin_changes_a_members_role(client, org_a, member_factory, actor_role):
    actor = member_factory(org_a, actor_role, email="boss@example.com")
    if actor_role != Role.OWNER:
        member_factory(org_a, Role.OWNER)
    target = member_factory(org_a, Role.VIEWER, email="dana@example.com")
    client.force_login(actor.user)
    events_before = len(_events(org_a))

    response = client.post(_role_url(target), {"role": "engineer"})

    assert response.status_code == 302
    assert response["Location"] == "/o/org-a/settings/members/"
    assert _messages(response) == ["dana@example.com is now Engineer."]
    target.refresh_from_db()
    assert target.role == "engineer"
    events = _events(org_a)
    assert len(events) == events_before + 1
    event = events[-1]
    assert event.action == "membership.role_change"
    assert event.object_type == "genai_po.membership"
    assert event.object_id == str(target.pk)
    assert event.before == {"role": "viewer"}
    assert event.after == {"role": "engineer", "user": "dana@example.com"}
    assert event.actor_user_id == actor.user_id
    assert event.actor_label == "boss@example.com"
    assert event.actor_role == actor_role.value


def test_new_role_shows_on_the_members_page(client, org_a, owner_a, member_factory):
    target = member_factory(org_a, Role.VIEWER, email="dana@example.com")
    client.force_login(owner_a.user)

    client.post(_role_url(target), {"role": "sme"})
    page = client.get("/o/org-a/settings/members/").content.decode()

    [row] = [r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if "dana@example.com" in r]
    assert "<td>SME</td>" in row


def test_setting_the_same_role_again_records_nothing(client, org_a, owner_a, member_factory):
    target = member_factory(org_a, Role.ENGINEER)
    client.force_login(owner_a.user)
    events_before = len(_events(org_a))

    client.post(_role_url(target), {"role": "engineer"})

    assert len(_events(org_a)) == events_before


def test_unknown_role_is_refused_and_nothing_changes(client, org_a, owner_a, member_factory):
    target = member_factory(org_a, Role.VIEWER)
    client.force_login(owner_a.user)
    events_before = len(_events(org_a))

    response = client.post(_role_url(target), {"role": "superuser"})

    assert _messages(response) == ["Choose a role you are allowed to give."]
    target.refresh_from_db()
    assert target.role == "viewer"
    assert len(_events(org_a)) == events_before


def test_admin_cannot_grant_the_owner_role(client, org_a, owner_a, member_factory):
    admin = member_factory(org_a, Role.ADMIN)
    target = member_factory(org_a, Role.VIEWER)
    client.force_login(admin.user)
    events_before = len(_events(org_a))

    response = client.post(_role_url(target), {"role": "owner"})

    assert response.status_code == 302
    assert _messages(response) == ["Choose a role you are allowed to give."]
    target.refresh_from_db()
    assert target.role == "viewer"
    assert len(_events(org_a)) == events_before


def test_admin_cannot_take_the_owner_role_away(client, org_a, owner_a, member_factory):
    member_factory(org_a, Role.OWNER)  # two owners: only the admin's rights are in question
    admin = member_factory(org_a, Role.ADMIN)
    client.force_login(admin.user)
    events_before = len(_events(org_a))

    response = client.post(_role_url(owner_a), {"role": "viewer"})

    assert response.status_code == 302
    assert _messages(response) == [
        "Your role does not allow this: grant or take away the owner role."
    ]
    owner_a.refresh_from_db()
    assert owner_a.role == "owner"
    assert len(_events(org_a)) == events_before


def test_admin_sees_no_controls_on_an_owners_row(client, org_a, owner_a, member_factory):
    admin = member_factory(org_a, Role.ADMIN)
    viewer = member_factory(org_a, Role.VIEWER)
    client.force_login(admin.user)

    page = client.get("/o/org-a/settings/members/").content.decode()

    assert "Only owners change owners" in page
    assert _role_url(owner_a) not in page
    assert _remove_url(owner_a) not in page
    assert _role_url(viewer) in page
    assert _remove_url(viewer) in page


def test_owner_grants_the_owner_role(client, org_a, owner_a, member_factory):
    target = member_factory(org_a, Role.ADMIN, email="next-owner@example.com")
    client.force_login(owner_a.user)

    response = client.post(_role_url(target), {"role": "owner"})

    assert _messages(response) == ["next-owner@example.com is now Owner."]
    target.refresh_from_db()
    assert target.role == "owner"
    event = _events(org_a)[-1]
    assert (event.before, event.after, event.actor_role) == (
        {"role": "admin"},
        {"role": "owner", "user": "next-owner@example.com"},
        "owner",
    )


def test_owner_takes_the_owner_role_from_another_owner(client, org_a, owner_a, member_factory):
    other = member_factory(org_a, Role.OWNER, email="other-owner@example.com")
    client.force_login(owner_a.user)

    client.post(_role_url(other), {"role": "admin"})

    other.refresh_from_db()
    assert other.role == "admin"


def test_owner_can_step_down_while_another_owner_remains(client, org_a, owner_a, member_factory):
    member_factory(org_a, Role.OWNER)
    client.force_login(owner_a.user)

    client.post(_role_url(owner_a), {"role": "admin"})

    owner_a.refresh_from_db()
    assert owner_a.role == "admin"
    # The role the actor had when acting, not the one they have now.
    assert _events(org_a)[-1].actor_role == "owner"


def test_last_owner_cannot_be_demoted(client, org_a, owner_a, member_factory):
    member_factory(org_a, Role.ADMIN)
    client.force_login(owner_a.user)
    roles_before, events_before = _roles(org_a), len(_events(org_a))

    response = client.post(_role_url(owner_a), {"role": "admin"})

    assert response.status_code == 302
    assert _messages(response) == ["This is the last owner: make another member owner first."]
    assert _roles(org_a) == roles_before
    assert len(_events(org_a)) == events_before


def test_role_of_another_orgs_member_is_404(client, org_a, owner_a, owner_b, member_factory):
    stranger = member_factory(owner_b.organization, Role.VIEWER)
    client.force_login(owner_a.user)

    response = client.post(f"/o/org-a/settings/members/{stranger.pk}/role/", {"role": "admin"})

    assert response.status_code == 404
    stranger.refresh_from_db()
    assert stranger.role == "viewer"


# --- Removing


@pytest.mark.parametrize("actor_role", [Role.OWNER, Role.ADMIN], ids=["owner", "admin"])
def test_owner_or_admin_removes_a_member(client, org_a, owner_a, member_factory, actor_role):
    actor = owner_a if actor_role == Role.OWNER else member_factory(org_a, Role.ADMIN)
    target = member_factory(org_a, Role.REVIEWER, email="gone@example.com")
    client.force_login(actor.user)
    events_before = len(_events(org_a))

    response = client.post(_remove_url(target))

    assert response.status_code == 302
    assert response["Location"] == "/o/org-a/settings/members/"
    assert _messages(response) == ["gone@example.com was removed from the organization."]
    assert "gone@example.com" not in _roles(org_a)
    events = _events(org_a)
    assert len(events) == events_before + 1
    event = events[-1]
    assert event.action == "membership.remove"
    assert event.object_type == "genai_po.membership"
    assert event.object_id == str(target.pk)
    assert event.before == {"user": "gone@example.com", "role": "reviewer"}
    assert event.after is None
    assert event.actor_user_id == actor.user_id
    assert event.actor_role == actor_role.value


def test_removed_member_loses_access_at_once(client, org_a, owner_a, member_factory):
    target = member_factory(org_a, Role.PRODUCT_OWNER)
    client.force_login(owner_a.user)
    client.post(_remove_url(target))

    client.force_login(target.user)

    assert client.get("/o/org-a/").status_code == 404


def test_admin_cannot_remove_an_owner(client, org_a, owner_a, member_factory):
    member_factory(org_a, Role.OWNER)
    admin = member_factory(org_a, Role.ADMIN)
    client.force_login(admin.user)
    roles_before, events_before = _roles(org_a), len(_events(org_a))

    response = client.post(_remove_url(owner_a))

    assert _messages(response) == [
        "Your role does not allow this: grant or take away the owner role."
    ]
    assert _roles(org_a) == roles_before
    assert len(_events(org_a)) == events_before


def test_owner_removes_another_owner(client, org_a, owner_a, member_factory):
    other = member_factory(org_a, Role.OWNER, email="co-owner@example.com")
    client.force_login(owner_a.user)

    client.post(_remove_url(other))

    assert "co-owner@example.com" not in _roles(org_a)


def test_last_owner_cannot_be_removed(client, org_a, owner_a, member_factory):
    member_factory(org_a, Role.ADMIN)
    client.force_login(owner_a.user)
    roles_before, events_before = _roles(org_a), len(_events(org_a))

    response = client.post(_remove_url(owner_a))

    assert _messages(response) == [
        "This is the last owner of the organization: make another member owner first."
    ]
    assert _roles(org_a) == roles_before
    assert len(_events(org_a)) == events_before


# --- Leaving


def test_member_can_leave(client, org_a, owner_a, member_factory):
    me = member_factory(org_a, Role.VIEWER, email="leaver@example.com")
    client.force_login(me.user)
    events_before = len(_events(org_a))

    response = client.post("/o/org-a/leave/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _messages(response) == ["You left Organization A."]
    assert "leaver@example.com" not in _roles(org_a)
    events = _events(org_a)
    assert len(events) == events_before + 1
    event = events[-1]
    assert event.action == "membership.remove"
    assert event.before == {"user": "leaver@example.com", "role": "viewer"}
    assert event.after is None
    assert event.actor_user_id == me.user_id
    assert event.actor_role == "viewer"
    assert client.get("/o/org-a/").status_code == 404


def test_owner_can_leave_while_another_owner_remains(client, org_a, owner_a, member_factory):
    member_factory(org_a, Role.OWNER)
    client.force_login(owner_a.user)

    client.post("/o/org-a/leave/")

    assert owner_a.user.email not in _roles(org_a)


def test_last_owner_cannot_leave(client, org_a, owner_a, member_factory):
    member_factory(org_a, Role.VIEWER)
    client.force_login(owner_a.user)
    roles_before, events_before = _roles(org_a), len(_events(org_a))

    response = client.post("/o/org-a/leave/")

    assert response.status_code == 302
    assert response["Location"] == "/o/org-a/settings/members/"
    assert _messages(response) == [
        "This is the last owner of the organization: make another member owner first."
    ]
    assert _roles(org_a) == roles_before
    assert len(_events(org_a)) == events_before


def test_leaving_one_org_keeps_the_others(client, org_a, org_b, owner_a, member_factory):
    me = member_factory(org_a, Role.ENGINEER)
    Membership.objects.create(organization=org_b, user=me.user, role=Role.SME)
    client.force_login(me.user)

    client.post("/o/org-a/leave/")

    assert client.get("/o/org-a/").status_code == 404
    assert client.get("/o/org-b/context/inbox/").status_code == 200  # an SME there


# --- The owner rules live in the service, whoever calls it


@pytest.mark.parametrize("write", ["demote", "remove"])
def test_not_even_the_system_can_leave_an_org_without_owner(org_a, owner_a, member_factory, write):
    member_factory(org_a, Role.ADMIN)
    actor = Actor.system(organization=org_a, label="maintenance")
    roles_before, events_before = _roles(org_a), len(_events(org_a))

    with pytest.raises(ValidationError, match="last owner"):
        if write == "demote":
            services.membership_role_change(actor=actor, membership=owner_a, role=Role.ADMIN)
        else:
            services.membership_remove(actor=actor, membership=owner_a)

    assert _roles(org_a) == roles_before
    assert len(_events(org_a)) == events_before


def test_member_without_manage_members_cannot_change_roles_in_the_service(
    org_a, owner_a, member_factory
):
    engineer = member_factory(org_a, Role.ENGINEER)
    viewer = member_factory(org_a, Role.VIEWER)
    actor = Actor.for_member(user=engineer.user, organization=org_a, role=Role.ENGINEER)

    with pytest.raises(PermissionDenied, match="invite members, change roles, remove members"):
        services.membership_role_change(actor=actor, membership=viewer, role=Role.ADMIN)
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=actor, membership=viewer)

    viewer.refresh_from_db()
    assert viewer.role == "viewer"
