"""The eval engine's HTTP client over real HTTP on loopback only: the reference agent
(not a model) and tiny http.server fixtures. Egress policy, redirects, size cap,
timeouts, retries, the adaptive limiter and throughput. No database."""

import asyncio
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from context.demo_policies import ACME_POLICIES
from evals import client
from evals.client import (
    AdaptiveLimiter,
    GuardedResolver,
    backoff_delay,
    call_with_retries,
    check_peer,
    make_session,
    parse_retry_after,
    post_json,
)
from evals.netguard import EgressPolicy, EgressRefused
from evals.reference_agent import MODEL_ID, start_in_thread


def _run(coroutine):
    """asyncio.run in its own thread: Playwright's sync API (browser tests in the same
    session) leaves an event loop running in the main thread."""
    result = {}

    def target():
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


LOOPBACK = EgressPolicy(allow_loopback=True)
BODY = {"model": MODEL_ID, "messages": [{"role": "user", "content": "What is your refund policy?"}]}


@pytest.fixture
def agent():
    """Start reference agents; returns (server, chat completions URL)."""
    servers = []

    def start(**options):
        server, _url = start_in_thread(knowledge=ACME_POLICIES, **options)
        servers.append(server)
        return server, f"{server.base_url}/chat/completions"

    yield start
    for server in servers:
        server.stop()


class _Tiny(BaseHTTPRequestHandler):
    """/redirect answers 302; /big streams 300 kB without Content-Length."""

    protocol_version = "HTTP/1.0"

    def do_POST(self):
        self.server.hits += 1
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", self.server.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            for _ in range(300):
                self.wfile.write(b" " * 1024)
        except OSError:
            pass  # the client stopped reading, as it should

    def log_message(self, format, *args):
        pass


@pytest.fixture
def tiny():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tiny)
    server.daemon_threads = True
    server.hits = 0
    server.location = ""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def post(url, policy=LOOPBACK, **kwargs):
    async def go():
        async with make_session(policy) as session:
            return await post_json(session, url, **{"json_body": BODY, **kwargs})

    return _run(go())


def retry(url, **kwargs):
    async def go():
        async with make_session(LOOPBACK) as session:
            return await call_with_retries(session, url, **{"json_body": BODY, **kwargs})

    return _run(go())


# --------------------------------------------------------------------------- one call


def test_chat_completion_succeeds(agent):
    server, url = agent()
    reply = post(url)
    assert reply.ok and reply.error is None and reply.kind == client.OK
    assert reply.status == 200
    assert reply.json["choices"][0]["message"]["content"]
    assert reply.json["reference_agent"] is True
    assert reply.elapsed_ms > 0 and reply.retry_after is None
    assert server.stats()["chat_requests"] == 1


def test_authorization_header_is_sent(agent):
    server, url = agent(api_key="sk-test-secret")
    good = post(url, headers={"Authorization": "Bearer sk-test-secret"})
    assert good.ok, good.error
    missing = post(url)
    assert missing.status == 401 and missing.kind == client.HTTP_ERROR
    assert missing.error.startswith("HTTP 401: Missing or wrong API key")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_refused_egress_never_reaches_the_server(agent, host):
    server, url = agent()
    port = server.server_address[1]
    reply = post(f"http://{host}:{port}/v1/chat/completions", policy=EgressPolicy())
    assert reply.status is None and reply.kind == client.EGRESS
    assert reply.error.startswith("refused by egress policy: ")
    assert "loopback" in reply.error
    assert server.stats()["chat_requests"] == 0


def test_resolver_returns_only_checked_numeric_addresses(monkeypatch):
    async def go(answers, policy):
        loop = asyncio.get_running_loop()

        async def fake_getaddrinfo(host, port, **kwargs):
            return answers

        monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
        return await GuardedResolver(policy).resolve("target.example", 443)

    public = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))
    metadata = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 443))
    mapped = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:127.0.0.1", 443, 0, 0))
    results = _run(go([public], EgressPolicy()))
    assert [(r["host"], r["port"], r["hostname"]) for r in results] == [
        ("93.184.216.34", 443, "target.example")
    ]
    assert results[0]["flags"] & socket.AI_NUMERICHOST
    # One bad answer refuses the name (a rebinding answer mixing public and private).
    with pytest.raises(EgressRefused, match="metadata"):
        _run(go([public, metadata], LOOPBACK))
    with pytest.raises(EgressRefused, match="loopback"):
        _run(go([mapped], EgressPolicy()))


