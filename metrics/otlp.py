"""OpenTelemetry traces (OTLP over HTTP, protobuf or JSON) as telemetry events, so a team
points the exporter it already has at `/otel/v1/traces`.

One trace is one interaction: its root span gives the time, the latency and the outcome
(an ERROR status is an error event); its spans together give the tokens, the model, the
conversation, the user, the input and output, and the retrieved knowledge. Attributes are
read in the GenAI semantic conventions (`gen_ai.*`, the deprecated names too) and in
OpenInference's (`openinference.span.kind`, `llm.*`, `input.value`, `output.value`,
`retrieval.documents.N.document.id`); `user.id` names the user.

The use case is the resource attribute `genai_po.use_case` (its key, UC-3, or id), or the
same attribute on the root span. Traces without any GenAI or OpenInference span (plain HTTP
or database spans) are not interactions: they are skipped, not rejected.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from genai_po.inputs import digits_only
from metrics import ingest
from metrics.models import EventSource

USE_CASE_ATTRIBUTE = "genai_po.use_case"
STATUS_ERROR = 2
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                "llm.token_count.prompt")  # fmt: skip
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                 "llm.token_count.completion")  # fmt: skip
MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
CONVERSATION = ("gen_ai.conversation.id", "session.id", "gen_ai.thread.id")
INPUT = ("input.value", "gen_ai.prompt", "gen_ai.input.messages")
OUTPUT = ("output.value", "gen_ai.completion", "gen_ai.output.messages")
DOCUMENT_ID = re.compile(r"^retrieval\.documents\.\d+\.document\.id$")
KB_KEY = re.compile(r"^KB-(\d{1,9})$", re.IGNORECASE)


class OtlpRefused(ValueError):
    """The body is not an OTLP trace export."""


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: dict
    error: bool
    status_message: str = ""


@dataclass
class Trace:
    resource: dict
    spans: list[Span] = field(default_factory=list)


def _value(any_value) -> object:
    """An OTLP AnyValue (protobuf) as Python."""
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def _json_value(value: dict) -> object:
    """An OTLP/JSON AnyValue as Python (int64 values come as strings)."""
    if not isinstance(value, dict) or not value:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "intValue":
        text = str(inner)
        digits = text.lstrip("-")
        return int(text) if digits_only(digits) and len(digits) < 20 else None
    if kind == "arrayValue":
        values = inner.get("values") if isinstance(inner, dict) else None
        return [_json_value(v) for v in values] if isinstance(values, list) else None
    if kind == "kvlistValue":
        pairs = inner.get("values") if isinstance(inner, dict) else None
        if not isinstance(pairs, list):
            return None
        return {
            kv["key"]: _json_value(kv.get("value"))
            for kv in pairs
            if isinstance(kv, dict) and isinstance(kv.get("key"), str)
        }
    if kind == "bytesValue":
        try:
            return base64.b64decode(inner).hex()
        except (ValueError, TypeError):
            return None
    return inner


def _from_protobuf(body: bytes) -> list[Trace]:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError:
        raise OtlpRefused("The body is not an OTLP ExportTraceServiceRequest (protobuf).") from None
    traces = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        trace = Trace(resource)
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                trace.spans.append(
                    Span(
                        s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.name,
                        s.start_time_unix_nano, s.end_time_unix_nano,
                        {a.key: _value(a.value) for a in s.attributes},
                        s.status.code == STATUS_ERROR, s.status.message,
                    )
                )  # fmt: skip
        traces.append(trace)
    return traces


_MAX_NANOS = 2**64  # OTLP's fixed64; anything else is no timestamp


def _nanos(value) -> int:
    """A span's time in nanoseconds, or 0 (no time) when it is not an OTLP fixed64."""
    if isinstance(value, str) and digits_only(value) and len(value) < 21:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_NANOS:
        return value
    return 0


