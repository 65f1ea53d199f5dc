"""The async HTTP client eval workers use to call AI targets (aiohttp, egress-guarded).

Every connection goes through :mod:`evals.netguard`:

* :class:`GuardedResolver` resolves a name once with the loop's ``getaddrinfo`` and
  passes the whole answer through :func:`netguard.check_resolved`; aiohttp then connects
  to exactly the checked IPs (numeric, never re-resolved), so DNS rebinding cannot pass.
* aiohttp skips the resolver for IP-literal hosts, so :class:`GuardedConnector` checks
  those itself *before* connecting, and checks the peer address of every connection it
  hands out (``transport.get_extra_info("peername")``) before a byte of the request is
  written. (aiohttp's ``on_connection_create_end`` trace signal carries no transport, so
  the check lives in ``TCPConnector.connect``.)
* ``trust_env=False`` (no proxy from the environment), redirects are reported, never
  followed, and response bodies are streamed up to a size cap.

:func:`post_json` never raises for network or HTTP trouble: it returns a :class:`Reply`
whose ``error`` says what went wrong in words a product owner can read. Timeouts are
results. :func:`call_with_retries` retries timeouts, resets, 5xx and 429 with exponential
backoff and full jitter, honouring ``Retry-After``; :class:`AdaptiveLimiter` halves the
concurrency on 429 and grows it back, with an optional requests-per-second rate limit.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import json
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.connector import NEEDS_CLEANUP_CLOSED
from yarl import URL

from evals import netguard
from evals.netguard import EgressPolicy, EgressRefused

__all__ = [
    "AdaptiveLimiter",
    "EgressRefused",
    "GuardedConnector",
    "GuardedResolver",
    "Reply",
    "call_with_retries",
    "check_peer",
    "make_session",
    "post_json",
]

TEXT_LIMIT = 2_000  # characters of body kept in Reply.text
_CHUNK = 64 * 1024
_AI_ADDRCONFIG = socket.AI_ADDRCONFIG & getattr(socket, "AI_MASK", -1)
_NUMERIC_FLAGS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV

# Reply.kind values: what kind of outcome, so callers need not parse the wording.
OK = "ok"
HTTP_ERROR = "http_error"
TIMEOUT = "timeout"
EGRESS = "egress_refused"
CONNECT = "connect_error"
RESET = "connection_reset"
DNS = "dns_error"
REDIRECT = "redirect"
TOO_LARGE = "too_large"
NOT_JSON = "not_json"
PROTOCOL = "protocol_error"
INVALID_URL = "invalid_url"

_RETRYABLE_KINDS = frozenset({TIMEOUT, RESET})


# --------------------------------------------------------------------------- egress


class GuardedResolver(AbstractResolver):
    """Resolve with the loop's getaddrinfo; return only addresses the policy allows.

    One refused answer refuses the name (``EgressRefused``), as in ``check_resolved``.
    """

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family, flags=_AI_ADDRCONFIG
        )
        results: list[ResolveResult] = []
        for fam, sockaddr in netguard.check_resolved(host, infos, self.policy):
            if fam == socket.AF_INET6 and len(sockaddr) < 3:
                continue  # IPv6 unsupported by this Python build
            results.append(
                ResolveResult(
                    hostname=host,
                    host=sockaddr[0],
                    port=sockaddr[1],
                    family=fam,
                    proto=0,
                    # Numeric: the connector must not resolve the checked address again.
                    flags=_NUMERIC_FLAGS,
                )
            )
        if not results:
            raise socket.gaierror(f"{host} resolved to no usable addresses")
        return results

    async def close(self) -> None:
        return None


def check_peer(transport: Any, policy: EgressPolicy) -> None:
    """Refuse a connection whose kernel-reported peer the policy does not allow."""
    peer = transport.get_extra_info("peername") if transport is not None else None
    if not peer:
        raise EgressRefused("the connection's peer address is unknown")
    netguard.check_address(peer[0], policy)


def _ip_literal(host: str) -> bool:
    try:
        netguard._parse(host)
    except ValueError:
        return False
    return True


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector that resolves through :class:`GuardedResolver`, checks IP-literal
    hosts before connecting, and checks the peer of every connection it hands out."""

    def __init__(self, policy: EgressPolicy, **kwargs: Any) -> None:
        super().__init__(resolver=GuardedResolver(policy), **kwargs)
        self.policy = policy

    async def connect(self, req, traces, timeout):  # type: ignore[override]
        host = req.url.raw_host or ""
        if _ip_literal(host):
            # aiohttp does not call the resolver for IP literals.
            netguard.check_address(host, self.policy)
        conn = await super().connect(req, traces, timeout)
        try:
            check_peer(conn.transport, self.policy)
        except EgressRefused:
            conn.close()  # never back to the pool
            raise
        return conn


