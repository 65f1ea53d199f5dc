"""No secret comes back through error or answer text: a target that echoes its
`Authorization` header and its secret headers (as sent, base64, URL-encoded) leaves a mask
in every place its text reaches: the test-connection answer (API and browser), the
target's last check, the audit trail, run results, the JUnit report and the run page."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from evals import engine, services
from evals.models import EvalResult, Target
from genai_po.models import AuditEvent
from genai_po.redaction import MASK, Redactor
from genai_po.roles import Role
from tests.factories.evals import EvalPlanFactory, allow_loopback
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db

API_KEY = "sk-live-7Qz9RkT4pW2xV8nB3mD6"
HEADER_SECRET = "hdr-6Kq2Zt9Lm4Xp7Rw1"
JUDGE_KEY = "sk-judge-3Hn8Vc5Tq1Wz6Yb2"


def _echo(headers) -> str:
    """Everything a careless endpoint says back about the credentials it got."""
    auth = headers.get("Authorization", "")
    secret = headers.get("X-Api-Secret", "")
    dump = json.dumps({"authorization": auth, "x-api-secret": secret})
    return (
        f"denied {auth}; secret={secret}; "
        f"b64={base64.b64encode(dump.encode()).decode()}; url={quote(auth, safe='')}"
    )


class _Echo(BaseHTTPRequestHandler):
    status = 401

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        text = _echo(self.headers)
        if self.server.answer:
            body = json.dumps({
                "choices": [{"message": {"role": "assistant", "content": f"Sure. {text}"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4},
            }).encode()  # fmt: skip
            status = 200
        else:
            body, status = json.dumps({"error": {"message": text}}).encode(), 401
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_server():
    servers = []

    def make(*, answer: bool):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        server.answer = answer
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def engineer(org_a, member_factory, client):
    membership = member_factory(org_a, Role.ENGINEER, email="eng@example.com")
    client.force_login(membership.user)
    return membership


def _actor(membership):
    from genai_po.actors import Actor

    return Actor.for_member(
        user=membership.user, organization=membership.organization, role=membership.role
    )


def _target(org, url, *, api_key=API_KEY, name="Echoing agent") -> Target:
    allow_loopback(org)
    actor = _system(org)
    return services.target_create(actor=actor, data={
        "name": name, "kind": "openai_chat", "url": url, "model": "m", "api_key": api_key,
        "headers": json.dumps({"X-Api-Secret": HEADER_SECRET}), "max_attempts": 1,
        "timeout_s": 5,
    })  # fmt: skip


def _system(org):
    from genai_po.actors import Actor

    return Actor.system(organization=org, label="test")


def _leaks(text: str) -> list[str]:
    forms = [API_KEY, HEADER_SECRET, JUDGE_KEY, quote(API_KEY, safe="")]
    # The key's own characters inside the echoed base64 dump (the JSON around it is no secret).
    prefix = '{"authorization": "Bearer '
    encoded = base64.b64encode(json.dumps({"authorization": f"Bearer {API_KEY}"}).encode())
    start = -(-len(prefix) * 8 // 6) + 1
    forms.append(encoded.decode()[start : start + 16])
    return [form for form in forms if form in text]


def test_the_leak_detector_of_these_tests_sees_an_unmasked_echo():
    echo = _echo({"Authorization": f"Bearer {API_KEY}", "X-Api-Secret": HEADER_SECRET})
    assert len(_leaks(echo)) == 4  # the key (raw and URL-encoded alike), header, base64


def test_the_redactor_masks_every_form_of_a_secret():
    redactor = Redactor([f"Bearer {API_KEY}", HEADER_SECRET, "1", ""])
    embedded = base64.b64encode(f'{{"a": "x", "k": "Bearer {API_KEY}", "z": 1}}'.encode())
    text = (
        f"raw Bearer {API_KEY}; part {API_KEY}; header {HEADER_SECRET}; "
        f"b64 {base64.b64encode(API_KEY.encode()).decode()}; "
        f"urlsafe {base64.urlsafe_b64encode(HEADER_SECRET.encode()).decode()}; "
        f"inside {embedded.decode()}; url {quote('Bearer ' + API_KEY)}; "
        f"json {json.dumps(HEADER_SECRET + '/x')}; version 1"
    )
    out = redactor.redact(text)
    assert API_KEY not in out and HEADER_SECRET not in out
    assert base64.b64encode(API_KEY.encode()).decode() not in out
    assert embedded.decode()[12:40] not in out  # the key's part of a longer encoded text
    assert quote("Bearer " + API_KEY) not in out
    assert out.count(MASK) >= 8
    assert out.endswith("version 1")  # short values are left alone
    assert redactor.redact(None) is None and redactor.redact("") == ""
    assert repr(redactor) == "Redactor(••••)"


def test_api_test_connection_answers_and_keeps_only_masked_text(org_a, token_factory, echo_server):
    target = _target(org_a, echo_server(answer=False))
    _, raw = token_factory(org_a, scopes=["evals:run"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    body = api.post(f"/api/v1/targets/{target.pk}/test-connection/").json()

    assert body["ok"] is False
    assert body["message"].startswith(
        "Connection failed: HTTP 401: denied Bearer ••••; secret=••••"
    )
    assert _leaks(body["message"]) == []
    target.refresh_from_db()
    assert target.last_check_message == body["message"]
    event = AuditEvent.objects.for_org(org_a).get(action="target.test_connection")
    assert _leaks(json.dumps(event.after)) == [] and MASK in event.after["message"]


def test_browser_test_connection_shows_only_masked_text(client, engineer, org_a, echo_server):
    target = _target(org_a, echo_server(answer=True))

    page = client.post(
        f"/o/{org_a.slug}/evals/targets/{target.pk}/test/", HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "Connected: HTTP 200" in page and MASK in page
    assert _leaks(page) == []
    assert _leaks(client.get(f"/o/{org_a.slug}/evals/targets/").content.decode()) == []


@pytest.mark.parametrize("answer", [False, True], ids=["error-body", "answer-text"])
def test_run_results_junit_pages_and_api_never_show_a_secret(
    answer, client, engineer, org_a, token_factory, echo_server
):
    target = _target(org_a, echo_server(answer=answer))
    plan = EvalPlanFactory(use_case=UseCaseFactory(organization=org_a), target=target,
                           scorers=[{"type": "contains", "value": "refund"}])  # fmt: skip
    actor = _system(org_a)
    services.case_add(actor=actor, plan=plan, data={"prompt": "Where is my refund?"})
    run = services.run_start(actor=actor, plan=plan)
    engine.drive(run.pk)
    run.refresh_from_db()

    result = EvalResult.objects.for_org(org_a).get(run=run)
    stored = (
        result.output + result.error + json.dumps(result.assertions, ensure_ascii=False) + run.error
    )
    assert MASK in stored and _leaks(stored) == []
    _, raw = token_factory(org_a, scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    shown = [
        api.get(f"/api/v1/eval-runs/{run.pk}/results/").content.decode(),
        b"".join(api.get(f"/api/v1/eval-runs/{run.pk}/junit.xml").streaming_content).decode(),
        client.get(f"/o/{org_a.slug}/evals/runs/{run.pk}/").content.decode(),
        client.get(f"/o/{org_a.slug}/evals/runs/{run.pk}/cases/{result.case_id}/").content.decode(),
    ]
    for text in shown:
        assert _leaks(text) == []


def test_a_judge_that_echoes_its_key_leaves_only_a_mask(org_a, echo_server, reference_agent):
    from tests.factories.evals import TargetFactory

    allow_loopback(org_a)
    agent = TargetFactory(organization=org_a, url=reference_agent.base_url)
    judge = _target(org_a, echo_server(answer=False), api_key=JUDGE_KEY, name="Echoing judge")
    plan = EvalPlanFactory(
        use_case=UseCaseFactory(organization=org_a), target=agent, judge_target=judge,
        scorers=[{"type": "llm_judge", "rubric": "Is it polite?"}],
    )  # fmt: skip
    actor = _system(org_a)
    services.case_add(actor=actor, plan=plan, data={"prompt": "Where is my refund?"})
    run = services.run_start(actor=actor, plan=plan)
    engine.drive(run.pk)

    result = EvalResult.objects.for_org(org_a).get(run=run)
    reasons = json.dumps(result.assertions, ensure_ascii=False)
    assert "judge call failed: HTTP 401" in reasons and MASK in reasons
    assert _leaks(reasons + result.output + result.error) == []
