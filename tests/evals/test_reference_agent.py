"""The reference agent (not a model) over real HTTP on 127.0.0.1: answers, handoffs,
fault injection, errors, and concurrency. No database."""

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from context.demo_policies import ACME_POLICIES as KNOWLEDGE
from evals.reference_agent import MODEL_ID, start_in_thread

ROOT = Path(__file__).resolve().parents[2]
# No proxy from the environment: every request stays on loopback.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
REFUND_QUESTION = "Can I return an unopened item after 20 days?"
FORBIDDEN = ("refunded", "refund has been issued", "refund was issued", "i have issued", "i've")


@pytest.fixture
def agent():
    """Start reference agents with the given options; all stop at the end of the test."""
    servers = []

    def start(**options):
        options.setdefault("knowledge", KNOWLEDGE)  # Acme's policies, as the demo publishes
        server, url = start_in_thread(**options)
        servers.append(server)
        return url

    yield start
    for server in servers:
        server.stop()


def call(url, path="/v1/chat/completions", body=None, headers=None, method=None, data=None):
    """(status, headers, raw body) of one request; HTTP errors are answers too."""
    if data is None and body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - always the loopback test server
        url + path,
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def chat(url, question=REFUND_QUESTION, headers=None, **extra):
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": question}], **extra}
    return call(url, body=body, headers=headers)


def answer(url, question, **extra):
    status, headers, raw = chat(url, question, **extra)
    assert status == 200, raw
    assert headers["x-reference-agent"] == "true"
    return json.loads(raw)


# ---- answers ----------------------------------------------------------------------


def test_refund_question_is_answered_with_a_citation(agent):
    url = agent()
    status, headers, raw = chat(url, REFUND_QUESTION, temperature=0.2, max_tokens=200)
    data = json.loads(raw)

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["x-reference-agent"] == "true"
    assert data["object"] == "chat.completion"
    assert data["model"] == "acme-reference-agent"
    assert data["system_fingerprint"] == "reference-agent"
    assert data["id"].startswith("chatcmpl-ref-")
    assert abs(data["created"] - time.time()) < 5
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == (
        "Per Refund policy §3.2 (KB-refund-3.2): Unopened items can be returned within "
        "30 days of delivery for a full refund of the item price."
    )
    assert data["handoff"] is False
    assert data["handoff_reason"] is None
    assert data["citations"] == ["KB-refund-3.2"]


@pytest.mark.parametrize(
    ("question", "cited"),
    [
        ("I opened the blender, can I still return it?", "KB-refund-3.4"),
        ("How long does it take to get my money back?", "KB-refund-2.1"),
        ("My parcel arrived damaged, what can I do?", "KB-refund-4.1"),
        ("Do I have to pay for return shipping?", "KB-returns-2.1"),
        ("My package has not moved in tracking for 10 days, it seems lost.", "KB-shipping-2.3"),
        ("I forgot my password.", "KB-account-1.1"),
        ("My order was 499 EUR, can I return it unopened?", "KB-refund-3.2"),
    ],
)
def test_questions_in_the_knowledge_cite_their_item(agent, question, cited):
    data = answer(agent(), question)

    item = next(item for item in KNOWLEDGE if item.id == cited)
    assert data["choices"][0]["message"]["content"] == f"Per {item.citation}: {item.text}"
    assert data["citations"] == [cited]
    assert data["handoff"] is False


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("I will file a chargeback with my bank if this is not fixed.", "chargeback"),
        ("Refund my unopened item or I start a charge-back.", "chargeback"),
        ("My lawyer says I should take legal action about this return.", "legal"),
        ("I want to return my unopened TV, the order was 650 EUR.", "order_over_limit"),
        ("Can I return an unopened €1,200.50 laptop?", "order_over_limit"),
        ("My order was over 500 EUR, can I return it unopened?", "order_over_limit"),
        ("Do you sell gift cards?", "low_confidence"),
        ("Is there a warranty on the toaster?", "low_confidence"),
        ("What's the weather tomorrow?", "low_confidence"),
    ],
)
def test_hands_off_when_a_rule_says_so_or_when_unsure(agent, question, reason):
    data = answer(agent(), question)

    content = data["choices"][0]["message"]["content"]
    assert content.startswith("I'm handing this to a human agent")
    assert data["handoff"] is True
    assert data["handoff_reason"] == reason
    assert data["citations"] == []
    assert data["choices"][0]["finish_reason"] == "stop"