def make_session(
    policy: EgressPolicy, *, limit: int = 8, timeout_s: float = 30
) -> aiohttp.ClientSession:
    """A ClientSession whose every connection is checked against ``policy``.

    Must be created inside a running event loop; close it (``async with``) when done.
    """
    connector = GuardedConnector(
        policy,
        limit=limit,
        ttl_dns_cache=10,  # caches checked answers only; short so DNS changes are seen
        # Only meaningful (and not deprecated) on the Python versions that need it.
        enable_cleanup_closed=NEEDS_CLEANUP_CLOSED,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        trust_env=False,  # an HTTP(S)_PROXY would choose the address for us
        auto_decompress=True,
        raise_for_status=False,
    )


# --------------------------------------------------------------------------- one call


@dataclass(frozen=True)
class Reply:
    """The outcome of one HTTP call; ``error`` is None only for a 2xx JSON answer."""

    status: int | None
    json: Any
    text: str
    elapsed_ms: float
    error: str | None = None
    retry_after: float | None = None
    kind: str = OK

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def retryable(self) -> bool:
        """Timeouts, connection resets, 5xx and 429 are worth another attempt."""
        if self.kind in _RETRYABLE_KINDS:
            return True
        return self.status is not None and (self.status == 429 or self.status >= 500)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _error_message(payload: Any) -> str | None:
    """The message of an OpenAI-style error body, if there is one."""
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
        if isinstance(payload.get("message"), str):
            return payload["message"]
    return None


def _fmt_s(seconds: float) -> str:
    return f"{seconds:g}"


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes | None:
    """The body, or None once it exceeds max_bytes (reading stops there)."""
    if resp.content_length is not None and resp.content_length > max_bytes:
        return None
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = await resp.content.read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > max_bytes:
            return None
        parts.append(chunk)


