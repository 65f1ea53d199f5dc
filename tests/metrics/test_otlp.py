"""OpenTelemetry ingest: real exporter payloads (made by opentelemetry-sdk's own OTLP
exporter and encoder), GenAI and OpenInference attributes, OTLP's partial success."""

import base64
import json

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from rest_framework.test import APIClient

from metrics.models import TelemetryEvent
from tests.factories.usecases import UseCaseFactory

URL = "/otel/v1/traces"


def spans_of(resource: dict, build) -> list:
    """Spans recorded by the SDK: `build(tracer)` makes them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer("refund-bot"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def agent_turn(tracer, *, conversation="conv-1", error=False, user="agent-17"):
    """An agent turn: a root span, a retrieval, and two LLM calls (new and deprecated
    names), as instrumentations emit them."""
    with tracer.start_as_current_span("invoke_agent refund-bot") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.conversation.id", conversation)
        root.set_attribute("user.id", user)
        root.set_attribute("input.value", "Can I return a 45-day-old order?")
        root.set_attribute("output.value", "Our window is 30 days; an agent can help.")
        with tracer.start_as_current_span("retrieve") as retrieval:
            retrieval.set_attribute("openinference.span.kind", "RETRIEVER")
            retrieval.set_attribute("retrieval.documents.0.document.id", "KB-4")
            retrieval.set_attribute("retrieval.documents.1.document.id", "notion-page-9")
        with tracer.start_as_current_span("chat acme-model") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.request.model", "acme-model-2")
            llm.set_attribute("gen_ai.usage.input_tokens", 900)
            llm.set_attribute("gen_ai.usage.output_tokens", 120)
        with tracer.start_as_current_span("chat again") as old:
            old.set_attribute("gen_ai.usage.prompt_tokens", 100)  # deprecated names
            old.set_attribute("gen_ai.usage.completion_tokens", 30)
        if error:
            root.set_status(Status(StatusCode.ERROR, "upstream timeout"))


def health_check(tracer):
    """A span of no AI interaction: skipped, not rejected."""
    with tracer.start_as_current_span("GET /health") as span:
        span.set_attribute("http.route", "/health")


def _token(org, token_factory, scopes=("telemetry:write",)):
    _, raw = token_factory(org, scopes=list(scopes))
    return raw


@pytest.mark.django_db(transaction=True)
def test_the_sdks_own_exporter_sends_traces_that_become_interactions(
    live_server, org_a, token_factory
):
    uc = UseCaseFactory(organization=org_a)
    raw = _token(org_a, token_factory)
    spans = spans_of(
        {"service.name": "refund-bot", "genai_po.use_case": uc.key},
        lambda tracer: (agent_turn(tracer), agent_turn(tracer, conversation="c2", error=True)),
    )
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}{URL}",
        headers={"Authorization": f"Bearer {raw}"},
        compression=Compression.Gzip,
    )
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    events = {e.session_id: e for e in TelemetryEvent.objects.for_org(org_a)}
    ok, failed = events["conv-1"], events["c2"]
    assert (ok.event_type, ok.outcome, ok.source) == ("interaction", "success", "otlp")
    assert (ok.tokens_in, ok.tokens_out, ok.model) == (1000, 150, "acme-model-2")
    assert ok.user_ref == "agent-17" and ok.knowledge_numbers == [4]
    assert ok.input_text.startswith("Can I return") and ok.metadata["spans"] == 4
    assert (failed.event_type, failed.outcome) == ("error", "failure")
    assert failed.metadata["error"] == "upstream timeout"
    # Sent again (an exporter retry): stored once.
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert TelemetryEvent.objects.for_org(org_a).count() == 2


@pytest.mark.django_db
def test_otlp_json_and_partial_success(org_a, org_b, token_factory):
    uc = UseCaseFactory(organization=org_a)
    other = UseCaseFactory(organization=org_b)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {_token(org_a, token_factory)}")
    good = spans_of({"genai_po.use_case": uc.key}, agent_turn)
    nameless = spans_of({"service.name": "x"}, agent_turn)  # no use case
    foreign = spans_of({"genai_po.use_case": other.key}, agent_turn)
    plain = spans_of({"genai_po.use_case": uc.key}, health_check)
    request = encode_spans(good + nameless + foreign + plain)
    body = MessageToDict(request)
    for resource_spans in body["resourceSpans"]:  # OTLP/JSON writes ids in hex
        for scope in resource_spans["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    response = api.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    answer = json.loads(response.content)
    assert answer["partialSuccess"]["rejectedSpans"] == "8"  # 4 + 4; the plain span skipped
    assert "genai_po.use_case" in answer["partialSuccess"]["errorMessage"]
    assert TelemetryEvent.objects.for_org(org_a).count() == 1
    assert not TelemetryEvent.objects.for_org(org_b).exists()
    # Protobuf in, protobuf out.
    response = api.post(URL, request.SerializeToString(), content_type="application/x-protobuf")
    assert response["Content-Type"] == "application/x-protobuf"
    assert (
        ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans == 8
    )


@pytest.mark.django_db
def test_bad_bodies_and_tokens_are_refused(org_a, token_factory):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {_token(org_a, token_factory)}")
    bad = api.post(URL, b"\xff\x00not protobuf", content_type="application/x-protobuf")
    assert bad.status_code == 400
    for body in (b"not json", b'{"resourceSpans": 7}', b'{"resourceSpans": [1]}', b"[" * 5000):
        assert api.post(URL, body, content_type="application/json").status_code == 400
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {_token(org_a, token_factory, ('read',))}")
    assert reader.post(URL, b"", content_type="application/x-protobuf").status_code == 403
    assert APIClient().post(URL, b"", content_type="application/x-protobuf").status_code == 401
    assert not TelemetryEvent.objects.for_org(org_a).exists()


def _span(**fields) -> dict:
    span = {"traceId": "0" * 32, "spanId": "1" * 16, **fields}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


HOSTILE_JSON = [
    # Characters `str.isdigit()` takes and `int()` refuses; times past any calendar.
    _span(startTimeUnixNano="²", attributes=[{"key": "a", "value": {"intValue": "²"}}]),
    _span(startTimeUnixNano=10**30),
    _span(startTimeUnixNano=-(10**30), endTimeUnixNano=10**400),
    {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "genai_po.use_case", "value": {"stringValue": "²"}}]
                },
                "scopeSpans": [{"spans": [{"traceId": "0" * 32, "spanId": "1" * 16}]}],
            }
        ]
    },
    {"resourceSpans": [{"scopeSpans": 5}]},
    {"resourceSpans": [{"scopeSpans": [{"spans": "x"}]}]},
    {"resourceSpans": [{"scopeSpans": [None, {"spans": [None]}]}]},
    {"resourceSpans": [{"resource": {"attributes": "x"}, "scopeSpans": []}]},
    {"resourceSpans": [{"resource": [], "scopeSpans": []}]},
    {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "attributes": 3}]}]}]},
    {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0" * 32,
                                "spanId": "1" * 16,
                                "startTimeUnixNano": "9" * 30,
                                "attributes": [
                                    {
                                        "key": "gen_ai.usage.input_tokens",
                                        "value": {"intValue": "9" * 400},
                                    },
                                    {"key": "input.value", "value": {"stringValue": "a\x00b"}},
                                    {"key": "user.id", "value": {"stringValue": "\ud800"}},
                                    {"key": "x", "value": {"kvlistValue": {"values": [1, None]}}},
                                    {"key": "y", "value": {"arrayValue": 7}},
                                    {"key": "z", "value": []},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    },  # fmt: skip
    {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "genai_po.use_case", "value": {"intValue": str(2**70)}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "a" * 32,
                                "spanId": "b" * 16,
                                "startTimeUnixNano": 1,
                                "endTimeUnixNano": 0,
                                "attributes": [
                                    {"key": "gen_ai.system", "value": {"stringValue": "x"}}
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    },  # fmt: skip
]


@pytest.mark.django_db
def test_hostile_otlp_bodies_never_give_a_500(org_a, token_factory):
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {_token(org_a, token_factory)}")
    for body in HOSTILE_JSON:
        response = api.post(URL, json.dumps(body), content_type="application/json")
        assert response.status_code in (200, 400), (body, response.status_code)
    for depth in (300, 900):
        deep = '{"arrayValue": {"values": [' * depth + '{"stringValue": "x"}' + "]}}" * depth
        nested = '{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": %s}]}}]}'
        response = api.post(URL, nested % deep, content_type="application/json")
        assert response.status_code in (200, 400), depth
    for raw in (b"\x0a\xff\xff\xff\xff\x0f", bytes(range(256)), b"\x0a\x02\x0a\x00" * 1000):
        response = api.post(URL, raw, content_type="application/x-protobuf")
        assert response.status_code in (200, 400), (raw[:10], response.status_code)