def test_peer_check_refuses_a_disallowed_or_unknown_peer():
    def transport(peer):
        return SimpleNamespace(get_extra_info=lambda name: peer if name == "peername" else None)

    check_peer(transport(("127.0.0.1", 80)), LOOPBACK)
    check_peer(transport(("::1", 80, 0, 0)), LOOPBACK)
    with pytest.raises(EgressRefused):
        check_peer(transport(("10.0.0.7", 80)), LOOPBACK)
    with pytest.raises(EgressRefused):
        check_peer(transport(("169.254.169.254", 80)), EgressPolicy(allow_private=True))
    with pytest.raises(EgressRefused, match="unknown"):
        check_peer(transport(None), LOOPBACK)


def test_redirect_is_reported_not_followed(agent, tiny):
    server, url = agent()
    redirector, base = tiny
    redirector.location = url
    reply = post(f"{base}/redirect")
    assert reply.status == 302 and reply.kind == client.REDIRECT
    assert reply.error.startswith("HTTP 302: redirects are not followed")
    assert redirector.hits == 1
    assert server.stats()["chat_requests"] == 0


def test_size_cap_with_and_without_content_length(agent, tiny):
    _server, url = agent()
    reply = post(url, max_bytes=100)  # Content-Length says too large: nothing read
    assert reply.error == "response larger than 100 bytes" and reply.kind == client.TOO_LARGE
    assert reply.json is None
    _tiny, base = tiny
    streamed = post(f"{base}/big", max_bytes=50_000)  # no Content-Length: stop reading
    assert streamed.error == "response larger than 50000 bytes"
    assert streamed.status == 200


def test_timeout_is_a_result(agent):
    _server, url = agent(latency_ms=2000)
    started = time.perf_counter()
    reply = post(url, timeout_s=0.2)
    assert reply.error == "timed out after 0.2 s" and reply.kind == client.TIMEOUT
    assert reply.status is None
    assert time.perf_counter() - started < 1.5


def test_connection_refused_is_worded(agent):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reply = post(f"http://127.0.0.1:{port}/v1/chat/completions")
    assert reply.error == f"connection refused by 127.0.0.1:{port} (nothing listening?)"
    assert reply.kind == client.CONNECT


def test_bad_urls_are_results():
    assert post("ftp://127.0.0.1/x").kind == client.INVALID_URL
    assert post("/relative").kind == client.INVALID_URL


def test_garbage_is_not_json_and_not_retried(agent):
    server, url = agent(garbage_rate=1.0)
    reply, attempts = retry(url, base_delay=0.01)
    assert reply.status == 200 and reply.kind == client.NOT_JSON
    assert reply.error.startswith("not JSON: ")
    assert reply.text.startswith('{"id": "chatcmpl-ref-garbage"')
    assert attempts == 1 and server.stats()["chat_requests"] == 1


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize(("option", "status"), [("fail_rate", 500), ("status_429_rate", 429)])
def test_retries_5xx_and_429_up_to_attempts(agent, option, status):
    server, url = agent(**{option: 1.0})
    reply, attempts = retry(url, attempts=3, base_delay=0.01, max_delay=0.02)
    assert reply.status == status and attempts == 3
    assert server.stats()["chat_requests"] == 3


def test_retries_with_a_deterministic_fail_rate(agent):
    server, url = agent(fail_rate=0.5, seed=7)
    outcomes = [retry(url, attempts=4, base_delay=0.001, rng=random.Random(1)) for _ in range(10)]
    used = sum(attempts for _reply, attempts in outcomes)
    assert server.stats()["chat_requests"] == used > 10  # some calls needed retries
    for reply, attempts in outcomes:
        assert reply.ok or attempts == 4
    assert sum(reply.ok for reply, _ in outcomes) >= 8


def test_no_retry_on_4xx(agent):
    server, url = agent()
    reply, attempts = retry(url, json_body={"messages": []}, base_delay=0.01)
    assert reply.status == 400 and attempts == 1
    assert reply.error == "HTTP 400: 'model' is required."
    wrong_model, attempts = retry(url, json_body={**BODY, "model": "gpt-x"}, base_delay=0.01)
    assert wrong_model.status == 404 and attempts == 1
    assert server.stats()["chat_requests"] == 2


def test_timeouts_are_retried(agent):
    server, url = agent(latency_ms=400)
    reply, attempts = retry(url, timeout_s=0.1, attempts=2, base_delay=0.01)
    assert reply.kind == client.TIMEOUT and attempts == 2


def test_retry_after_is_honoured_and_bounded(agent):
    _server, url = agent(status_429_rate=1.0)  # the agent sends Retry-After: 1
    started = time.perf_counter()
    reply, attempts = retry(url, attempts=2, base_delay=0.001, max_delay=5)
    waited = time.perf_counter() - started
    assert reply.retry_after == 1.0 and attempts == 2
    assert 1.0 <= waited < 2.0
    started = time.perf_counter()
    retry(url, attempts=2, base_delay=0.001, max_delay=0.1)
    assert time.perf_counter() - started < 0.8