def _list(value, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpRefused(f"{what} is a list in OTLP/JSON.")
    return value


def _object(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OtlpRefused(f"{what} is an object in OTLP/JSON.")
    return value


def _attributes(value, what: str) -> dict:
    return {
        a["key"]: _json_value(a.get("value"))
        for a in _list(value, what)
        if isinstance(a, dict) and isinstance(a.get("key"), str)
    }


def _from_json(body: bytes) -> list[Trace]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise OtlpRefused("The body is not OTLP/JSON.") from None
    data = _object(data, "The export")
    traces = []
    for resource_spans in _list(data.get("resourceSpans"), "resourceSpans"):
        resource_spans = _object(resource_spans, "Each resourceSpans entry")
        resource = _object(resource_spans.get("resource"), "resource")
        trace = Trace(_attributes(resource.get("attributes"), "resource.attributes"))
        for scope_spans in _list(resource_spans.get("scopeSpans"), "scopeSpans"):
            scope_spans = _object(scope_spans, "Each scopeSpans entry")
            for s in _list(scope_spans.get("spans"), "spans"):
                s = _object(s, "Each span")
                status = _object(s.get("status"), "status")
                trace.spans.append(
                    Span(
                        trace_id=str(s.get("traceId") or "").lower()[:64],
                        span_id=str(s.get("spanId") or "").lower()[:32],
                        parent_span_id=str(s.get("parentSpanId") or "").lower()[:32],
                        name=str(s.get("name") or "")[:500],
                        start_ns=_nanos(s.get("startTimeUnixNano")),
                        end_ns=_nanos(s.get("endTimeUnixNano")),
                        attributes=_attributes(s.get("attributes"), "attributes"),
                        error=status.get("code") in (STATUS_ERROR, "STATUS_CODE_ERROR"),
                        status_message=str(status.get("message") or "")[:2000],
                    )
                )
        traces.append(trace)
    return traces


def decode(body: bytes, content_type: str) -> list[Trace]:
    """The export's resource spans, from protobuf (the default) or JSON."""
    try:
        if content_type.split(";")[0].strip().lower() == "application/json":
            return _from_json(body)
        return _from_protobuf(body)
    except RecursionError:  # attribute values nested past what anyone sends
        raise OtlpRefused("Attribute values are nested too deeply.") from None


def _is_genai(span: Span) -> bool:
    return any(
        k.startswith(("gen_ai.", "llm.", "openinference.", "retrieval.")) for k in span.attributes
    )


def _first(spans: list[Span], keys: tuple[str, ...]):
    for span in spans:
        for key in keys:
            value = span.attributes.get(key)
            if value not in (None, "", []):
                return value
    return None


def _total(spans: list[Span], keys: tuple[str, ...]) -> int | None:
    total, found = 0, False
    for span in spans:
        for key in keys:
            value = span.attributes.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                total, found = total + value, True
                break
    return min(total, 2_000_000_000) if found else None


def _text(value, limit: int = ingest.MAX_TEXT) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:limit]


def _event(resource: dict, spans: list[Span]) -> dict | None:
    """The trace's interaction as a telemetry event, or None if it is not one."""
    if not any(_is_genai(s) for s in spans):
        return None
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_span_id or s.parent_span_id not in ids]
    root = min(roots or spans, key=lambda s: s.start_ns)
    start = min(s.start_ns for s in spans if s.start_ns) if any(s.start_ns for s in spans) else 0
    end = max(s.end_ns for s in spans)
    error = any(s.error for s in spans)
    use_case = root.attributes.get(USE_CASE_ATTRIBUTE) or resource.get(USE_CASE_ATTRIBUTE)
    knowledge = sorted(
        {
            int(m.group(1))
            for s in spans
            for key, value in s.attributes.items()
            if DOCUMENT_ID.match(str(key)) and isinstance(value, str)
            if (m := KB_KEY.match(value.strip()))
        }
    )[: ingest.MAX_KNOWLEDGE]
    event = {
        "event_id": f"otel-{root.trace_id}"[:128],
        "use_case": use_case if use_case is not None else "",
        "occurred_at": datetime.fromtimestamp(start / 1e9, UTC).isoformat() if start else None,
        "type": "error" if error else "interaction",
        "outcome": "failure" if error else "success",
        "latency_ms": max(0, min((end - start) // 1_000_000, 3_600_000)) if start else None,
        "tokens_in": _total(spans, INPUT_TOKENS),
        "tokens_out": _total(spans, OUTPUT_TOKENS),
        "model": _text(_first(spans, MODEL), 120),
        "session_id": _text(_first(spans, CONVERSATION), 128),
        "user": _text(_first([root, *spans], ("user.id", "enduser.id")), 256),
        "input": _text(_first([root, *spans], INPUT)),
        "output": _text(_first([root, *spans], OUTPUT)),
        "knowledge_ids": knowledge,
        "metadata": {"trace_id": root.trace_id, "root_span": root.name[:200], "spans": len(spans)},
    }
    if error:
        message = next((s.status_message for s in spans if s.error and s.status_message), "")
        if message:
            event["metadata"]["error"] = message[:500]
    return {k: v for k, v in event.items() if v is not None}


@dataclass
class OtlpResult:
    events: int = 0  # interactions found
    skipped: int = 0  # spans of traces that are not interactions
    rejected_spans: int = 0
    messages: list[str] = field(default_factory=list)
    ingested: ingest.IngestResult | None = None


def ingest_traces(organization_id: int, traces: list[Trace]) -> OtlpResult:
    """Map each trace to an event and ingest them in one batch; every span of a rejected
    trace counts as rejected in OTLP's partial success."""
    result = OtlpResult()
    grouped: dict[str, tuple[dict, list[Span]]] = {}
    for trace in traces:
        for span in trace.spans:
            resource, spans = grouped.setdefault(span.trace_id, (trace.resource, []))
            spans.append(span)
    events, sizes = [], []
    for trace_id, (resource, spans) in grouped.items():
        if not re.fullmatch(r"[0-9a-f]{32}", trace_id):
            result.rejected_spans += len(spans)
            result.messages.append(f"trace id {trace_id[:40]!r} is not 16 bytes of hex")
            continue
        event = _event(resource, spans)
        if event is None:
            result.skipped += len(spans)
            continue
        if event["use_case"] in ("", None):
            result.rejected_spans += len(spans)
            if len(result.messages) < 5:
                result.messages.append(
                    f"trace {trace_id}: no use case; set the resource attribute "
                    f"{USE_CASE_ATTRIBUTE} to the use case's key (UC-3)"
                )
            continue
        events.append(event)
        sizes.append(len(spans))
    for start in range(0, len(events), ingest.MAX_EVENTS):
        chunk = events[start : start + ingest.MAX_EVENTS]
        done = ingest.ingest(organization_id, chunk, source=EventSource.OTLP)
        for rejected in done.rejected:
            result.rejected_spans += sizes[start + rejected["index"]]
            if len(result.messages) < 5:
                result.messages.append(f"trace {chunk[rejected['index']]['event_id'][5:]}: "
                                       f"{rejected['reason']}")  # fmt: skip
        result.events += done.accepted + done.duplicates
        result.ingested = done
    return result


def response_body(result: OtlpResult, content_type: str) -> tuple[bytes, str]:
    """OTLP's answer: an ExportTraceServiceResponse, with partial_success when spans were
    rejected, in the request's encoding."""
    message = ExportTraceServiceResponse()
    if result.rejected_spans:
        message.partial_success.rejected_spans = result.rejected_spans
        message.partial_success.error_message = "; ".join(result.messages)[:2000]
    if content_type.split(";")[0].strip().lower() == "application/json":
        body = {}
        if result.rejected_spans:
            body["partialSuccess"] = {
                "rejectedSpans": str(result.rejected_spans),
                "errorMessage": message.partial_success.error_message,
            }
        return json.dumps(body).encode(), "application/json"
    return message.SerializeToString(), "application/x-protobuf"
