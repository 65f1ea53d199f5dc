"""Invitations: sent by email after commit, accepted once, by the invited address only."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from genai_po import services
from genai_po.actors import Actor
from genai_po.models import AuditEvent, Invitation, Membership
from genai_po.roles import Role
from genai_po.tasks import invitation_send_email
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def send_invitation(client, owner_a, django_capture_on_commit_callbacks, mailoutbox):
    """Invite through the members page as A's owner; return the path of the emailed link."""

    def send(email, role="viewer"):
        client.force_login(owner_a.user)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/o/org-a/settings/members/", {"email": email, "role": role})
        assert response.status_code == 302
        link = re.search(r"^http\S+/invitations/\S+/$", mailoutbox[-1].body, re.M).group(0)
        assert link.startswith(settings.SITE_URL + "/invitations/")
        client.logout()
        return link.removeprefix(settings.SITE_URL)

    return send


def _membership(org, email):
    return Membership.objects.for_org(org).filter(user__email=email).first()


def _error_of(response) -> str:
    return re.search(r'<p role="alert"[^>]*>(.*?)</p>', response.content.decode(), re.S).group(1)


# --- Sending


def test_invitation_is_created_audited_and_emailed_after_commit(
    client, org_a, owner_a, django_capture_on_commit_callbacks, mailoutbox
):
    client.force_login(owner_a.user)
    events_before = AuditEvent.objects.for_org(org_a).count()

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/o/org-a/settings/members/", {"email": " New.Person@Example.com ", "role": "engineer"}
        )
        # Nothing leaves before the transaction commits.
        assert mailoutbox == []
    assert len(callbacks) == 1
    for callback in callbacks:
        callback()

    assert response.status_code == 302
    assert response["Location"] == "/o/org-a/settings/members/"
    [invitation] = Invitation.objects.for_org(org_a)
    assert invitation.email == "new.person@example.com"
    assert invitation.role == "engineer"
    assert invitation.invited_by == owner_a.user
    assert invitation.status == "pending"
    ttl = invitation.expires_at - invitation.created_at
    assert abs(ttl - timedelta(days=7)) < timedelta(seconds=5)

    [mail] = mailoutbox
    assert mail.to == ["new.person@example.com"]
    assert mail.subject == "You are invited to Organization A on GenAI PO Workspace"
    assert "as Engineer" in mail.body
    assert f"{settings.SITE_URL}/invitations/" in mail.body

    events = list(AuditEvent.objects.for_org(org_a).order_by("seq"))
    assert len(events) == events_before + 1
    assert events[-1].action == "invitation.create"
    assert events[-1].object_id == str(invitation.pk)
    assert events[-1].after["email"] == "new.person@example.com"
    assert events[-1].after["role"] == "engineer"
    assert events[-1].actor_role == "owner"

    page = client.get("/o/org-a/settings/members/").content.decode()
    assert "new.person@example.com" in page  # listed under pending invitations


def test_the_link_is_never_stored(send_invitation, org_a):
    path = send_invitation("someone@example.com")
    signed = path.split("/")[2]

    row = Invitation.objects.for_org(org_a).values().get()
    assert all(signed not in str(value) for value in row.values())


# --- Accepting


def test_invited_person_accepts_the_link_once(client, org_a, send_invitation):
    path = send_invitation("newbie@example.com", role="sme")
    newbie = UserFactory(email="newbie@example.com")
    client.force_login(newbie)

    page = client.get(path)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Join Organization A" in body
    assert "<strong>SME</strong>" in body
    assert "Accept and join" in body

    response = client.post(path)

    assert response.status_code == 302
    assert response["Location"] == "/o/org-a/"
    membership = _membership(org_a, "newbie@example.com")
    assert membership.role == "sme"
    invitation = Invitation.objects.for_org(org_a).get()
    assert invitation.status == "accepted"
    assert invitation.accepted_by == newbie
    actions = list(
        AuditEvent.objects.for_org(org_a).order_by("-seq").values_list("action", "actor_role")[:2]
    )
    assert actions == [("membership.create", "sme"), ("invitation.accept", "sme")]
    # An SME lands in their inbox (the context area registered it as the SME's home).
    assert client.get("/o/org-a/").url == "/o/org-a/context/inbox/"
    assert client.get("/o/org-a/context/inbox/").status_code == 200

    # Used once: the same link again is refused, and nothing is added.
    again = client.post(path)
    assert again.status_code == 400
    assert _error_of(again) == "This invitation has already been used."
    assert Membership.objects.for_org(org_a).filter(user=newbie).count() == 1
    assert "This invitation is accepted." in client.get(path).content.decode()


