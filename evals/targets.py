"""Talking to a target: what a case becomes on the wire, and what the answer means.

`TargetConfig` is a plain snapshot of a Target with its secrets revealed; it is built
in the worker (or for "test connection") and never logged, stored or sent to a broker.
Everything here is pure except `call_target` and `check_connection`, which make one
guarded HTTP call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from evals import client
from evals.netguard import EgressPolicy
from genai_po import inputs
from genai_po.inputs import digits_only
from genai_po.redaction import redactor_for

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
HANDOFF_TOOLS = frozenset({"handoff", "hand_off", "escalate", "transfer_to_human", "human_handoff"})
# Headers a target may not set: they are ours, or they would change where a call goes.
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
MAX_RESPONSE_BYTES = 2_000_000


class TargetConfigError(ValueError):
    """A target or a case that cannot be turned into a request (a per-case error)."""


@dataclass(frozen=True)
class TargetConfig:
    kind: str
    url: str
    model: str = ""
    api_key: str = field(default="", repr=False)
    system_prompt: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    method: str = "POST"
    body_template: str = ""
    response_path: str = ""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout_s: float = 30
    concurrency: int = 8
    rate_limit_per_s: float | None = None
    max_attempts: int = 3
    cost_per_1k_input: Decimal | None = None
    cost_per_1k_output: Decimal | None = None

    def redact(self, text):
        """`text` with every form of this target's secrets (API key, header values)
        masked: applied to everything that comes back from the target."""
        return redactor_for((self.api_key, *self.headers.values())).redact(text)

    @classmethod
    def from_target(cls, target) -> TargetConfig:
        """Reveal the target's secrets into a snapshot (raises SecretUnreadable on a bad key)."""
        return cls(
            kind=target.kind,
            url=target.url,
            model=target.model,
            api_key=target.api_key.reveal() if target.api_key else "",
            system_prompt=target.system_prompt,
            temperature=target.temperature,
            max_tokens=target.max_tokens,
            method=target.method,
            body_template=target.body_template,
            response_path=target.response_path,
            headers=parse_headers(target.headers.reveal() if target.headers else ""),
            timeout_s=target.timeout_s,
            concurrency=target.concurrency,
            rate_limit_per_s=target.rate_limit_per_s,
            max_attempts=target.max_attempts,
            cost_per_1k_input=target.cost_per_1k_input,
            cost_per_1k_output=target.cost_per_1k_output,
        )


@dataclass(frozen=True)
class CaseInput:
    """What of a case is sent to the target."""

    prompt: str = ""
    messages: tuple = ()
    variables: Mapping[str, Any] = field(default_factory=dict)
    context: str = ""


@dataclass(frozen=True)
class Answer:
    """A target's answer, read out of its reply."""

    output: str = ""
    error: str | None = None
    status: int | None = None
    latency_ms: float | None = None
    handoff: bool | None = None
    citations: tuple[str, ...] = ()
    tokens_in: int | None = None
    tokens_out: int | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


# --------------------------------------------------------------------------- validation


