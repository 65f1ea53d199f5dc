"""API tokens: hashed, prefixed, 256-bit, shown once, scoped, revocable, expiring."""

import hashlib
import re
import secrets
import shlex
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from genai_po.models import ApiToken, AuditEvent
from genai_po.roles import Role

TOKEN_RE = re.compile(r"gpo_[A-Za-z0-9_-]{43,}")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _api(raw: str | None = None, header: str | None = None) -> APIClient:
    api = APIClient()
    if raw is not None:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    elif header is not None:
        api.credentials(HTTP_AUTHORIZATION=header)
    return api


def _assert_raw_not_stored(raw: str, org) -> None:
    for row in ApiToken.objects.across_orgs().values():
        for value in row.values():
            assert raw not in str(value)
    for row in AuditEvent.objects.for_org(org).values():
        for value in row.values():
            assert raw not in str(value)


def _assert_shape(raw: str) -> None:
    assert raw.startswith("gpo_")
    secret = raw.removeprefix("gpo_")
    # token_urlsafe(32): 32 random bytes = 256 bits = 43 URL-safe base64 characters.
    assert len(secret) >= 43
    assert re.fullmatch(r"[A-Za-z0-9_-]+", secret)


# --- Created in the browser


def test_token_created_in_the_browser_is_shown_once(client, org_a, owner_a):
    client.force_login(owner_a.user)

    response = client.post(
        "/o/org-a/settings/tokens/",
        {"name": "GitHub CI", "scopes": ["read", "evals:run"], "expires_in": "30"},
    )

    assert response.status_code == 200
    body = response.content.decode()
    [raw] = set(TOKEN_RE.findall(body))
    assert "Copy it now: it is shown only once." in body
    _assert_shape(raw)

    token = ApiToken.objects.for_org(org_a).get()
    assert token.name == "GitHub CI"
    assert token.scopes == ["evals:run", "read"]
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.prefix == raw[:12]
    assert token.created_by == owner_a.user
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    _assert_raw_not_stored(raw, org_a)

    later = client.get("/o/org-a/settings/tokens/").content.decode()
    assert raw not in later
    assert TOKEN_RE.search(later) is None
    assert f"<code>{token.prefix}…</code>" in later  # recognizable, not usable

    me = _api(raw).get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["token"]["scopes"] == ["evals:run", "read"]


def test_browser_token_creation_is_audited_without_the_secret(client, org_a, owner_a):
    client.force_login(owner_a.user)
    events_before = AuditEvent.objects.for_org(org_a).count()

    client.post("/o/org-a/settings/tokens/", {"name": "CI", "scopes": ["read"], "expires_in": ""})

    token = ApiToken.objects.for_org(org_a).get()
    events = list(AuditEvent.objects.for_org(org_a).order_by("seq"))
    assert len(events) == events_before + 1
    assert events[-1].action == "api_token.create"
    assert events[-1].after == {
        "name": "CI",
        "scopes": ["read"],
        "prefix": token.prefix,
        "expires_at": None,
    }
    assert events[-1].actor_role == "owner"


def test_two_tokens_never_share_a_secret(token_factory, org_a):
    raws = {token_factory(org_a, ["read"])[1] for _ in range(5)}

    assert len(raws) == 5
    assert len({raw[:12] for raw in raws}) == 5


def test_token_form_errors_create_nothing(client, org_a, owner_a):
    client.force_login(owner_a.user)
    client.post("/o/org-a/settings/tokens/", {"name": "CI", "scopes": ["read"], "expires_in": ""})

    duplicate = client.post(
        "/o/org-a/settings/tokens/", {"name": "CI", "scopes": ["read"], "expires_in": ""}
    )
    no_scope = client.post("/o/org-a/settings/tokens/", {"name": "Other", "expires_in": ""})
    bad_scope = client.post(
        "/o/org-a/settings/tokens/", {"name": "Other", "scopes": ["root"], "expires_in": ""}
    )

    assert duplicate.status_code == no_scope.status_code == bad_scope.status_code == 400
    assert duplicate.context["form"].errors == {"name": ["An active token is already named 'CI'."]}
    assert no_scope.context["form"].errors == {"scopes": ["This field is required."]}
    assert bad_scope.context["form"].errors == {
        "scopes": ["Select a valid choice. root is not one of the available choices."]
    }
    for response in (duplicate, no_scope, bad_scope):
        assert TOKEN_RE.search(response.content.decode()) is None
    assert ApiToken.objects.for_org(org_a).count() == 1


def test_token_revoked_in_the_browser_stops_working(client, org_a, owner_a, token_factory):
    token, raw = token_factory(org_a, ["read"], name="old CI")
    assert _api(raw).get("/api/v1/me/").status_code == 200
    client.force_login(owner_a.user)

    response = client.post(f"/o/org-a/settings/tokens/{token.pk}/revoke/")

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.status == "revoked"
    event = AuditEvent.objects.for_org(org_a).order_by("-seq").first()
    assert (event.action, event.before, event.after) == (
        "api_token.revoke",
        {"status": "active"},
        {"status": "revoked"},
    )
    assert _api(raw).get("/api/v1/me/").status_code == 401