def test_used_link_is_refused_even_after_the_member_left(client, org_a, send_invitation):
    path = send_invitation("newbie@example.com")
    newbie = UserFactory(email="newbie@example.com")
    client.force_login(newbie)
    client.post(path)
    client.post("/o/org-a/leave/")

    response = client.post(path)

    assert response.status_code == 400
    assert _error_of(response) == "This invitation has already been used."
    assert _membership(org_a, "newbie@example.com") is None


def test_expired_link_is_refused(client, org_a, send_invitation):
    path = send_invitation("late@example.com")
    Invitation.objects.for_org(org_a).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(UserFactory(email="late@example.com"))

    response = client.post(path)

    assert response.status_code == 400
    assert _error_of(response) == "This invitation has expired. Ask for a new one."
    assert _membership(org_a, "late@example.com") is None
    assert Invitation.objects.for_org(org_a).get().accepted_at is None


def test_revoked_link_is_refused(client, org_a, owner_a, send_invitation):
    path = send_invitation("unwanted@example.com")
    invitation = Invitation.objects.for_org(org_a).get()
    client.force_login(owner_a.user)
    revoke = client.post(f"/o/org-a/settings/invitations/{invitation.pk}/revoke/")
    assert revoke.status_code == 302
    client.force_login(UserFactory(email="unwanted@example.com"))

    response = client.post(path)

    assert response.status_code == 404  # like any link that cannot join: no join button
    assert _error_of(response) == "This invitation was revoked. Ask for a new one."
    assert _membership(org_a, "unwanted@example.com") is None
    event = AuditEvent.objects.for_org(org_a).filter(action="invitation.revoke").get()
    assert (event.before, event.after) == ({"status": "pending"}, {"status": "revoked"})


def test_link_is_refused_for_another_signed_in_address(client, org_a, send_invitation):
    path = send_invitation("right@example.com")
    client.force_login(UserFactory(email="wrong@example.com"))

    response = client.post(path)

    assert response.status_code == 400
    assert _error_of(response) == (
        "This invitation is for right@example.com. Sign in with that address to accept it."
    )
    assert _membership(org_a, "wrong@example.com") is None
    assert Invitation.objects.for_org(org_a).get().status == "pending"

    # The right person can still use it.
    client.force_login(UserFactory(email="right@example.com"))
    assert client.post(path).status_code == 302
    assert _membership(org_a, "right@example.com").role == "viewer"


def test_link_is_refused_to_someone_already_a_member(client, org_a, send_invitation):
    path = send_invitation("twice@example.com", role="admin")
    user = UserFactory(email="twice@example.com")
    MembershipFactory(organization=org_a, user=user, role=Role.VIEWER)
    client.force_login(user)

    response = client.post(path)

    assert response.status_code == 400
    assert _error_of(response) == "You are already a member of Organization A."
    assert _membership(org_a, "twice@example.com").role == "viewer"
    assert Invitation.objects.for_org(org_a).get().status == "pending"


def _tamper(path: str) -> str:
    signed = path.split("/")[2]
    last = signed[-1]
    return path.replace(signed, signed[:-1] + ("A" if last != "A" else "B"))


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "anonymous"])
def test_tampered_link_is_a_404_page(client, org_a, send_invitation, signed_in):
    path = send_invitation("target@example.com")
    user = UserFactory(email="target@example.com")
    if signed_in:
        client.force_login(user)

    for method in (client.get, client.post):
        response = method(_tamper(path))
        assert response.status_code == 404
        assert _error_of(response) == "This invitation link is not valid."
        assert "Organization A" not in response.content.decode()
    assert _membership(org_a, "target@example.com") is None


def test_validly_signed_link_with_a_wrong_nonce_is_a_404_page(client, org_a, send_invitation):
    send_invitation("target@example.com")
    invitation = Invitation.objects.for_org(org_a).get()
    forged = signing.dumps({"id": invitation.pk, "nonce": "guessed"}, salt="genai_po.invitation")
    client.force_login(UserFactory(email="target@example.com"))

    response = client.post(f"/invitations/{forged}/")

    assert response.status_code == 404
    assert _error_of(response) == "This invitation link is not valid."
    assert _membership(org_a, "target@example.com") is None