async def _post_once(
    session: aiohttp.ClientSession,
    url: str,
    json_body: Any,
    headers: Mapping[str, str],
    timeout_s: float,
    max_bytes: int,
    started: float,
    method: str = "POST",
) -> Reply:
    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000

    async with session.request(
        method,
        url,
        json=json_body,
        headers={"Accept": "application/json", **headers},
        allow_redirects=False,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    ) as resp:
        status = resp.status
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if 300 <= status < 400:
            resp.close()
            location = resp.headers.get("Location", "")[:200]
            where = f" (Location: {location})" if location else ""
            return Reply(
                status, None, "", elapsed(),
                f"HTTP {status}: redirects are not followed{where}", retry_after, REDIRECT,
            )  # fmt: skip
        body = await _read_capped(resp, max_bytes)
        if body is None:
            resp.close()  # drop the connection: the rest of the body is never read
            return Reply(
                status, None, "", elapsed(),
                f"response larger than {max_bytes} bytes", retry_after, TOO_LARGE,
            )  # fmt: skip
    try:
        text = body.decode(resp.charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset in Content-Type
        text = body.decode("utf-8", errors="replace")
    short = text[:TEXT_LIMIT]
    payload: Any = None
    json_error: str | None = None
    if body.strip():
        try:
            payload = json.loads(text)
        except ValueError as exc:
            json_error = f"not JSON: the {len(body)}-byte body does not parse ({exc})"
    else:
        json_error = "not JSON: the body is empty"
    if not 200 <= status < 300:
        message = _error_message(payload) or short.strip()[:300] or resp.reason or ""
        error = f"HTTP {status}: {message}" if message else f"HTTP {status}"
        return Reply(status, payload, short, elapsed(), error, retry_after, HTTP_ERROR)
    if json_error is not None:
        return Reply(status, None, short, elapsed(), json_error, retry_after, NOT_JSON)
    return Reply(status, payload, short, elapsed(), None, retry_after, OK)


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    *,
    json_body: Any,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30,
    max_bytes: int = 1_000_000,
    method: str = "POST",
) -> Reply:
    """POST (or ``method``) a JSON body and return a :class:`Reply`.

    Network trouble is a result, not a raise.

    Cancellation still propagates (a cancelled run must stop).
    """
    started = time.perf_counter()

    def failed(message: str, kind: str) -> Reply:
        return Reply(None, None, "", (time.perf_counter() - started) * 1000, message, None, kind)

    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        return failed(f"invalid URL: {exc}", INVALID_URL)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return failed("invalid URL: only absolute http(s) URLs are called", INVALID_URL)
    where = f"{parsed.host}:{parsed.port}"
    try:
        async with asyncio.timeout(timeout_s):
            return await _post_once(
                session, url, json_body, headers or {}, timeout_s, max_bytes, started, method
            )
    except EgressRefused as exc:
        return failed(f"refused by egress policy: {exc}", EGRESS)
    except TimeoutError:  # asyncio's and aiohttp's (ServerTimeoutError, ConnectionTimeoutError)
        return failed(f"timed out after {_fmt_s(timeout_s)} s", TIMEOUT)
    except aiohttp.ClientConnectorDNSError as exc:
        return failed(f"could not resolve {parsed.host}: {exc.os_error}", DNS)
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ConnectionRefusedError):
            return failed(f"connection refused by {where} (nothing listening?)", CONNECT)
        return failed(f"could not connect to {where}: {exc.strerror or exc.os_error}", CONNECT)
    except aiohttp.ServerDisconnectedError:
        return failed(f"connection closed by {where} before a complete response", RESET)
    except aiohttp.ClientOSError as exc:
        if isinstance(exc, ConnectionResetError) or exc.errno == errno.ECONNRESET:
            return failed(f"connection reset by {where}", RESET)
        return failed(f"network error talking to {where}: {exc}", RESET)
    except aiohttp.ClientPayloadError as exc:
        return failed(f"incomplete or corrupt response body from {where}: {exc}", RESET)
    except aiohttp.InvalidURL as exc:
        return failed(f"invalid URL: {exc}", INVALID_URL)
    except aiohttp.ClientResponseError as exc:
        return failed(f"invalid HTTP response from {where}: {exc.message}", PROTOCOL)
    except aiohttp.ClientError as exc:
        return failed(f"HTTP client error talking to {where}: {exc}", PROTOCOL)


# --------------------------------------------------------------------------- limiter