def test_name_of_a_revoked_token_can_be_used_again(client, org_a, owner_a, token_factory):
    old, _ = token_factory(org_a, ["read"], name="GitHub CI")
    client.force_login(owner_a.user)
    client.post(f"/o/org-a/settings/tokens/{old.pk}/revoke/")

    response = client.post(
        "/o/org-a/settings/tokens/", {"name": "GitHub CI", "scopes": ["read"], "expires_in": ""}
    )

    assert response.status_code == 200
    assert TOKEN_RE.search(response.content.decode())
    assert ApiToken.objects.for_org(org_a).filter(name="GitHub CI").count() == 2


def test_name_of_an_expired_token_can_be_used_for_its_replacement(
    client, org_a, owner_a, token_factory
):
    old, _ = token_factory(
        org_a, ["read"], name="GitHub CI", expires_at=timezone.now() + timedelta(days=1)
    )
    ApiToken.objects.for_org(org_a).filter(pk=old.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    client.force_login(owner_a.user)
    page = client.get("/o/org-a/settings/tokens/").content.decode()
    revoke_offered = f"/o/org-a/settings/tokens/{old.pk}/revoke/" in page

    response = client.post(
        "/o/org-a/settings/tokens/", {"name": "GitHub CI", "scopes": ["read"], "expires_in": "90"}
    )

    # Either the name is free again, or the page lets the user revoke the expired token first.
    assert response.status_code == 200 or revoke_offered, response.context["form"].errors


def test_page_showing_the_secret_is_not_stored_by_the_browser(client, owner_a):
    client.force_login(owner_a.user)

    response = client.post(
        "/o/org-a/settings/tokens/", {"name": "CI", "scopes": ["read"], "expires_in": ""}
    )

    assert TOKEN_RE.search(response.content.decode())
    assert "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("role", [r for r in Role if r not in (Role.OWNER, Role.ADMIN)])
def test_other_roles_cannot_create_tokens(client, org_a, member_factory, role):
    me = member_factory(org_a, role)
    client.force_login(me.user)

    response = client.post(
        "/o/org-a/settings/tokens/", {"name": "sneaky", "scopes": ["admin"], "expires_in": ""}
    )

    assert response.status_code == 403
    assert ApiToken.objects.for_org(org_a).count() == 0


# --- Created on the command line


def _cli(args: str) -> tuple[str, str]:
    """Run `manage.py create_api_token <args>`; return its stdout and stderr."""
    out, err = StringIO(), StringIO()
    call_command("create_api_token", *shlex.split(args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_api_token_command_prints_a_working_token_last(org_a):
    out, err = _cli("--org org-a --name x --scopes read,admin")

    raw = out.strip().splitlines()[-1]
    _assert_shape(raw)
    token = ApiToken.objects.for_org(org_a).get()
    assert token.name == "x"
    assert token.scopes == ["admin", "read"]
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert "It is shown once" in err
    assert raw not in err
    _assert_raw_not_stored(raw, org_a)
    event = AuditEvent.objects.for_org(org_a).order_by("-seq").first()
    assert (event.action, event.actor_role, event.actor_label) == (
        "api_token.create",
        "system",
        "cli:create_api_token",
    )

    me = _api(raw).get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["organization"]["slug"] == "org-a"
    assert me.json()["token"]["scopes"] == ["admin", "read"]


def test_create_api_token_command_rejects_an_unknown_scope(org_a):
    with pytest.raises(CommandError) as excinfo:
        _cli("--org org-a --name x --scopes read,superpowers")

    assert str(excinfo.value) == (
        "Unknown scope(s): superpowers. "
        "Known: read, write, evals:run, knowledge:read, telemetry:write, admin."
    )
    assert ApiToken.objects.for_org(org_a).count() == 0


def test_create_api_token_command_rejects_an_unknown_org(org_a):
    with pytest.raises(CommandError, match="^No organization with slug 'nowhere'.$"):
        _cli("--org nowhere --name x --scopes read")


def test_create_api_token_command_rejects_no_scopes(org_a):
    with pytest.raises(CommandError, match="^Choose at least one scope.$"):
        _cli("--org org-a --name x --scopes ' , '")


# --- Authentication failures: 401 with a JSON message


def _assert_401(response, message: str) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["message"] == message
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_revoked_token_is_401(org_a, token_factory):
    token, raw = token_factory(org_a, ["read"])
    ApiToken.objects.for_org(org_a).filter(pk=token.pk).update(revoked_at=timezone.now())

    _assert_401(_api(raw).get("/api/v1/me/"), "This token has been revoked.")
    _assert_401(_api(raw).get("/api/v1/members/"), "This token has been revoked.")


def test_expired_token_is_401(org_a, token_factory):
    token, raw = token_factory(org_a, ["read"])
    ApiToken.objects.for_org(org_a).filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    _assert_401(_api(raw).get("/api/v1/members/"), "This token has expired.")


def test_token_is_valid_until_it_expires(org_a, token_factory):
    _, raw = token_factory(org_a, ["read"], expires_at=timezone.now() + timedelta(minutes=5))

    assert _api(raw).get("/api/v1/members/").status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        "gpo_" + secrets.token_urlsafe(32),
        "ghp_" + secrets.token_urlsafe(32),
        "gpo_",
    ],
    ids=["unknown-gpo-token", "foreign-prefix", "prefix-only"],
)
def test_wrong_token_is_401(org_a, token_factory, raw):
    token_factory(org_a, ["read"])

    _assert_401(_api(raw).get("/api/v1/members/"), "Invalid token.")


def test_token_with_one_character_changed_is_401(org_a, token_factory):
    _, raw = token_factory(org_a, ["read"])
    wrong = raw[:-1] + ("a" if raw[-1] != "a" else "b")

    _assert_401(_api(wrong).get("/api/v1/members/"), "Invalid token.")


def test_missing_header_is_401(org_a):
    _assert_401(
        _api().get("/api/v1/members/"), "Send an API token: 'Authorization: Bearer <token>'."
    )


@pytest.mark.parametrize(
    "header",
    ["Token {raw}", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer {raw} extra", "{raw}"],
    ids=["token-scheme", "basic", "no-value", "empty-value", "two-values", "no-scheme"],
)
def test_malformed_header_is_401(org_a, token_factory, header):
    _, raw = token_factory(org_a, ["read"])

    response = _api(header=header.format(raw=raw)).get("/api/v1/members/")

    _assert_401(response, "Use the header 'Authorization: Bearer <token>'.")


def test_non_ascii_header_is_401(org_a):
    response = APIClient().get("/api/v1/members/", HTTP_AUTHORIZATION="Bearer gpo_é")

    _assert_401(response, "The Authorization header is not valid ASCII.")


def test_scheme_is_case_insensitive(org_a, token_factory):
    _, raw = token_factory(org_a, ["read"])

    assert _api(header=f"bearer {raw}").get("/api/v1/members/").status_code == 200


def test_browser_session_is_not_an_api_credential(client, owner_a):
    client.force_login(owner_a.user)

    response = client.get("/api/v1/members/")

    assert response.status_code == 401
    assert response.json()["message"] == "Send an API token: 'Authorization: Bearer <token>'."


# --- Scopes and last use


def test_valid_token_without_the_scope_is_403(org_a, token_factory):
    _, raw = token_factory(org_a, ["read", "write", "evals:run"])

    response = _api(raw).get("/api/v1/audit-events/")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "message": "This token lacks the 'admin' scope.",
        "code": "permission_denied",
    }


def test_token_without_read_cannot_list_members(org_a, token_factory):
    _, raw = token_factory(org_a, ["telemetry:write"])

    response = _api(raw).get("/api/v1/members/")

    assert response.status_code == 403
    assert response.json()["message"] == (
        "This token lacks one of the scopes 'read', 'write', 'admin'."
    )


def test_any_valid_token_may_ask_who_it_is(org_a, token_factory):
    _, raw = token_factory(org_a, ["knowledge:read"])

    response = _api(raw).get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["token"]["scopes"] == ["knowledge:read"]


def test_last_used_at_is_set_on_use(org_a, token_factory):
    token, raw = token_factory(org_a, ["read"])
    assert token.last_used_at is None

    before = timezone.now()
    _api(raw).get("/api/v1/members/")

    token.refresh_from_db()
    assert before <= token.last_used_at <= timezone.now()


def test_last_used_at_is_written_at_most_once_a_minute(org_a, token_factory):
    token, raw = token_factory(org_a, ["read"])
    _api(raw).get("/api/v1/me/")
    token.refresh_from_db()
    first = token.last_used_at

    _api(raw).get("/api/v1/me/")
    token.refresh_from_db()
    assert token.last_used_at == first

    stale = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.for_org(org_a).filter(pk=token.pk).update(last_used_at=stale)
    _api(raw).get("/api/v1/me/")
    token.refresh_from_db()
    assert token.last_used_at > stale + timedelta(minutes=1)


def test_failed_authentication_does_not_touch_last_used_at(org_a, token_factory):
    token, raw = token_factory(org_a, ["read"])
    ApiToken.objects.for_org(org_a).filter(pk=token.pk).update(revoked_at=timezone.now())

    _api(raw).get("/api/v1/me/")

    token.refresh_from_db()
    assert token.last_used_at is None


def test_create_api_token_help_lists_every_scope():
    from genai_po.management.commands.create_api_token import Command
    from genai_po.roles import Scope

    help_text = " ".join(
        Command().create_parser("manage.py", "create_api_token").format_help().split()
    )
    for scope in Scope:
        assert f"{scope.value}: {scope.label.lower()}" in help_text
