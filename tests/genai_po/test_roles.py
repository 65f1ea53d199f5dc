"""The role x action matrix, row by row, and the pages that enforce it.

The expected matrix is written out here by hand, independently of
`genai_po.roles.PERMISSIONS`, so a change to the matrix has to be made twice on
purpose: once in the code and once in what users were promised.
"""

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.messages import get_messages

from genai_po.models import ApiToken, Invitation, Membership, Organization
from genai_po.roles import PERMISSIONS, Action, Role, role_can
from tests.factories import ApiTokenFactory, InvitationFactory

# The matrix as promised in README.md ("Organizations, roles and permissions"), by action.
MATRIX = """
action            owner admin product_owner engineer sme reviewer viewer
view              yes   yes   yes           yes      yes yes      yes
manage_org        yes   yes   -             -        -   -        -
manage_members    yes   yes   -             -        -   -        -
manage_owners     yes   -     -             -        -   -        -
manage_tokens     yes   yes   -             -        -   -        -
view_audit        yes   yes   -             -        -   -        -
edit_product      yes   yes   yes           -        -   -        -
run_evals         yes   yes   yes           yes      -   -        -
answer_sme        yes   yes   yes           -        yes -        -
sign_off          yes   yes   -             -        -   yes      -
ingest_telemetry  yes   yes   -             yes      -   -        -
search_knowledge  yes   yes   yes           yes      yes yes      yes
"""


def _parse(table: str) -> dict[str, set[str]]:
    header, *rows = [line.split() for line in table.strip().splitlines()]
    return {
        action: {role for role, mark in zip(header[1:], marks, strict=True) if mark == "yes"}
        for action, *marks in rows
    }


EXPECTED = _parse(MATRIX)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is what production uses; these tests create many users and sign in with
    # force_login, so the hash's cost only slows them down.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


MATRIX_CELLS = [(action, role) for action in PERMISSIONS for role in Role]


def test_matrix_has_one_row_per_action_and_one_column_per_role():
    assert MATRIX.split()[1:8] == [r.value for r in Role]
    assert {a.value for a in PERMISSIONS} == set(EXPECTED) == {a.value for a in Action}


@pytest.mark.parametrize(
    ("action", "role"), MATRIX_CELLS, ids=[f"{a.value}-{r.value}" for a, r in MATRIX_CELLS]
)
def test_role_can_answers_each_cell_of_the_matrix(action, role):
    expected = role.value in EXPECTED[action.value]
    assert role_can(role, action) is expected
    # Roles arrive as plain strings from the database: same answer.
    assert role_can(role.value, action) is expected


def test_role_can_rejects_an_unknown_role():
    with pytest.raises(ValueError, match="'superuser' is not a valid Role"):
        role_can("superuser", Action.VIEW)


# --- The same matrix, through the pages that enforce it


@dataclass(frozen=True)
class PageCase:
    """One request a member makes, the action it needs, and what success looks like."""

    id: str
    action: str
    method: str
    path: str  # formatted with the org slug and the ids of `targets`
    ok_status: int
    data: Any = None