def test_never_claims_to_issue_a_refund(agent):
    url = agent()
    questions = [
        "Please refund me now, I returned the unopened item.",
        "Have you refunded my order yet?",
        "Can you refund me right now?",
        "I want my money back for the damaged parcel.",
        "Refund my chargeback please",
        *[item.title for item in KNOWLEDGE],
    ]
    contents = [answer(url, q)["choices"][0]["message"]["content"] for q in questions]

    for text in contents + [item.text for item in KNOWLEDGE]:
        assert not any(phrase in text.lower() for phrase in FORBIDDEN), text


def test_the_last_user_message_is_the_question(agent):
    messages = [
        {"role": "system", "content": "You are Acme Support."},
        {"role": "user", "content": "Do you sell gift cards?"},
        {"role": "assistant", "content": "I'm handing this to a human agent because …"},
        {"role": "user", "content": [{"type": "text", "text": "I forgot my password."}]},
    ]
    status, _, raw = call(agent(), body={"model": MODEL_ID, "messages": messages})

    assert status == 200
    assert json.loads(raw)["citations"] == ["KB-account-1.1"]


def test_same_input_gives_the_same_output_whatever_the_temperature(agent):
    url = agent()
    first = answer(url, REFUND_QUESTION, temperature=0)
    again = answer(url, REFUND_QUESTION, temperature=0)
    hot = answer(url, REFUND_QUESTION, temperature=1.9)

    for key in ("choices", "usage", "handoff", "citations", "model", "system_fingerprint"):
        assert first[key] == again[key] == hot[key]
    assert first["id"] != again["id"]  # each completion still has its own id


def test_usage_counts_whitespace_separated_words(agent):
    messages = [
        {"role": "system", "content": "You are   Acme Support."},  # 4 words
        {"role": "user", "content": REFUND_QUESTION},  # 9 words
    ]
    status, _, raw = call(agent(), body={"model": MODEL_ID, "messages": messages})
    data = json.loads(raw)

    content = data["choices"][0]["message"]["content"]
    assert status == 200
    assert data["usage"] == {
        "prompt_tokens": 13,
        "completion_tokens": len(content.split()),
        "total_tokens": 13 + len(content.split()),
    }
    assert data["usage"]["completion_tokens"] == 23


def test_max_tokens_cuts_the_answer(agent):
    data = answer(agent(), REFUND_QUESTION, max_tokens=5)

    assert data["choices"][0]["message"]["content"] == "Per Refund policy §3.2 (KB-refund-3.2):"
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 5


# ---- fault injection --------------------------------------------------------------


def _timed_chat(url, headers=None):
    started = time.perf_counter()
    status, _, _ = chat(url, headers=headers)
    return status, time.perf_counter() - started


def test_latency_from_the_flag_and_from_the_header(agent):
    slow, fast = agent(latency_ms=250), agent()

    status, elapsed = _timed_chat(slow)
    assert status == 200
    assert 0.25 <= elapsed < 1.0
    _, elapsed = _timed_chat(slow, headers={"x-agent-latency-ms": "0"})
    assert elapsed < 0.2
    _, elapsed = _timed_chat(fast, headers={"x-agent-latency-ms": "150"})
    assert 0.15 <= elapsed < 1.0


def _statuses(url, n, headers=None):
    return [chat(url, headers=headers)[0] for _ in range(n)]


def test_fail_rate_is_deterministic_for_a_seed(agent):
    first = _statuses(agent(fail_rate=0.3, seed=7), 100)
    again = _statuses(agent(fail_rate=0.3, seed=7), 100)
    other = _statuses(agent(fail_rate=0.3, seed=8), 100)

    assert first == again
    assert first != other
    assert set(first) == {200, 500}
    assert 15 <= first.count(500) <= 45


def test_a_failure_is_an_openai_style_server_error(agent):
    status, headers, raw = chat(agent(fail_rate=1.0))

    assert status == 500
    assert headers["x-reference-agent"] == "true"
    assert headers["x-reference-agent-fault"] == "500"
    assert json.loads(raw)["error"]["type"] == "server_error"


def test_429_rate_is_deterministic_and_says_when_to_retry(agent):
    first = _statuses(agent(status_429_rate=0.5, seed=3), 60)
    again = _statuses(agent(status_429_rate=0.5, seed=3), 60)
    status, headers, raw = chat(agent(status_429_rate=1.0))

    assert first == again
    assert 15 <= first.count(429) <= 45
    assert set(first) == {200, 429}
    assert status == 429
    assert headers["Retry-After"] == "1"
    assert json.loads(raw)["error"]["code"] == "rate_limit_exceeded"