def test_backoff_is_exponential_full_jitter():
    rng = random.Random(3)
    for attempt, cap in [(1, 0.2), (2, 0.4), (3, 0.8), (8, 5.0)]:
        delays = [backoff_delay(attempt, base_delay=0.2, max_delay=5, rng=rng) for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= cap
        assert max(delays) > cap * 0.8  # spread over the whole range
    assert backoff_delay(1, base_delay=0.2, max_delay=5, rng=rng, retry_after=30) == 5
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


# --------------------------------------------------------------------------- limiter


def test_limiter_halves_on_429_and_grows_back():
    limiter = AdaptiveLimiter(8, grow_after=10)
    for expected in (4, 2, 1, 1):
        limiter.on_429()
        assert limiter.limit == expected
    for _ in range(9):
        limiter.on_success()
    assert limiter.limit == 1
    limiter.on_success()
    assert limiter.limit == 2
    for _ in range(200):
        limiter.on_success()
    assert limiter.limit == 8  # never above the configured maximum


def test_limiter_never_exceeds_its_limit_and_survives_cancellation():
    async def go():
        limiter = AdaptiveLimiter(5, grow_after=3)
        holding = peak = 0

        async def work(i):
            nonlocal holding, peak
            async with limiter:
                holding += 1
                peak = max(peak, holding)
                try:
                    await asyncio.sleep(0.005)
                finally:
                    holding -= 1
            if i == 7:
                limiter.on_429()
            else:
                limiter.on_success()

        tasks = [asyncio.create_task(work(i)) for i in range(60)]
        await asyncio.sleep(0.001)
        tasks[-1].cancel()  # a cancelled waiter gives nothing away
        await asyncio.gather(*tasks, return_exceptions=True)
        assert limiter.in_use == 0 and not limiter._waiters
        return peak, limiter.peak, limiter.limit

    peak, recorded, limit = _run(go())
    assert peak <= 5 and recorded <= 5
    assert limit == 5  # halved once to 2, then grew back to the maximum


def test_limiter_rate_limit():
    async def go(rate, burst, n):
        limiter = AdaptiveLimiter(8, rate=rate, burst=burst)
        started = time.perf_counter()
        for _ in range(n):
            async with limiter:
                pass
        return time.perf_counter() - started

    assert 0.18 <= _run(go(50, 1, 11)) < 0.5  # 10 intervals of 20 ms
    assert _run(go(50, 5, 5)) < 0.05  # a burst goes at once


def test_limiter_against_the_agent(agent):
    server, url = agent(latency_ms=30, status_429_rate=0.3, seed=2)

    class Recording(AdaptiveLimiter):
        limits: list

        def on_429(self):
            super().on_429()
            self.limits.append(self.limit)

    async def go():
        limiter = Recording(6, grow_after=2)
        limiter.limits = []
        async with make_session(LOOPBACK, limit=32) as session:
            results = await asyncio.gather(
                *(
                    call_with_retries(
                        session,
                        url,
                        json_body=BODY,
                        attempts=5,
                        base_delay=0.01,
                        max_delay=0.02,
                        limiter=limiter,
                    )  # fmt: skip
                    for _ in range(40)
                )
            )
        return limiter, results

    limiter, results = _run(go())
    stats = server.stats()
    assert stats["by_status"].get(429, 0) > 0
    assert min(limiter.limits) < 6  # halved on 429
    assert stats["max_in_flight"] <= limiter.peak <= 6
    assert stats["chat_requests"] == sum(attempts for _reply, attempts in results)
    assert sum(reply.ok for reply, _ in results) >= 38


def test_throughput_200_requests_at_concurrency_32(agent):
    server, url = agent(latency_ms=50)
    ideal = 200 * 0.05 / 32

    async def go():
        limiter = AdaptiveLimiter(32)
        async with make_session(LOOPBACK, limit=32) as session:
            started = time.perf_counter()
            results = await asyncio.gather(
                *(call_with_retries(session, url, json_body=BODY, limiter=limiter)
                  for _ in range(200))
            )  # fmt: skip
            return time.perf_counter() - started, results

    elapsed, results = _run(go())
    assert all(reply.ok for reply, _ in results)
    assert server.stats()["max_in_flight"] <= 32
    assert elapsed <= 1.5 * ideal + 0.5, f"{elapsed:.3f} s for an ideal of {ideal:.3f} s"
