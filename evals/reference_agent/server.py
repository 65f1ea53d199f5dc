"""The reference agent's HTTP side: an OpenAI-compatible chat-completions service on
127.0.0.1, with fault injection for tests and benchmarks. A reference agent, not a model.

Standard library only and no Django import, so it starts in a fraction of a second and
runs on its own (`python -m evals.reference_agent`) or in a thread (`start_in_thread`).

Conventions a caller can rely on:
- It answers from the knowledge it retrieves for each question: the organization's
  knowledge search API (`knowledge_url`), or a fixed set given by the caller. With neither,
  it knows nothing and hands every question off.
- Answers are deterministic: the same messages and the same knowledge give the same
  content, citations and usage.
  `temperature` is accepted and ignored; `id` and `created` differ per request.
- Tokens are counted as whitespace-separated words (prompt: all message contents).
- Fault injection applies to `POST /v1/chat/completions` only (`/healthz` and
  `/v1/models` stay reliable for readiness checks). Each such request takes the next
  number n of a counter and draws u from `random.Random(f"...{seed}:{n}")`; u falls in
  [0, 429 rate) -> 429, then [.., + fail rate) -> 500, then [.., + garbage rate) ->
  200 with a non-JSON body. So N requests give the same outcomes for the same seed.
"""

import hashlib
import hmac
import json
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from evals.reference_agent.knowledge import KnowledgeItem, count_tokens, reply
from evals.reference_agent.retrieval import HttpRetriever, Retriever, StaticRetriever

MODEL_ID = "acme-reference-agent"
FINGERPRINT = "reference-agent"
HOST = "127.0.0.1"  # loopback only, by design
MAX_BODY_BYTES = 1024 * 1024
_DRAIN_LIMIT = 16 * MAX_BODY_BYTES  # larger bodies are not read: the connection closes
MAX_LATENCY_MS = 60_000
GARBAGE_BODY = b'{"id": "chatcmpl-ref-garbage", "choices": [{"message": {"content": "trunc'