def parse_headers(text: str) -> dict[str, str]:
    """Headers from their stored JSON text; raises TargetConfigError with a clear message."""
    if not text or not text.strip():
        return {}
    try:
        value = inputs.loads(text)
    except inputs.InputRefused as exc:
        raise TargetConfigError(f"Headers refused: {exc}") from None
    except ValueError as exc:
        raise TargetConfigError(f"Headers must be a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise TargetConfigError('Headers must be a JSON object, e.g. {"X-Team": "support"}.')
    headers = {}
    for name, val in value.items():
        if not isinstance(val, str):
            raise TargetConfigError(f'Header "{name}" must have a string value.')
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
            raise TargetConfigError(f'"{name}" is not a valid header name.')
        if name.lower() in FORBIDDEN_HEADERS:
            raise TargetConfigError(f'Header "{name}" is set by the client and cannot be changed.')
        if "\n" in val or "\r" in val:
            raise TargetConfigError(f'Header "{name}" must be on one line.')
        headers[name] = val
    return headers


def parse_body_template(text: str) -> Any:
    """The body template as JSON; raises TargetConfigError."""
    if not text.strip():
        raise TargetConfigError(
            'An HTTP JSON target needs a body template, e.g. {"q": "{{input}}"}.'
        )
    try:
        return inputs.loads(text)
    except inputs.InputRefused as exc:
        raise TargetConfigError(f"The body template was refused: {exc}") from None
    except ValueError as exc:
        raise TargetConfigError(f"The body template is not valid JSON: {exc}") from exc


def parse_response_path(path: str) -> list[str | int]:
    """``data.items.0.text`` (or ``$.data.items[0].text``) as a list of keys and indexes."""
    path = path.strip().removeprefix("$").removeprefix(".")
    path = re.sub(r"\[(\d+)\]", r".\1", path)
    if not path:
        raise TargetConfigError("A response path is needed, e.g. answer or data.items.0.text.")
    parts: list[str | int] = []
    for part in path.split("."):
        if part == "":
            raise TargetConfigError(f'"{path}" has an empty step.')
        parts.append(int(part) if digits_only(part) else part)
    return parts


# --------------------------------------------------------------------------- requests


def render_text(text: str, variables: Mapping[str, Any]) -> str:
    """Replace {{name}} with the variable's text; unknown names are an error."""

    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            raise TargetConfigError(
                f"{{{{{name}}}}} is used but the case has no {name!r} variable."
            )
        value = variables[name]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return PLACEHOLDER.sub(sub, text)


def _render_json(node: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, str):
        whole = PLACEHOLDER.fullmatch(node.strip())
        if whole and whole.group(1) in variables:
            return variables[whole.group(1)]  # keeps lists and numbers as they are
        return render_text(node, variables)
    if isinstance(node, list):
        return [_render_json(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _render_json(value, variables) for key, value in node.items()}
    return node


def case_messages(cfg: TargetConfig, case: CaseInput) -> list[dict]:
    """The chat messages for a case: target system prompt, case context, then the input."""
    messages: list[dict] = []
    if cfg.system_prompt:
        messages.append({"role": "system", "content": render_text(cfg.system_prompt, _vars(case))})
    if case.context:
        messages.append({"role": "system", "content": f"Context:\n{case.context}"})
    if case.messages:
        messages.extend(
            {**m, "content": render_text(m["content"], case.variables)}
            if isinstance(m.get("content"), str)
            else dict(m)
            for m in case.messages
        )
    else:
        messages.append({"role": "user", "content": render_text(case.prompt, case.variables)})
    return messages


def _vars(case: CaseInput) -> dict[str, Any]:
    prompt = render_text(case.prompt, case.variables) if case.prompt else ""
    return {
        **case.variables,
        "input": case.variables.get("input", prompt),
        "prompt": case.variables.get("prompt", prompt),
        "context": case.variables.get("context", case.context),
        "messages": case.variables.get("messages", list(case.messages)),
    }


def chat_completions_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


def build_request(cfg: TargetConfig, case: CaseInput) -> tuple[str, str, Any, dict[str, str]]:
    """(method, url, json body, headers) for one case; raises TargetConfigError."""
    headers = dict(cfg.headers)
    if cfg.kind == "openai_chat":
        body: dict[str, Any] = {"model": cfg.model, "messages": case_messages(cfg, case)}
        if cfg.temperature is not None:
            body["temperature"] = cfg.temperature
        if cfg.max_tokens is not None:
            body["max_tokens"] = cfg.max_tokens
        if cfg.api_key:
            headers["Authorization"] = f"Bearer {cfg.api_key}"
        return "POST", chat_completions_url(cfg.url), body, headers
    body = _render_json(parse_body_template(cfg.body_template), _vars(case))
    if cfg.api_key and not any(h.lower() == "authorization" for h in headers):
        headers["Authorization"] = f"Bearer {cfg.api_key}"
    return cfg.method, cfg.url, body, headers


# --------------------------------------------------------------------------- replies


def pick(payload: Any, path: list[str | int]) -> Any:
    """Follow a parsed response path; raises TargetConfigError naming where it stopped."""
    node = payload
    walked: list[str] = []
    for step in path:
        if isinstance(step, int) and isinstance(node, list):
            if step >= len(node):
                where = ".".join(walked) or "the response"
                raise TargetConfigError(f"{where} has {len(node)} items, no item {step}.")
            node = node[step]
        elif isinstance(node, dict) and str(step) in node:
            node = node[str(step)]
        else:
            where = ".".join(walked) or "the response"
            if isinstance(node, dict):
                keys = ", ".join(list(node)[:8]) or "none"
                raise TargetConfigError(f"{where} has no key {step!r} (keys: {keys}).")
            raise TargetConfigError(f"{where} is {type(node).__name__}, not an object or list.")
        walked.append(str(step))
    return node


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _citations(payload: Any) -> tuple[str, ...]:
    cites = payload.get("citations") if isinstance(payload, dict) else None
    if isinstance(cites, list):
        return tuple(str(c) for c in cites if isinstance(c, str | int))[:50]
    return ()


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def read_answer(cfg: TargetConfig, reply: client.Reply, attempts: int = 1) -> Answer:
    """An Answer from a reply: the output, or a clear error."""
    base = {"status": reply.status, "latency_ms": round(reply.elapsed_ms, 1), "attempts": attempts}
    if not reply.ok:
        return Answer(error=reply.error, **base)
    payload = reply.json
    handoff = payload.get("handoff") if isinstance(payload, dict) else None
    handoff = handoff if isinstance(handoff, bool) else None
    try:
        if cfg.kind == "openai_chat":
            message = pick(payload, ["choices", 0, "message"])
            if not isinstance(message, dict):
                raise TargetConfigError("choices.0.message is not an object.")
            output = _as_text(message.get("content"))
            for call in message.get("tool_calls") or []:
                function = call.get("function") if isinstance(call, dict) else None
                name = str(function.get("name", "")) if isinstance(function, dict) else ""
                if name.lower() in HANDOFF_TOOLS:
                    handoff = True
                if not output and name:
                    output = f"[tool call: {name}]"
            usage = payload.get("usage") or {}
            tokens_in = _int_or_none(usage.get("prompt_tokens"))
            tokens_out = _int_or_none(usage.get("completion_tokens"))
        else:
            output = _as_text(pick(payload, parse_response_path(cfg.response_path)))
            usage = payload.get("usage") if isinstance(payload, dict) else None
            usage = usage if isinstance(usage, dict) else {}
            tokens_in = _int_or_none(usage.get("prompt_tokens", usage.get("input_tokens")))
            tokens_out = _int_or_none(usage.get("completion_tokens", usage.get("output_tokens")))
    except TargetConfigError as exc:
        snippet = reply.text[:160].replace("\n", " ")
        return Answer(error=f"unexpected answer shape: {exc} Body starts: {snippet}", **base)
    return Answer(
        output=output,
        handoff=handoff,
        citations=_citations(payload),
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        **base,
    )


def cost_of(cfg: TargetConfig, answer: Answer) -> Decimal | None:
    """Cost of one answer from the target's prices, when both are known."""
    if answer.tokens_in is None or answer.tokens_out is None:
        return None
    if cfg.cost_per_1k_input is None and cfg.cost_per_1k_output is None:
        return None
    cin = cfg.cost_per_1k_input or Decimal(0)
    cout = cfg.cost_per_1k_output or Decimal(0)
    return (cin * answer.tokens_in + cout * answer.tokens_out) / 1000


# --------------------------------------------------------------------------- calls


async def call_target(
    session,
    cfg: TargetConfig,
    case: CaseInput,
    *,
    limiter: client.AdaptiveLimiter | None = None,
    base_delay: float = 0.2,
) -> Answer:
    """Send one case to the target (with retries) and read the answer; never raises."""
    try:
        method, url, body, headers = build_request(cfg, case)
    except TargetConfigError as exc:
        return Answer(error=f"could not build the request: {exc}")
    reply, attempts = await client.call_with_retries(
        session,
        url,
        json_body=body,
        headers=headers,
        timeout_s=cfg.timeout_s,
        max_bytes=MAX_RESPONSE_BYTES,
        attempts=cfg.max_attempts,
        base_delay=base_delay,
        limiter=limiter,
        method=method,
    )
    return redact_answer(cfg, read_answer(cfg, reply, attempts))


def redact_answer(cfg: TargetConfig, answer: Answer) -> Answer:
    """The answer with the target's secrets masked in all of its text, before anyone
    stores, scores, audits or shows it."""
    return dataclasses.replace(
        answer,
        output=cfg.redact(answer.output),
        error=cfg.redact(answer.error),
        citations=tuple(cfg.redact(c) for c in answer.citations),
    )


def run_coroutine(coro) -> Any:
    """Run a coroutine to completion on a fresh event loop in its own thread.

    Works from any caller: a Celery worker, a Django view, or a test whose thread already
    has a loop running (Playwright's sync API leaves one).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="genai-po-async", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


def check_connection(cfg: TargetConfig, policy: EgressPolicy) -> ConnectionCheck:
    """One real call with a harmless question; a clear sentence either way."""
    probe = CaseInput(
        prompt="Connection test from GenAI PO Workspace: please reply briefly.",
        variables={"input": "Connection test from GenAI PO Workspace: please reply briefly."},
    )

    async def go() -> Answer:
        async with client.make_session(policy, limit=1, timeout_s=cfg.timeout_s) as session:
            single = dataclasses.replace(cfg, max_attempts=1)
            return await call_target(session, single, probe)

    answer = run_coroutine(go())
    if not answer.ok:
        return ConnectionCheck(False, f"Connection failed: {answer.error}")
    preview = answer.output.strip().replace("\n", " ")
    preview = preview[:120] + ("…" if len(preview) > 120 else "")
    return ConnectionCheck(
        True,
        f"Connected: HTTP {answer.status} in {answer.latency_ms:.0f} ms. "
        f'Answer: "{preview or "(empty)"}"',
    )