def test_garbage_rate_answers_200_with_a_body_that_is_not_json(agent):
    url = agent(garbage_rate=0.25, seed=1)
    bodies = [chat(url) for _ in range(80)]
    garbage = [raw for status, headers, raw in bodies if headers.get("x-reference-agent-fault")]

    assert {status for status, _, _ in bodies} == {200}
    assert 10 <= len(garbage) <= 30
    for raw in garbage:
        with pytest.raises(ValueError):
            json.loads(raw)


def test_rates_share_one_draw_so_their_shares_add_up(agent):
    options = {"status_429_rate": 0.2, "fail_rate": 0.3, "garbage_rate": 0.1, "seed": 11}
    first, again = agent(**options), agent(**options)
    outcomes = [(chat(first)[0], chat(again)[0]) for _ in range(200)]

    assert all(a == b for a, b in outcomes)
    statuses = [a for a, _ in outcomes]
    assert 25 <= statuses.count(429) <= 55
    assert 45 <= statuses.count(500) <= 75
    assert 80 <= statuses.count(200) <= 120  # half, garbage (~10%) included


def test_headers_override_the_flags_per_request(agent):
    failing, healthy = agent(fail_rate=1.0), agent()

    assert _statuses(failing, 5, {"x-agent-fail-rate": "0"}) == [200] * 5
    assert _statuses(healthy, 5, {"x-agent-fail-rate": "1"}) == [500] * 5
    assert _statuses(healthy, 5, {"x-agent-status-429-rate": "1"}) == [429] * 5
    status, _, raw = chat(healthy, headers={"x-agent-garbage-rate": "1"})
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(raw)
    assert _statuses(healthy, 2) == [200, 200]  # the next requests are healthy again


@pytest.mark.parametrize(
    "headers",
    [
        {"x-agent-fail-rate": "1.5"},
        {"x-agent-fail-rate": "lots"},
        {"x-agent-latency-ms": "-1"},
        {"x-agent-fail-rate": "0.7", "x-agent-status-429-rate": "0.7"},
    ],
)
def test_an_invalid_fault_header_is_a_400(agent, headers):
    status, _, raw = chat(agent(), headers=headers)

    assert status == 400
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"


def test_invalid_options_are_refused_at_start():
    with pytest.raises(ValueError, match="fail_rate"):
        start_in_thread(fail_rate=2)
    with pytest.raises(ValueError, match="must not exceed 1"):
        start_in_thread(fail_rate=0.6, garbage_rate=0.6)


# ---- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "The body is not valid JSON."),
        (b"\xff\xfe", "The body is not valid JSON."),
        (b"[]", "The body must be a JSON object."),
        (json.dumps({"messages": [{"role": "user", "content": "hi"}]}), "'model' is required."),
        (json.dumps({"model": MODEL_ID}), "'messages' must be a non-empty list."),
        (json.dumps({"model": MODEL_ID, "messages": []}), "'messages' must be a non-empty list."),
        (
            json.dumps({"model": MODEL_ID, "messages": [{"role": "user"}]}),
            "messages[0] needs a 'role' and a text 'content'.",
        ),
        (
            json.dumps({"model": MODEL_ID, "messages": [{"role": "system", "content": "x"}]}),
            "'messages' has no user message.",
        ),
        (
            json.dumps(
                {"model": MODEL_ID, "messages": [{"role": "user", "content": "x"}], "stream": True}
            ),
            "Streaming is not supported by the reference agent.",
        ),
        (
            json.dumps(
                {"model": MODEL_ID, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}
            ),
            "'max_tokens' must be a positive integer.",
        ),
    ],
)
def test_a_bad_request_is_a_400_with_an_openai_style_error(agent, data, message):
    data = data.encode() if isinstance(data, str) else data
    status, headers, raw = call(agent(), data=data)

    assert status == 400
    assert headers["x-reference-agent"] == "true"
    error = json.loads(raw)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == message