def test_anonymous_visitor_is_asked_to_sign_in_and_comes_back(client, org_a, send_invitation):
    path = send_invitation("guest@example.com")

    response = client.get(path)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Sign in or create an account with guest@example.com to accept." in body
    assert f'href="/accounts/login/?next={path}"' in body
    assert f'href="/accounts/signup/?next={path}"' in body
    assert client.post(path).status_code == 200  # shows the page again, joins nobody
    assert _membership(org_a, "guest@example.com") is None


def test_owner_can_invite_an_owner(client, org_a, send_invitation):
    path = send_invitation("co-owner@example.com", role="owner")
    client.force_login(UserFactory(email="co-owner@example.com"))

    client.post(path)

    assert _membership(org_a, "co-owner@example.com").role == "owner"


# --- Refused invitations create nothing


def _nothing_created(org, events_before, mailoutbox, invitations_before=0):
    assert Invitation.objects.for_org(org).count() == invitations_before
    assert AuditEvent.objects.for_org(org).count() == events_before
    assert len(mailoutbox) == invitations_before


def test_inviting_an_existing_member_is_a_form_error(
    client, org_a, owner_a, member_factory, django_capture_on_commit_callbacks, mailoutbox
):
    member_factory(org_a, Role.VIEWER, email="already@example.com")
    client.force_login(owner_a.user)
    events_before = AuditEvent.objects.for_org(org_a).count()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/o/org-a/settings/members/", {"email": "Already@Example.com", "role": "admin"}
        )

    assert response.status_code == 400
    assert response.context["invite_form"].errors == {
        "email": ["already@example.com is already a member."]
    }
    assert "already@example.com is already a member." in response.content.decode()
    _nothing_created(org_a, events_before, mailoutbox)


def test_second_pending_invitation_is_a_form_error(
    client, org_a, owner_a, django_capture_on_commit_callbacks, mailoutbox
):
    client.force_login(owner_a.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/o/org-a/settings/members/", {"email": "dup@example.com", "role": "viewer"})
    events_before = AuditEvent.objects.for_org(org_a).count()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/o/org-a/settings/members/", {"email": "DUP@example.com", "role": "sme"}
        )

    assert response.status_code == 400
    assert response.context["invite_form"].errors == {
        "email": ["dup@example.com already has a pending invitation: revoke it to send a new one."]
    }
    _nothing_created(org_a, events_before, mailoutbox, invitations_before=1)


def test_a_new_invitation_can_follow_a_revoked_one(
    client, org_a, owner_a, django_capture_on_commit_callbacks, mailoutbox
):
    client.force_login(owner_a.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/o/org-a/settings/members/", {"email": "again@example.com", "role": "viewer"})
    first = Invitation.objects.for_org(org_a).get()
    client.post(f"/o/org-a/settings/invitations/{first.pk}/revoke/")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/o/org-a/settings/members/", {"email": "again@example.com", "role": "viewer"}
        )

    assert response.status_code == 302
    assert Invitation.objects.for_org(org_a).count() == 2
    assert len(mailoutbox) == 2


def test_admin_cannot_invite_an_owner(
    client, org_a, owner_a, member_factory, django_capture_on_commit_callbacks, mailoutbox
):
    admin = member_factory(org_a, Role.ADMIN)
    client.force_login(admin.user)
    events_before = AuditEvent.objects.for_org(org_a).count()

    page = client.get("/o/org-a/settings/members/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/o/org-a/settings/members/", {"email": "boss@example.com", "role": "owner"}
        )

    assert '<option value="owner"' not in page.content.decode()
    assert response.status_code == 400
    assert response.context["invite_form"].errors == {
        "role": ["Select a valid choice. owner is not one of the available choices."]
    }
    _nothing_created(org_a, events_before, mailoutbox)


def test_admin_cannot_invite_an_owner_through_the_service_either(org_a, member_factory):
    admin = member_factory(org_a, Role.ADMIN)
    actor = Actor.for_member(user=admin.user, organization=org_a, role=Role.ADMIN)

    with pytest.raises(PermissionDenied, match="grant or take away the owner role"):
        services.invitation_create(actor=actor, email="boss@example.com", role=Role.OWNER)

    assert Invitation.objects.for_org(org_a).count() == 0