class AdaptiveLimiter:
    """Concurrency limiter that halves on 429 and grows back after a run of successes.

    ``async with limiter:`` holds one slot (and, with ``rate``, one token of a token
    bucket of size ``burst``). Call :meth:`on_429` / :meth:`on_success` (or
    :meth:`record` with a Reply) to adapt. Slots are handed over first-come first-served.
    Single event loop; not thread-safe.
    """

    def __init__(
        self,
        limit: int = 8,
        *,
        min_limit: int = 1,
        grow_after: int = 10,
        rate: float | None = None,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or not 1 <= min_limit <= limit:
            raise ValueError("need 1 <= min_limit <= limit")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.max_limit = limit
        self.min_limit = min_limit
        self.grow_after = grow_after
        self.limit = limit
        self.in_use = 0
        self.peak = 0  # most slots ever held at once
        self._streak = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._interval = 1 / rate if rate else 0.0
        self._tolerance = (burst - 1) * self._interval
        self._tat = float("-inf")  # GCRA theoretical arrival time
        self._clock = clock

    # slots ---------------------------------------------------------------------
    async def acquire(self) -> None:
        if self.in_use < self.limit and not self._waiters:
            self._take_slot()
        else:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut  # the releaser took the slot for us
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self.release()
                else:
                    self._waiters.remove(fut)
                raise
        if self._interval:
            try:
                await self._wait_for_token()
            except asyncio.CancelledError:
                self.release()
                raise

    def release(self) -> None:
        self.in_use -= 1
        self._wake()

    def _take_slot(self) -> None:
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)

    def _wake(self) -> None:
        while self._waiters and self.in_use < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self._take_slot()
                fut.set_result(None)

    async def _wait_for_token(self) -> None:
        now = self._clock()
        slot = max(self._tat, now - self._tolerance)
        self._tat = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)

    async def __aenter__(self) -> AdaptiveLimiter:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    # adaptation ------------------------------------------------------------------
    def on_429(self) -> None:
        self._streak = 0
        self.limit = max(self.min_limit, self.limit // 2)

    def on_success(self) -> None:
        self._streak += 1
        if self._streak >= self.grow_after and self.limit < self.max_limit:
            self._streak = 0
            self.limit += 1
            self._wake()

    def record(self, reply: Reply) -> None:
        """Adapt to a reply: 429 halves, a success counts towards growth, else no change."""
        if reply.status == 429:
            self.on_429()
        elif reply.ok:
            self.on_success()
        else:
            self._streak = 0


# --------------------------------------------------------------------------- retries


def backoff_delay(
    attempt: int,
    *,
    base_delay: float,
    max_delay: float,
    rng: random.Random,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Full jitter: uniform in [0, min(max_delay, base_delay * 2**(attempt-1))]; a
    Retry-After from the server replaces it, bounded by max_delay.
    """
    if retry_after is not None:
        return min(retry_after, max_delay)
    return rng.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))


async def call_with_retries(
    session: aiohttp.ClientSession,
    url: str,
    *,
    json_body: Any,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30,
    max_bytes: int = 1_000_000,
    attempts: int = 3,
    base_delay: float = 0.2,
    max_delay: float = 5,
    rng: random.Random | None = None,
    limiter: AdaptiveLimiter | None = None,
    sleep: Callable[[float], Any] = asyncio.sleep,
    method: str = "POST",
) -> tuple[Reply, int]:
    """Call ``post_json`` up to ``attempts`` times; return the final Reply and attempts used.

    Retries timeouts, connection resets, 5xx and 429 (never other 4xx, egress refusals,
    redirects, oversize or non-JSON 2xx answers). With a limiter, each attempt holds a
    slot (not the backoff sleep) and the limiter adapts to every reply.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not security
    attempt = 0
    while True:
        attempt += 1
        if limiter is not None:
            async with limiter:
                reply = await post_json(
                    session, url, json_body=json_body, headers=headers,
                    timeout_s=timeout_s, max_bytes=max_bytes, method=method,
                )  # fmt: skip
            limiter.record(reply)
        else:
            reply = await post_json(
                session, url, json_body=json_body, headers=headers,
                timeout_s=timeout_s, max_bytes=max_bytes, method=method,
            )  # fmt: skip
        if not reply.retryable or attempt >= attempts:
            return reply, attempt
        await sleep(
            backoff_delay(
                attempt,
                base_delay=base_delay,
                max_delay=max_delay,
                rng=rng,
                retry_after=reply.retry_after,
            )  # fmt: skip
        )