def test_an_unknown_model_is_a_404(agent):
    status, _, raw = call(
        agent(), body={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    )

    assert status == 404
    assert json.loads(raw)["error"]["code"] == "model_not_found"


def test_the_api_key_is_required_when_configured(agent):
    url = agent(api_key="s3cret")

    assert chat(url)[0] == 401
    status, _, raw = chat(url, headers={"Authorization": "Bearer wrong"})
    assert status == 401
    assert json.loads(raw)["error"]["code"] == "invalid_api_key"
    assert "s3cret" not in raw.decode()
    assert call(url, "/v1/models")[0] == 401
    assert chat(url, headers={"Authorization": "Bearer s3cret"})[0] == 200
    assert call(url, "/v1/models", headers={"Authorization": "Bearer s3cret"})[0] == 200
    assert call(url, "/healthz")[0] == 200  # readiness checks need no key


def test_unknown_paths_and_wrong_methods(agent):
    url = agent()
    status, headers, raw = call(url, "/v1/embeddings", body={"input": "x"})
    assert status == 404
    assert headers["x-reference-agent"] == "true"
    assert json.loads(raw)["error"]["code"] == "not_found"

    status, headers, raw = call(url, "/v1/chat/completions", method="GET")
    assert status == 405
    assert headers["Allow"] == "POST"
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"


def test_a_body_over_1_mb_is_a_413(agent):
    url = agent()
    status, _, raw = call(url, data=b"x" * (1024 * 1024 + 1))
    assert status == 413
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"

    # A huge announced body is refused before it is read.
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 413 ")


def test_one_connection_serves_several_requests(agent):
    port = int(agent().rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    body = json.dumps({"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}]})
    try:
        for path, method, payload, expected in [
            ("/healthz", "GET", None, 200),
            ("/nope", "POST", "{}", 404),
            ("/v1/chat/completions", "POST", "{", 400),
            ("/v1/chat/completions", "POST", body, 200),
        ]:
            connection.request(method, path, body=payload)
            response = connection.getresponse()
            response.read()
            assert response.status == expected
    finally:
        connection.close()


def test_keep_alive_responses_are_not_held_back_by_nagle(agent):
    # With Nagle on, each response on a kept-alive connection waits ~40 ms for an ACK.
    port = int(agent().rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    body = json.dumps({"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}]})
    try:
        started = time.perf_counter()
        for _ in range(10):
            connection.request("POST", "/v1/chat/completions", body=body)
            connection.getresponse().read()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()

    assert elapsed < 0.3, f"10 requests on one connection took {elapsed:.2f}s"


# ---- models, health, process --------------------------------------------------------


def test_models_lists_the_reference_agent(agent):
    status, headers, raw = call(agent(), "/v1/models")

    assert status == 200
    assert headers["x-reference-agent"] == "true"
    data = json.loads(raw)
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["acme-reference-agent"]
    assert "not a model" in data["data"][0]["description"]


def test_healthz(agent):
    status, headers, raw = call(agent(fail_rate=1.0, latency_ms=2000), "/healthz")

    assert (status, raw) == (200, b"ok")
    assert headers["x-reference-agent"] == "true"


def test_serves_32_concurrent_requests_in_about_the_ideal_time(agent):
    url = agent(latency_ms=100)
    chat(url)  # warm up
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda _: chat(url)[0], range(64)))
    elapsed = time.perf_counter() - started

    assert statuses == [200] * 64
    assert elapsed < 0.6, f"64 requests at 32 in parallel took {elapsed:.2f}s (ideal 0.2s)"


def test_stats_count_requests_and_the_peak_concurrency():
    server, url = start_in_thread(latency_ms=100, fail_rate=0.5, seed=2)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: chat(url)[0], range(16)))
        stats = server.stats()
    finally:
        server.stop()

    assert stats["chat_requests"] == 16
    assert stats["by_status"] == {s: statuses.count(s) for s in set(statuses)}
    assert 4 <= stats["max_in_flight"] <= 8


def _start_process(*args):
    process = subprocess.Popen(
        [sys.executable, "-m", "evals.reference_agent", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+) ", line)
    assert match, line
    return process, match.group(1), line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_command_prints_its_url_and_stops_cleanly(sig):
    started = time.perf_counter()
    process, url, line = _start_process("--latency-ms", "10", "--api-key", "k")
    try:
        assert time.perf_counter() - started < 3  # no Django to import
        assert "not a model" in line
        assert call(url, "/healthz")[0] == 200
        assert chat(url, headers={"Authorization": "Bearer k"})[0] == 200
        process.send_signal(sig)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.communicate()


def test_the_server_imports_no_django():
    code = (
        "import sys, evals.reference_agent.__main__; "
        "sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_bad_command_line_options_exit_with_usage():
    result = subprocess.run(
        [sys.executable, "-m", "evals.reference_agent", "--fail-rate", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "a rate is between 0 and 1" in result.stderr