def test_invalid_email_is_a_form_error(client, org_a, owner_a, mailoutbox):
    client.force_login(owner_a.user)

    response = client.post("/o/org-a/settings/members/", {"email": "not-an-email", "role": "sme"})

    assert response.status_code == 400
    assert response.context["invite_form"].errors == {"email": ["Enter a valid email address."]}
    assert Invitation.objects.for_org(org_a).count() == 0


def test_a_new_invitation_can_follow_an_expired_one(client, org_a, owner_a, send_invitation):
    old_path = send_invitation("slow@example.com")
    Invitation.objects.for_org(org_a).update(expires_at=timezone.now() - timedelta(seconds=1))

    new_path = send_invitation("slow@example.com", role="engineer")
    client.force_login(UserFactory(email="slow@example.com"))

    assert client.post(old_path).status_code == 400
    assert client.post(new_path).status_code == 302
    assert _membership(org_a, "slow@example.com").role == "engineer"


def test_pending_invitations_are_shown_to_managers_only(
    client, org_a, owner_a, member_factory, send_invitation
):
    send_invitation("secret-hire@example.com")
    viewer = member_factory(org_a, Role.VIEWER)

    client.force_login(owner_a.user)
    assert "secret-hire@example.com" in client.get("/o/org-a/settings/members/").content.decode()
    client.force_login(viewer.user)
    page = client.get("/o/org-a/settings/members/").content.decode()
    assert "secret-hire@example.com" not in page
    assert "Invite a member" not in page


@pytest.mark.parametrize("change", ["demoted", "removed", "deleted"])
def test_an_invitation_is_void_once_its_inviter_may_no_longer_invite(
    client, org_a, member_factory, change, mailoutbox, django_capture_on_commit_callbacks
):
    owner = member_factory(org_a, "owner")
    admin = member_factory(org_a, "admin")
    actor = Actor.for_member(user=admin.user, organization=org_a, role="admin")
    with django_capture_on_commit_callbacks(execute=False):
        invitation = services.invitation_create(actor=actor, email="new@example.com",
                                                role="engineer")  # fmt: skip
    link = services.invitation_link(invitation)
    owner_actor = Actor.for_member(user=owner.user, organization=org_a, role="owner")
    if change == "demoted":
        services.membership_role_change(actor=owner_actor, membership=admin, role="viewer")
    elif change == "removed":
        services.membership_remove(actor=owner_actor, membership=admin)
    else:
        admin.user.delete()

    invitee = UserFactory(email="new@example.com")
    client.force_login(invitee)
    page = client.get(link.removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 404
    # Demoted or removed through the app: the invitation is revoked then and there, so it
    # stays void if the right comes back. A user deleted outside it: void by the check.
    expected = (
        "This invitation was revoked" if change != "deleted"
        else "the person who sent it can no longer invite"
    )  # fmt: skip
    assert expected in page.content.decode()
    response = client.post(link.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 404
    assert not Membership.objects.for_org(org_a).filter(user=invitee).exists()
    # The worker does not send a void link, and the members page says it is void.
    invitation_send_email(invitation.pk)
    assert mailoutbox == []
    client.force_login(owner.user)
    members = client.get(f"/o/{org_a.slug}/settings/members/").content.decode()
    if change == "deleted":
        assert 'new@example.com <span class="badge badge-blocking"' in members
    else:
        invitation.refresh_from_db()
        assert invitation.status == "revoked"


def test_a_voided_invitation_stays_void_when_its_inviter_gets_the_right_back(
    org_a, member_factory, django_capture_on_commit_callbacks
):
    owner = member_factory(org_a, "owner")
    admin = member_factory(org_a, "admin")
    actor = Actor.for_member(user=admin.user, organization=org_a, role="admin")
    with django_capture_on_commit_callbacks(execute=False):
        invitation = services.invitation_create(actor=actor, email="new@example.com",
                                                role="engineer")  # fmt: skip
    owner_actor = Actor.for_member(user=owner.user, organization=org_a, role="owner")
    services.membership_role_change(actor=owner_actor, membership=admin, role="viewer")
    services.membership_role_change(actor=owner_actor, membership=admin, role="admin")
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    assert AuditEvent.objects.for_org(org_a).filter(action="invitation.void").count() == 1