@dataclass(frozen=True)
class AgentOptions:
    """Fault injection and auth settings; each rate is a share of requests, 0..1."""

    latency_ms: int = 0
    fail_rate: float = 0.0
    status_429_rate: float = 0.0
    garbage_rate: float = 0.0
    seed: int = 0
    api_key: str | None = field(default=None, repr=False)
    verbose: bool = False
    # The knowledge search API to answer from, and its token (or a file holding it).
    knowledge_url: str = ""
    knowledge_token: str = field(default="", repr=False)
    knowledge_token_file: str = ""
    use_case: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be between 0 and {MAX_LATENCY_MS}")
        for name in ("fail_rate", "status_429_rate", "garbage_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.fail_rate + self.status_429_rate + self.garbage_rate > 1.0:
            raise ValueError("fail_rate + status_429_rate + garbage_rate must not exceed 1")


class ReferenceAgentServer(ThreadingHTTPServer):
    """One thread per connection; a deep accept queue so 32+ concurrent clients connect
    at once instead of waiting on SYN retries."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self, port: int, options: AgentOptions,
        knowledge: "Retriever | Sequence[KnowledgeItem] | None" = None,
    ) -> None:  # fmt: skip
        self.options = options
        if callable(knowledge):
            self.retrieve: Retriever = knowledge
        elif knowledge is not None:
            self.retrieve = StaticRetriever(knowledge)
        elif options.knowledge_url:
            self.retrieve = HttpRetriever(
                options.knowledge_url, token=options.knowledge_token,
                token_file=options.knowledge_token_file, use_case=options.use_case,
            )  # fmt: skip
        else:
            self.retrieve = StaticRetriever(())
        self._lock = threading.Lock()
        self._counter = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._by_status: dict[int, int] = {}
        super().__init__((HOST, port), _Handler)

    @property
    def url(self) -> str:
        """Root URL (health check at `/healthz`)."""
        return f"http://{HOST}:{self.server_address[1]}"

    @property
    def base_url(self) -> str:
        """OpenAI base URL, as an OpenAI-compatible client or target expects it."""
        return f"{self.url}/v1"

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.shutdown()
        self.server_close()

    def stats(self) -> dict:
        """Requests seen so far: total chat completions, responses by status, and the
        largest number of requests handled at once (to check a client's concurrency)."""
        with self._lock:
            return {
                "chat_requests": self._counter,
                "by_status": dict(self._by_status),
                "max_in_flight": self._max_in_flight,
            }

    def _next_draw(self, seed: int) -> float:
        with self._lock:
            n = self._counter
            self._counter += 1
        return random.Random(f"reference-agent:{seed}:{n}").random()  # noqa: S311 - test faults, not security

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _leave(self, status: int) -> None:
        with self._lock:
            self._in_flight -= 1
            self._by_status[status] = self._by_status.get(status, 0) + 1


def start_in_thread(port: int = 0, knowledge=None, **options) -> tuple[ReferenceAgentServer, str]:
    """Start a server on 127.0.0.1 (port 0: any free port) in a daemon thread.

    `knowledge`: the items to answer from, or a function giving them for a question (else
    the `knowledge_url` option, else none). Returns the server and its root URL;
    `server.base_url` is the OpenAI base URL and `server.stop()` shuts it down.
    """
    server = ReferenceAgentServer(port, AgentOptions(**options), knowledge)
    thread = threading.Thread(
        target=server.serve_forever, name="reference-agent", kwargs={"poll_interval": 0.1}
    )
    thread.daemon = True
    thread.start()
    return server, server.url


class _RequestError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", **kw):
        super().__init__(message)
        self.status, self.message, self.kind, self.extra = status, message, kind, kw


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks do not pay a connect per call
    server_version = "AcmeReferenceAgent/1"
    timeout = 30  # idle keep-alive connections release their thread
    # Headers and body go out in two writes; with Nagle on, a keep-alive client waits for
    # a delayed ACK (~40 ms) on every response.
    disable_nagle_algorithm = True
    server: ReferenceAgentServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def log_message(self, format: str, *args) -> None:
        if self.server.options.verbose:
            super().log_message(format, *args)

    def _handle(self, method: str) -> None:
        self.status_sent = 0
        self.route = urlsplit(self.path).path
        self.in_flight = method == "POST" and self.route == "/v1/chat/completions"
        if self.in_flight:
            self.server._enter()
        try:
            body = self._read_body()
            self._route(method, body)
        except _RequestError as error:
            self._send_error(error)
        finally:
            self._leave(self.status_sent)

    def _leave(self, status: int) -> None:
        # Leaves before the answer is written, so a client's next request on the same
        # connection is never counted while this one still is (exact peak concurrency).
        if self.in_flight:
            self.in_flight = False
            self.server._leave(status)

    def _route(self, method: str, body: bytes) -> None:
        routes = {
            "/healthz": ("GET", self._healthz),
            "/v1/models": ("GET", self._models),
            "/v1/chat/completions": ("POST", self._chat),
        }
        if self.route not in routes:
            raise _RequestError(404, f"Unknown path {self.route!r}.", code="not_found")
        allowed, view = routes[self.route]
        if method != allowed:
            raise _RequestError(405, f"Use {allowed} on {self.route}.", allow=allowed)
        if self.route != "/healthz":
            self._check_auth()
        view(body)

    def _read_body(self) -> bytes:
        raw_length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise _RequestError(411, "Send a Content-Length; chunked bodies are not supported.")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise _RequestError(400, "Invalid Content-Length header.") from None
        if length > MAX_BODY_BYTES:
            # Drain a moderately large body so the client reads our answer instead of a
            # connection reset; beyond that, answer and close without reading.
            if length <= _DRAIN_LIMIT:
                while length > 0:
                    chunk = self.rfile.read(min(length, 65536))
                    if not chunk:
                        break
                    length -= len(chunk)
            else:
                self.close_connection = True
            raise _RequestError(413, f"Request body over {MAX_BODY_BYTES} bytes.")
        return self.rfile.read(length)

    def _check_auth(self) -> None:
        key = self.server.options.api_key
        if key is None:
            return
        given = self.headers.get("Authorization", "")
        # Constant-time comparison: the key is a secret.
        if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            raise _RequestError(
                401, "Missing or wrong API key (Authorization: Bearer …).", code="invalid_api_key"
            )

    def _healthz(self, body: bytes) -> None:
        self._send(200, b"ok", "text/plain; charset=utf-8")

    def _models(self, body: bytes) -> None:
        self._send_json(
            200,
            {
                "object": "list",
                "data": [
                    {
                        "id": MODEL_ID,
                        "object": "model",
                        "created": 0,
                        "owned_by": "genai-po-workspace",
                        "description": "Reference agent, not a model: a deterministic "
                        "Acme Support agent for demos and tests.",
                    }
                ],
            },
        )

    def _chat(self, body: bytes) -> None:
        options = self._request_options()
        if options.latency_ms:
            time.sleep(options.latency_ms / 1000)
        u = self.server._next_draw(options.seed)
        if u < options.status_429_rate:
            raise _RequestError(
                429,
                "Rate limit reached (reference agent fault injection).",
                "requests",
                code="rate_limit_exceeded",
                retry_after="1",
                fault="429",
            )
        u -= options.status_429_rate
        if u < options.fail_rate:
            raise _RequestError(
                500, "Injected failure (reference agent fault injection).", "server_error",
                fault="500",
            )  # fmt: skip
        u -= options.fail_rate
        if u < options.garbage_rate:
            self._send(200, GARBAGE_BODY, "application/json", fault="garbage")
            return
        request = _parse_chat(body)
        self._send_json(200, _completion(request, self.server.retrieve(request.question)))

    def _request_options(self) -> AgentOptions:
        """The server's options with the per-request `x-agent-*` header overrides."""
        overrides: dict = {}
        for header, name, cast in (
            ("x-agent-latency-ms", "latency_ms", int),
            ("x-agent-fail-rate", "fail_rate", float),
            ("x-agent-status-429-rate", "status_429_rate", float),
            ("x-agent-garbage-rate", "garbage_rate", float),
        ):
            value = self.headers.get(header)
            if value is not None:
                try:
                    overrides[name] = cast(value)
                except ValueError:
                    raise _RequestError(400, f"Invalid {header} header: {value!r}.") from None
        if not overrides:
            return self.server.options
        try:
            return replace(self.server.options, **overrides)
        except ValueError as error:
            raise _RequestError(400, f"Invalid fault header: {error}.") from None

    def _send_error(self, error: _RequestError) -> None:
        extra = dict(error.extra)
        headers = {}
        if "retry_after" in extra:
            headers["Retry-After"] = extra.pop("retry_after")
        if "allow" in extra:
            headers["Allow"] = extra.pop("allow")
        fault = extra.pop("fault", None)
        payload = {
            "error": {
                "message": error.message,
                "type": error.kind,
                "param": extra.pop("param", None),
                "code": extra.pop("code", None),
            }
        }
        self._send_json(error.status, payload, fault=fault, headers=headers)

    def _send_json(
        self, status: int, payload: dict, fault: str | None = None, headers: dict | None = None
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, "application/json", fault=fault, headers=headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        fault: str | None = None,
        headers: dict | None = None,
    ) -> None:
        self._leave(status)
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-reference-agent", "true")
        if fault:
            self.send_header("x-reference-agent-fault", fault)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.status_sent = status


@dataclass(frozen=True)
class _ChatRequest:
    messages: list[dict]
    question: str
    max_tokens: int | None


def _parse_chat(body: bytes) -> _ChatRequest:
    """Validate an OpenAI chat-completions request body; 400 with a reason otherwise."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise _RequestError(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise _RequestError(400, "The body must be a JSON object.")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise _RequestError(400, "'model' is required.", param="model")
    if model != MODEL_ID:
        raise _RequestError(
            404,
            f"The model {model!r} does not exist; this reference agent serves {MODEL_ID!r}.",
            param="model",
            code="model_not_found",
        )
    if data.get("stream"):
        raise _RequestError(400, "Streaming is not supported by the reference agent.")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _RequestError(400, "'messages' must be a non-empty list.", param="messages")
    for i, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or _text(message.get("content")) is None
        ):
            raise _RequestError(
                400, f"messages[{i}] needs a 'role' and a text 'content'.", param="messages"
            )
    users = [m for m in messages if m["role"] == "user"]
    if not users:
        raise _RequestError(400, "'messages' has no user message.", param="messages")
    max_tokens = data.get("max_tokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        raise _RequestError(400, "'max_tokens' must be a positive integer.", param="max_tokens")
    temperature = data.get("temperature")  # accepted and ignored: answers are deterministic
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float)
    ):
        raise _RequestError(400, "'temperature' must be a number.", param="temperature")
    return _ChatRequest(messages, _text(users[-1]["content"]) or "", max_tokens)


def _text(content) -> str | None:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return " ".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return None


def _completion(request: _ChatRequest, items) -> dict:
    answer = reply(request.question, items)
    content, finish_reason = answer.content, "stop"
    words = content.split()
    if request.max_tokens is not None and len(words) > request.max_tokens:
        content, finish_reason = " ".join(words[: request.max_tokens]), "length"
    prompt_tokens = sum(count_tokens(_text(m["content"]) or "") for m in request.messages)
    completion_tokens = count_tokens(content)
    digest = hashlib.sha256(json.dumps(request.messages, sort_keys=True).encode()).hexdigest()[:12]
    return {
        "id": f"chatcmpl-ref-{digest}-{time.time_ns():x}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        # Not part of the OpenAI shape; clients that know the reference agent read them.
        "handoff": answer.handoff,
        "handoff_reason": answer.handoff_reason,
        "citations": list(answer.citations),
        "confidence": answer.confidence,
        "reference_agent": True,
    }