PAGE_CASES = [
    PageCase("home-get", "view", "get", "/o/{slug}/settings/", 200),
    PageCase("members-get", "view", "get", "/o/{slug}/settings/members/", 200),
    PageCase(
        "members-post-invite",
        "manage_members",
        "post",
        "/o/{slug}/settings/members/",
        302,
        {"email": "newcomer@example.com", "role": "viewer"},
    ),
    PageCase(
        "member-role-post",
        "manage_members",
        "post",
        "/o/{slug}/settings/members/{target_member}/role/",
        302,
        {"role": "engineer"},
    ),
    PageCase(
        "member-remove-post",
        "manage_members",
        "post",
        "/o/{slug}/settings/members/{target_member}/remove/",
        302,
    ),
    PageCase(
        "invitation-revoke-post",
        "manage_members",
        "post",
        "/o/{slug}/settings/invitations/{invitation}/revoke/",
        302,
    ),
    PageCase("tokens-get", "manage_tokens", "get", "/o/{slug}/settings/tokens/", 200),
    PageCase(
        "tokens-post",
        "manage_tokens",
        "post",
        "/o/{slug}/settings/tokens/",
        200,
        {"name": "GitHub CI", "scopes": ["read"], "expires_in": ""},
    ),
    PageCase(
        "token-revoke-post",
        "manage_tokens",
        "post",
        "/o/{slug}/settings/tokens/{token}/revoke/",
        302,
    ),
    PageCase("audit-get", "view_audit", "get", "/o/{slug}/governance/audit/", 200),
    PageCase("audit-export-get", "view_audit", "get", "/o/{slug}/governance/audit/export.csv", 200),
    PageCase("governance-get", "view", "get", "/o/{slug}/governance/", 200),
    PageCase("settings-get", "view", "get", "/o/{slug}/settings/", 200),
    PageCase(
        "settings-post", "manage_org", "post", "/o/{slug}/settings/", 302, {"name": "Renamed Org"}
    ),
    PageCase("leave-post", "view", "post", "/o/{slug}/leave/", 302),
]

ROLE_PAGE_CELLS = [(role, case) for role in Role for case in PAGE_CASES]


@pytest.fixture
def org_with_targets(org_a, owner_a, member_factory):
    """Organization A with something for every page to act on."""
    target = member_factory(org_a, Role.VIEWER, email="target@example.com")
    invitation = InvitationFactory(organization=org_a, email="pending@example.com")
    token = ApiTokenFactory(organization=org_a, name="ci")
    return {
        "slug": org_a.slug,
        "target_member": target.pk,
        "invitation": invitation.pk,
        "token": token.pk,
    }


def _state(org: Organization) -> dict:
    """What a forbidden request must leave untouched."""
    org.refresh_from_db()
    return {
        "org_name": org.name,
        "members": sorted(
            Membership.objects.for_org(org).values_list("user__email", "role"),
        ),
        "invitations": sorted(
            Invitation.objects.for_org(org).values_list("email", "revoked_at"),
        ),
        "tokens": sorted(ApiToken.objects.for_org(org).values_list("name", "revoked_at")),
    }


@pytest.mark.parametrize(
    ("role", "case"), ROLE_PAGE_CELLS, ids=[f"{r.value}-{c.id}" for r, c in ROLE_PAGE_CELLS]
)
def test_each_role_gets_each_page_exactly_as_the_matrix_says(
    client, org_a, member_factory, org_with_targets, role, case
):
    me = member_factory(org_a, role, email="me@example.com")
    client.force_login(me.user)
    before = _state(org_a)

    response = getattr(client, case.method)(case.path.format(**org_with_targets), case.data)

    if role.value in EXPECTED[case.action]:
        assert response.status_code == case.ok_status
    else:
        assert response.status_code == 403
        label = Action(case.action).label.lower()
        assert f"Your role does not allow this: {label}." in response.content.decode()
        assert _state(org_a) == before


def test_allowed_writes_through_pages_take_effect(client, org_a, owner_a, org_with_targets):
    """The 302s above are real successes, not redirects that did nothing."""
    client.force_login(owner_a.user)
    paths = {c.id: c.path.format(**org_with_targets) for c in PAGE_CASES}

    client.post(paths["settings-post"], {"name": "Renamed Org"})
    client.post(paths["members-post-invite"], {"email": "newcomer@example.com", "role": "viewer"})
    client.post(paths["member-role-post"], {"role": "engineer"})
    client.post(paths["invitation-revoke-post"])
    client.post(paths["token-revoke-post"])

    org_a.refresh_from_db()
    assert org_a.name == "Renamed Org"
    assert Invitation.objects.for_org(org_a).get(email="newcomer@example.com").status == "pending"
    assert Invitation.objects.for_org(org_a).get(email="pending@example.com").status == "revoked"
    assert (
        Membership.objects.for_org(org_a).get(user__email="target@example.com").role == "engineer"
    )
    assert ApiToken.objects.for_org(org_a).get(name="ci").status == "revoked"

    client.post(paths["member-remove-post"])
    assert not Membership.objects.for_org(org_a).filter(user__email="target@example.com").exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN], ids=["owner", "admin"])
