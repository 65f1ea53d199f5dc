"""The main journey in a real browser: sign in, switch organizations, invite, audit, join."""

import re

import pytest
from playwright.sync_api import Page, expect

from genai_po.models import AuditEvent, Invitation
from genai_po.roles import Role
from tests.factories import TEST_PASSWORD, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER_EMAIL = "ada.owner@example.com"
NEWHIRE = "newhire@example.com"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$")


@pytest.fixture
def owner_of_a_viewer_of_b(org_a, org_b, member_factory):
    """Ada owns organization A and only reads organization B."""
    membership = member_factory(org_a, Role.OWNER, email=OWNER_EMAIL, full_name="Ada Owner")
    MembershipFactory(organization=org_b, user=membership.user, role=Role.VIEWER)
    return membership.user


# --- What a user does, step by step


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def switch_to(page: Page, link_text: str) -> None:
    """Open the organization switcher in the header and follow one of its links."""
    switcher = page.locator("details.org-switcher")
    switcher.locator("summary").click()
    switcher.get_by_role("link", name=link_text, exact=True).click()


def area(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Areas").get_by_role("link", name=name).click()


def invite(page: Page, email: str, role_label: str) -> None:
    form = page.get_by_role("article").filter(
        has=page.get_by_role("heading", name="Invite a member")
    )
    form.get_by_label("Email address").fill(email)
    form.get_by_label(re.compile(r"^Role:?$")).select_option(label=role_label)
    form.get_by_role("button", name="Send invitation").click()


def audit_summary(page: Page):
    """The event count under the filters (the chain is verified with the button above)."""
    return page.locator("main p.muted").filter(has_text=re.compile(r"^\d+ events?\.$"))


def cells(row):
    return row.locator("td")


# --- The journeys


def test_owner_switches_orgs_invites_and_finds_it_in_the_audit_trail(
    page: Page, live_server, owner_of_a_viewer_of_b, org_a, token_factory
):
    # Another event in A's trail, so that the action filter has something to leave out.
    token_factory(org_a, scopes=["read"], name="GitHub CI")

    sign_in(page, OWNER_EMAIL)

    # Lands on the first organization by name: A, where Ada is the owner.
    expect(page).to_have_url(f"{live_server.url}/o/org-a/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Organization A")
    expect(page.get_by_text("You are Owner · 1 member", exact=True)).to_be_visible()
    expect(page.locator("details.org-switcher summary")).to_have_text("Organization A")

    # The switcher lists both organizations with Ada's role in each.
    page.locator("details.org-switcher summary").click()
    expect(page.locator("details.org-switcher li")).to_have_text(
        ["Organization A (Owner)", "Organization B (Viewer)", "+ New organization"]
    )
    page.locator("details.org-switcher summary").click()  # closes it again

    switch_to(page, "Organization B (Viewer)")
    expect(page).to_have_url(f"{live_server.url}/o/org-b/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Organization B")
    expect(page.get_by_text("You are Viewer · 1 member", exact=True)).to_be_visible()
    expect(page.locator("details.org-switcher summary")).to_have_text("Organization B")
    expect(page).to_have_title("Overview · Organization B")

    switch_to(page, "Organization A (Owner)")
    expect(page).to_have_url(f"{live_server.url}/o/org-a/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Organization A")

    # Settings → Members.
    area(page, "Settings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Members").click()
    expect(page).to_have_url(f"{live_server.url}/o/org-a/settings/members/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    members = page.locator("table").first.locator("tbody tr")
    expect(members).to_have_count(1)
    expect(cells(members.first).nth(0)).to_have_text(f"Ada Owner {OWNER_EMAIL} you")
    expect(cells(members.first).nth(1)).to_have_text("Owner")
    expect(page.get_by_text("No pending invitations.", exact=True)).to_be_visible()

    invite(page, NEWHIRE, "Engineer")

    expect(page).to_have_url(f"{live_server.url}/o/org-a/settings/members/")
    invitation = Invitation.objects.for_org(org_a).get(email=NEWHIRE)
    expect(page.get_by_role("status")).to_have_text(
        f"Invitation sent to {NEWHIRE} as Engineer; the link works once and expires on "
        f"{invitation.expires_at:%Y-%m-%d}."
    )
    pending = (
        page.get_by_role("article")
        .filter(has=page.get_by_role("heading", name="Pending invitations"))
        .locator("tbody tr")
    )
    expect(pending).to_have_count(1)
    expect(cells(pending.first)).to_have_text(
        [NEWHIRE, "Engineer", f"{invitation.expires_at:%Y-%m-%d %H:%M}", "Revoke"]
    )

    # Governance → Audit trail.
    area(page, "Governance")
    expect(page.get_by_role("heading", level=1)).to_have_text("Governance")
    page.get_by_role("button", name="Open the audit trail").click()
    expect(page).to_have_url(f"{live_server.url}/o/org-a/governance/audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    expect(audit_summary(page)).to_have_text("2 events.")
    expect(page.get_by_role("button", name="Verify the chain now")).to_be_visible()
    events = page.locator("table tbody tr")
    expect(events).to_have_count(2)
    created = AuditEvent.objects.for_org(org_a).get(action="invitation.create")
    assert created.after["email"] == NEWHIRE
    assert created.after["role"] == "engineer"
    invitation_event_cells = [
        str(created.seq),
        DATE_TIME,
        "Ada Owner",  # by name; the email is its title
        "Owner",
        "invitation.create",
        f"Invitation #{invitation.pk}",
        "",
        f"email: {NEWHIRE} · expires_at: {created.after['expires_at']} · role: engineer",
        "127.0.0.1",
    ]
    # Newest first: the invitation, then the token created before the journey.
    expect(cells(events.nth(0))).to_have_text(invitation_event_cells)
    expect(cells(events.nth(1)).nth(4)).to_have_text("api_token.create")

    # Filter by action: only the invitation is left.
    page.get_by_label("Action").select_option("invitation.create")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/o/org-a/governance/audit/\?action=invitation\.create&"))
    expect(page.get_by_label("Action")).to_have_value("invitation.create")
    expect(audit_summary(page)).to_have_text("1 event.")
    expect(events).to_have_count(1)
    expect(cells(events.first)).to_have_text(invitation_event_cells)


def test_invitee_signs_up_from_the_emailed_link_and_joins_as_engineer(
    page: Page, new_context, live_server, settings, mailoutbox, owner_of_a_viewer_of_b, org_a
):
    # Links in emails are built from SITE_URL; here that is the live server.
    settings.SITE_URL = live_server.url
    sign_in(page, OWNER_EMAIL)
    page.goto("/o/org-a/settings/members/")
    invite(page, NEWHIRE, "Engineer")
    expect(page.get_by_role("status")).to_contain_text(f"Invitation sent to {NEWHIRE}")

    # The worker (eager here, in the live server's thread) emailed the link.
    assert [m.to for m in mailoutbox] == [[NEWHIRE]]
    email = mailoutbox[0]
    assert email.subject == "You are invited to Organization A on GenAI PO Workspace"
    links = re.findall(r"https?://\S+", email.body)
    assert len(links) == 1
    link = links[0]
    assert link.startswith(f"{live_server.url}/invitations/")
    assert "Ada Owner invites you to join Organization A on GenAI PO Workspace as Engineer." in (
        email.body
    )

    # The invitee, in a browser of their own, with no account yet.
    invitee = new_context().new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Join Organization A")
    expect(invitee.locator("article p").first).to_have_text(
        f"Ada Owner invited {NEWHIRE} as Engineer."
    )
    invitee.get_by_role("button", name="Create account").click()

    expect(invitee.get_by_role("heading", level=1)).to_have_text("Create your account")
    invitee.get_by_label("Full name").fill("Nia Newhire")
    invitee.get_by_label("Email address").fill(NEWHIRE)
    invitee.get_by_label(re.compile(r"^Password:?$")).fill("tidal-marble-orchard-42")
    invitee.get_by_label("Password again").fill("tidal-marble-orchard-42")
    invitee.get_by_role("button", name="Create account").click()

    # Back on the invitation, now signed in: one button to join.
    expect(invitee).to_have_url(link)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Join Organization A")
    invitee.get_by_role("button", name="Accept and join").click()

    expect(invitee).to_have_url(f"{live_server.url}/o/org-a/")
    expect(invitee.get_by_role("status")).to_have_text("Welcome to Organization A.")
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Organization A")
    expect(invitee.get_by_text("You are Engineer · 2 members", exact=True)).to_be_visible()
    invitee.locator("details.org-switcher summary").click()
    expect(invitee.locator("details.org-switcher li")).to_have_text(
        ["Organization A (Engineer)", "+ New organization"]
    )

    # The link works once.
    invitee.goto(link)
    expect(invitee.get_by_text("This invitation is accepted.", exact=True)).to_be_visible()


def test_viewer_sees_members_without_invite_form_or_role_controls(
    page: Page, live_server, org_a, member_factory
):
    member_factory(org_a, Role.OWNER, email=OWNER_EMAIL, full_name="Ada Owner")
    member_factory(org_a, Role.VIEWER, email="vic.viewer@example.com", full_name="Vic Viewer")

    sign_in(page, "vic.viewer@example.com")
    expect(page).to_have_url(f"{live_server.url}/o/org-a/")
    area(page, "Settings")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Members").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    expect(page.locator("table thead th")).to_have_text(["Member", "Role", "Since"])
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(cells(rows.nth(0))).to_have_text([f"Ada Owner {OWNER_EMAIL}", "Owner", DATE])
    expect(cells(rows.nth(1))).to_have_text(
        ["Vic Viewer vic.viewer@example.com you", "Viewer", DATE]
    )
    expect(page.get_by_role("button", name="Change role")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    expect(page.get_by_role("heading", name="Invite a member")).to_have_count(0)
    expect(page.get_by_role("button", name="Send invitation")).to_have_count(0)
    expect(page.get_by_role("heading", name="Pending invitations")).to_have_count(0)
    # Viewers are not offered what they may not open.
    expect(page.get_by_role("navigation", name="Settings").get_by_role("link")).to_have_text(
        ["General", "Members"]
    )
