"""Targets and egress settings in the browser: list, create, edit, secrets, connection test."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evals.models import EgressSettings, Target
from genai_po.fields import Secret
from genai_po.models import AuditEvent
from genai_po.roles import Role
from tests.factories.evals import EvalPlanFactory, TargetFactory, allow_loopback
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db

KEY = "sk-test-7f3a9c1e5b2d4a60"
HEADER_SECRET = "hv-9d8c7b6a5f4e3d2c"
HX = {"HTTP_HX_REQUEST": "true"}
BASE = "/o/org-a/evals/"

OPENAI = {
    "name": "Support agent",
    "kind": "openai_chat",
    "url": "https://agent.example.com/v1",
    "model": "acme-reference-agent",
    "api_key": "",
    "headers": "",
    "system_prompt": "",
    "temperature": "",
    "max_tokens": "",
    "method": "POST",
    "body_template": "",
    "response_path": "",
    "timeout_s": "30",
    "concurrency": "8",
    "rate_limit_per_s": "",
    "max_attempts": "3",
    "cost_per_1k_input": "",
    "cost_per_1k_output": "",
}
HTTP_JSON = {
    **OPENAI,
    "name": "Refund API",
    "kind": "http_json",
    "url": "https://refunds.example.com/ask",
    "model": "",
    "method": "PUT",
    "body_template": '{"question": "{{input}}"}',
    "response_path": "data.answer",
}


@pytest.fixture
def engineer(org_a, member_factory, client):
    membership = member_factory(org_a, Role.ENGINEER)
    client.force_login(membership.user)
    return membership


@pytest.fixture
def viewer(org_a, member_factory, client):
    membership = member_factory(org_a, Role.VIEWER)
    client.force_login(membership.user)
    return membership


def _target(org, **kwargs) -> Target:
    return TargetFactory(organization=org, **kwargs)


def _with_secrets(org, **kwargs) -> Target:
    """A target holding a key and a header whose value is a credential."""
    return _target(
        org,
        api_key=Secret(KEY),
        headers=Secret(json.dumps({"X-Team": "support", "X-Api-Token": HEADER_SECRET})),
        header_names=["X-Api-Token", "X-Team"],
        **kwargs,
    )


def _form(target: Target, **changes) -> dict:
    """The edit form as the browser posts it: every field, the secrets left empty."""
    data = {
        f: ("" if getattr(target, f) is None else str(getattr(target, f)))
        for f in OPENAI
        if f not in ("api_key", "headers")
    }
    return {**data, "api_key": "", "headers": "", **changes}


def _fresh(target: Target) -> Target:
    return Target.objects.for_org(target.organization_id).get(pk=target.pk)


def _assert_no_secret(text: str) -> None:
    assert KEY not in text and HEADER_SECRET not in text


# --------------------------------------------------------------------------- list


def test_empty_list_explains_what_a_target_is(client, engineer):
    html = client.get(BASE + "targets/").content.decode()
    assert "No targets yet." in html
    assert "A target is the AI system under test" in html
    assert f'href="{BASE}targets/new/"' in html


def test_a_viewer_sees_the_list_but_cannot_create_edit_or_test(client, viewer):
    target = _target(viewer.organization, name="Support agent")
    html = client.get(BASE + "targets/").content.decode()
    assert "Support agent" in html
    assert f'href="{BASE}targets/new/"' not in html
    assert f'href="{BASE}targets/{target.pk}/"' not in html
    assert client.get(BASE + "targets/new/").status_code == 403
    assert client.post(BASE + "targets/new/", OPENAI).status_code == 403
    assert client.get(f"{BASE}targets/{target.pk}/").status_code == 403
    assert client.post(f"{BASE}targets/{target.pk}/test/").status_code == 403
    assert client.post(f"{BASE}targets/{target.pk}/archive/").status_code == 403
    assert _fresh(target).last_checked_at is None and _fresh(target).archived_at is None
    assert Target.objects.for_org(viewer.organization).count() == 1


def test_the_list_shows_each_target_its_last_test_and_the_plans_using_it(client, engineer):
    org = engineer.organization
    agent = _target(
        org,
        name="Agent",
        url="https://agent.example.com/v1",
        model="gpt-x",
        last_check_ok=False,
        last_check_message="Connection failed: timed out",
        last_checked_at="2025-03-04T05:06:00Z",
    )
    use_case = UseCaseFactory(organization=org)
    EvalPlanFactory(use_case=use_case, target=agent)
    EvalPlanFactory(use_case=use_case, target=agent, judge_target=agent)
    EvalPlanFactory(use_case=use_case, target=agent, archived_at="2025-01-01T00:00:00Z")
    html = client.get(BASE + "targets/").content.decode()
    assert "https://agent.example.com/v1" in html and "gpt-x" in html
    assert "✗ Failed" in html and "2025-03-04 05:06 UTC" in html and "timed out" in html
    assert '<td class="num">2</td>' in html  # active plans only, each counted once


def test_archived_targets_are_behind_a_toggle(client, engineer):
    _target(engineer.organization, name="Current agent")
    _target(engineer.organization, name="Old agent", archived_at="2025-01-01T00:00:00Z")
    html = client.get(BASE + "targets/").content.decode()
    assert "Current agent" in html and "Old agent" not in html
    assert "Show 1 archived target" in html
    html = client.get(BASE + "targets/?archived=1").content.decode()
    assert "Old agent" in html and "Hide archived targets" in html


def test_the_list_makes_the_same_queries_for_one_target_or_many(client, engineer):
    org = engineer.organization
    use_case = UseCaseFactory(organization=org)
    EvalPlanFactory(use_case=use_case, target=_target(org))
    with CaptureQueriesContext(connection) as one:
        assert client.get(BASE + "targets/").status_code == 200
    for _ in range(5):
        EvalPlanFactory(use_case=use_case, target=_target(org, archived_at="2025-01-01T00:00Z"))
    with CaptureQueriesContext(connection) as many:
        assert client.get(BASE + "targets/?archived=1").status_code == 200
    assert len(many) == len(one)


# --------------------------------------------------------------------------- create


def test_an_engineer_creates_an_openai_target(client, engineer):
    response = client.post(BASE + "targets/new/", {**OPENAI, "api_key": KEY, "temperature": "0.2"})
    target = Target.objects.for_org(engineer.organization).get()
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}targets/{target.pk}/"
    assert (target.kind, target.model, target.temperature) == ("openai_chat", OPENAI["model"], 0.2)
    assert target.api_key.reveal() == KEY and target.created_by == engineer.user
    event = AuditEvent.objects.for_org(engineer.organization).get(action="target.create")
    assert event.after["api_key_set"] is True and event.actor_role == "engineer"


def test_creating_an_http_json_target_keeps_header_names_in_clear(client, engineer):
    headers = json.dumps({"X-Api-Token": HEADER_SECRET, "X-Team": "support"})
    response = client.post(BASE + "targets/new/", {**HTTP_JSON, "headers": headers})
    assert response.status_code == 302
    target = Target.objects.for_org(engineer.organization).get()
    assert (target.kind, target.method, target.response_path) == ("http_json", "PUT", "data.answer")
    assert target.header_names == ["X-Api-Token", "X-Team"]
    assert json.loads(target.headers.reveal())["X-Api-Token"] == HEADER_SECRET
    assert not target.api_key


def test_an_openai_target_without_a_model_is_refused_on_the_field(client, engineer):
    response = client.post(BASE + "targets/new/", {**OPENAI, "model": "", "api_key": KEY})
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        '<ul class="errorlist" id="id_model_error">'
        "<li>Name the model the endpoint should use.</li></ul>"
    ) in html
    assert "type them again before saving" in html
    _assert_no_secret(html)
    assert not Target.objects.for_org(engineer.organization).exists()
    assert not AuditEvent.objects.for_org(engineer.organization).filter(action="target.create")


def test_a_broken_http_json_target_shows_each_problem_and_saves_nothing(client, engineer):
    data = {
        **HTTP_JSON,
        "body_template": '{"q": ',
        "response_path": "",
        "headers": '{"X-Api-Token": "' + HEADER_SECRET + '", "Host": "x"}',
    }
    response = client.post(BASE + "targets/new/", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "The body template is not valid JSON" in html
    assert "A response path is needed" in html
    assert "Header &quot;Host&quot; is set by the client and cannot be changed." in html
    _assert_no_secret(html)
    assert not Target.objects.for_org(engineer.organization).exists()


def test_form_level_errors_and_duplicate_names(client, engineer):
    _target(engineer.organization, name="Support agent")
    response = client.post(
        BASE + "targets/new/", {**OPENAI, "url": "ftp://x.example.com", "timeout_s": "soon"}
    )
    assert response.status_code == 400
    assert "Enter a number." in response.content.decode()
    response = client.post(BASE + "targets/new/", {**OPENAI, "url": "ftp://x.example.com"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Use an http:// or https:// URL." in html
    response = client.post(BASE + "targets/new/", OPENAI)
    assert "Another target has this name." in response.content.decode()
    assert Target.objects.for_org(engineer.organization).count() == 1


# --------------------------------------------------------------------------- edit and secrets


def test_the_edit_form_never_shows_a_stored_secret(client, engineer):
    target = _with_secrets(engineer.organization)
    html = client.get(f"{BASE}targets/{target.pk}/").content.decode()
    _assert_no_secret(html)
    assert "Stored encrypted. Leave empty to keep the current key." in html
    assert "Remove the stored key" in html and "Remove the stored headers" in html
    assert "<code>X-Api-Token</code>, <code>X-Team</code>" in html
    assert 'type="password" name="api_key"' in html and 'autocomplete="new-password"' in html


def test_saving_with_empty_secret_fields_keeps_them(client, engineer):
    target = _with_secrets(engineer.organization)
    response = client.post(f"{BASE}targets/{target.pk}/", _form(target, name="Renamed"))
    assert response.status_code == 302
    target = _fresh(target)
    assert target.name == "Renamed" and target.api_key.reveal() == KEY
    assert json.loads(target.headers.reveal())["X-Api-Token"] == HEADER_SECRET


def test_typing_a_secret_replaces_it_and_the_checkboxes_clear_it(client, engineer):
    target = _with_secrets(engineer.organization)
    new = _form(target, api_key="sk-new-key-0000", headers='{"X-Team": "billing"}')
    client.post(f"{BASE}targets/{target.pk}/", new)
    target = _fresh(target)
    assert target.api_key.reveal() == "sk-new-key-0000"
    assert target.headers.reveal() == '{"X-Team": "billing"}' and target.header_names == ["X-Team"]
    client.post(
        f"{BASE}targets/{target.pk}/", _form(target, clear_api_key="on", clear_headers="on")
    )
    target = _fresh(target)
    assert not target.api_key and not target.headers and target.header_names == []


def test_a_new_key_and_remove_at_once_is_refused(client, engineer):
    target = _with_secrets(engineer.organization)
    both = _form(target, api_key="sk-other-1111", clear_api_key="on")
    response = client.post(f"{BASE}targets/{target.pk}/", both)
    assert response.status_code == 400
    assert "Either type a new value or remove the stored one" in response.content.decode()
    assert _fresh(target).api_key.reveal() == KEY


def test_a_refused_edit_shows_what_is_stored_and_changes_nothing(client, engineer):
    target = _with_secrets(engineer.organization, name="Agent")
    refused = _form(target, name="Renamed", model="", api_key="sk-typed-2222")
    response = client.post(f"{BASE}targets/{target.pk}/", refused)
    html = response.content.decode()
    assert response.status_code == 400
    assert "<h1>Agent</h1>" in html and "Name the model the endpoint should use." in html
    assert "sk-typed-2222" not in html
    _assert_no_secret(html)
    target = _fresh(target)
    assert target.name == "Agent" and target.api_key.reveal() == KEY


def test_secrets_reach_no_page_and_no_audit_event(client, engineer, reference_agent):
    org = engineer.organization
    headers = json.dumps({"X-Api-Token": HEADER_SECRET})
    client.post(
        BASE + "targets/new/",
        {**OPENAI, "api_key": KEY, "headers": headers, "url": reference_agent.base_url},
    )
    target = Target.objects.for_org(org).get()
    allow_loopback(org)
    pages = [
        client.get(BASE + "targets/"),
        client.get(f"{BASE}targets/{target.pk}/"),
        client.post(f"{BASE}targets/{target.pk}/", _form(target, name="Agent 2")),
        client.post(f"{BASE}targets/{target.pk}/", _form(target, model="")),
        client.post(f"{BASE}targets/{target.pk}/test/", **HX),
        client.post(f"{BASE}targets/{target.pk}/test/", follow=True),
        client.post(f"{BASE}targets/{target.pk}/archive/", {"archive": "1"}, follow=True),
    ]
    for page in pages:
        _assert_no_secret(page.content.decode())
    events = AuditEvent.objects.for_org(org).filter(object_type__contains="target")
    assert {e.action for e in events} >= {
        "target.create",
        "target.update",
        "target.test_connection",
        "target.archive",
    }
    for event in events:
        _assert_no_secret(json.dumps([event.before, event.after]))


# --------------------------------------------------------------------------- connection test


def test_connection_test_against_the_reference_agent(client, engineer, reference_agent):
    allow_loopback(engineer.organization)
    target = _target(engineer.organization, url=reference_agent.base_url)
    response = client.post(f"{BASE}targets/{target.pk}/test/", **HX)
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<div id="connection-check"')
    assert 'class="flash-success"' in html and "Connected: HTTP 200" in html
    target = _fresh(target)
    assert target.last_check_ok is True and target.last_checked_at is not None
    event = AuditEvent.objects.for_org(engineer.organization).get(action="target.test_connection")
    assert event.after["ok"] is True


def test_the_kept_key_is_the_one_sent(client, engineer, agent_factory):
    agent = agent_factory(api_key=KEY)
    allow_loopback(engineer.organization)
    target = _target(engineer.organization, url=agent.base_url)
    client.post(f"{BASE}targets/{target.pk}/", _form(target, api_key=KEY))
    client.post(f"{BASE}targets/{target.pk}/", _form(_fresh(target), name="Keyed agent"))
    client.post(f"{BASE}targets/{target.pk}/test/", **HX)
    assert _fresh(target).last_check_ok is True


def test_loopback_is_refused_unless_the_organization_allows_it(client, engineer, reference_agent):
    target = _target(engineer.organization, url=reference_agent.base_url)
    response = client.post(f"{BASE}targets/{target.pk}/test/")
    assert response.status_code == 302 and response["Location"] == f"{BASE}targets/{target.pk}/"
    target = _fresh(target)
    assert target.last_check_ok is False
    assert "refused by egress policy" in target.last_check_message
    html = client.get(response["Location"]).content.decode()
    assert "refused by egress policy" in html and 'class="flash-error"' in html


def test_a_closed_port_fails_clearly(client, engineer):
    allow_loopback(engineer.organization)
    target = _target(engineer.organization, url="http://127.0.0.1:9/v1")
    html = client.post(f"{BASE}targets/{target.pk}/test/", **HX).content.decode()
    assert "Connection failed: connection refused by 127.0.0.1:9 (nothing listening?)" in html
    assert 'class="flash-error"' in html
    assert _fresh(target).last_check_ok is False


def test_an_undecryptable_key_is_explained(client, engineer):
    target = _target(engineer.organization)
    Target.objects.for_org(engineer.organization).filter(pk=target.pk).update(
        api_key=Secret.from_token("gAAAAA-not-a-token")
    )
    html = client.post(f"{BASE}targets/{target.pk}/test/", **HX).content.decode()
    assert "cannot be decrypted" in html and "Enter them again" in html
    assert _fresh(target).last_check_ok is False


def test_another_organizations_target_is_not_there(client, engineer, org_b):
    other = _target(org_b)
    assert client.post(f"{BASE}targets/{other.pk}/test/").status_code == 404
    assert _fresh(other).last_checked_at is None


# --------------------------------------------------------------------------- archive


def test_archive_and_restore(client, engineer):
    target = _target(engineer.organization, name="Agent")
    response = client.post(f"{BASE}targets/{target.pk}/archive/", {"archive": "1"})
    assert response["Location"] == f"{BASE}targets/"
    assert _fresh(target).archived_at is not None
    assert "Restore" in client.get(f"{BASE}targets/{target.pk}/").content.decode()
    response = client.post(f"{BASE}targets/{target.pk}/archive/", {"archive": "0"})
    assert response["Location"] == f"{BASE}targets/{target.pk}/"
    assert _fresh(target).archived_at is None
    actions = AuditEvent.objects.for_org(engineer.organization).values_list("action", flat=True)
    assert {"target.archive", "target.restore"} <= set(actions)


# --------------------------------------------------------------------------- egress


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owners_and_admins_change_the_egress_settings(client, org_a, member_factory, role):
    client.force_login(member_factory(org_a, role).user)
    html = client.get(BASE + "egress/").content.decode()
    assert "169.254.0.0/16" in html and "fd00:ec2::254" in html and "100.100.100.200" in html
    data = {"allow_loopback": "on", "allowed_networks": "10.20.0.0/16\n\n fd12::/48 "}
    response = client.post(BASE + "egress/", data)
    assert response.status_code == 302
    row = EgressSettings.objects.for_org(org_a).get()
    assert (row.allow_loopback, row.allow_private) == (True, False)
    assert row.allowed_networks == ["10.20.0.0/16", "fd12::/48"]
    html = client.get(BASE + "egress/").content.decode()
    assert "10.20.0.0/16\nfd12::/48</textarea>" in html and "checked" in html
    assert AuditEvent.objects.for_org(org_a).filter(action="egress.update").count() == 1


@pytest.mark.parametrize("role", [Role.PRODUCT_OWNER, Role.ENGINEER, Role.VIEWER])
def test_other_roles_cannot_see_or_change_egress(client, org_a, member_factory, role):
    client.force_login(member_factory(org_a, role).user)
    assert client.get(BASE + "egress/").status_code == 403
    assert client.post(BASE + "egress/", {"allow_private": "on"}).status_code == 403
    assert not EgressSettings.objects.for_org(org_a).exists()
    assert f'href="{BASE}egress/"' not in client.get(BASE + "targets/").content.decode()


def test_a_bad_network_is_shown_and_nothing_changes(client_a, org_a):
    data = {"allow_private": "on", "allowed_networks": "10.0.0.1/8\nnot-a-net"}
    response = client_a.post(BASE + "egress/", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Not a CIDR network (e.g. 10.20.0.0/16): 10.0.0.1/8, not-a-net" in html
    assert "10.0.0.1/8\nnot-a-net</textarea>" in html  # what was typed, to fix it
    assert not EgressSettings.objects.for_org(org_a).exists()


def test_the_list_summarizes_what_targets_may_reach(client_a, org_a):
    allow_loopback(org_a)
    html = client_a.get(BASE + "targets/").content.decode()
    assert "Loopback: <strong>allowed</strong>" in html
    assert "Private networks: <strong>refused</strong>" in html
    assert f'href="{BASE}egress/"' in html