def test_manage_owners_only_owners_can_make_an_owner(client, org_a, owner_a, member_factory, role):
    """`manage_owners` has no page of its own: it is the owner option of the role form."""
    me = member_factory(org_a, role)
    target = member_factory(org_a, Role.VIEWER)
    client.force_login(me.user)

    members_page = client.get("/o/org-a/settings/members/").content.decode()
    response = client.post(f"/o/org-a/settings/members/{target.pk}/role/", {"role": "owner"})

    target.refresh_from_db()
    assert response.status_code == 302
    if role == Role.OWNER:
        assert '<option value="owner"' in members_page
        assert target.role == "owner"
    else:
        assert '<option value="owner"' not in members_page
        assert target.role == "viewer"
        assert [str(m) for m in get_messages(response.wsgi_request)] == [
            "Choose a role you are allowed to give."
        ]


# --- Outsiders


ORG_PAGES = [
    ("get", "/o/org-a/"),
    ("get", "/o/org-a/settings/"),
    ("post", "/o/org-a/settings/"),
    ("get", "/o/org-a/settings/members/"),
    ("post", "/o/org-a/settings/members/"),
    ("post", "/o/org-a/settings/members/{target_member}/role/"),
    ("post", "/o/org-a/settings/members/{target_member}/remove/"),
    ("post", "/o/org-a/settings/invitations/{invitation}/revoke/"),
    ("get", "/o/org-a/settings/tokens/"),
    ("post", "/o/org-a/settings/tokens/"),
    ("post", "/o/org-a/settings/tokens/{token}/revoke/"),
    ("get", "/o/org-a/governance/"),
    ("get", "/o/org-a/governance/audit/"),
    ("get", "/o/org-a/governance/audit/export.csv"),
    ("post", "/o/org-a/leave/"),
    ("get", "/o/org-a/use-cases/"),
    ("get", "/o/org-a/evals/"),
    ("get", "/o/org-a/context/"),
    ("get", "/o/org-a/metrics/"),
]

POST_DATA = {
    "name": "Taken over",
    "email": "intruder@example.com",
    "role": "owner",
    "scopes": ["admin"],
}


@pytest.mark.parametrize(("method", "path"), ORG_PAGES, ids=[f"{m}-{p}" for m, p in ORG_PAGES])
def test_owner_of_another_org_gets_404_never_403(
    client, org_a, owner_b, org_with_targets, method, path
):
    client.force_login(owner_b.user)
    before = _state(org_a)

    response = getattr(client, method)(path.format(**org_with_targets), POST_DATA)

    assert response.status_code == 404
    body = response.content.decode()
    assert "There is nothing here." in body
    assert "Organization A" not in body
    assert _state(org_a) == before


def test_non_member_sees_the_same_page_as_for_an_org_that_does_not_exist(client, org_a, owner_b):
    client.force_login(owner_b.user)

    outsider = client.get("/o/org-a/settings/members/")
    nowhere = client.get("/o/no-such-org/settings/members/")

    assert outsider.status_code == nowhere.status_code == 404

    def without_csrf(response):
        # The masked CSRF token differs on every response; nothing else may.
        return re.sub(r"\b[A-Za-z0-9]{64}\b", "<csrf>", response.content.decode())

    assert without_csrf(outsider) == without_csrf(nowhere)


def test_anonymous_visitor_is_sent_to_sign_in(client, org_a):
    response = client.get("/o/org-a/settings/members/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/o/org-a/settings/members/"
