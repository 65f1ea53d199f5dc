"""Telemetry ingestion's figure, on PostgreSQL (BENCH_DATABASE_URL, a throwaway database):

    python bench/metrics.py

Events per second through the real HTTP endpoint (gunicorn, 2 sync workers, batches of
5,000 JSON events, 4 senders), and its ratio to a raw PostgreSQL COPY of the same rows
(other event ids) into the same table, measured in the same run. Everything is in a
throwaway organization, purged at the end.
"""

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_context", REPO / "bench" / "context.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

BATCH = 5_000
BATCHES = 24
SENDERS = 4
ROLLUP_EVENTS = 1_000_000
TARGET_RATE = 20_000
TARGET_RATIO = 0.5


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="genai-po-bench-metrics-") as tmp:
        env = helpers._mode_env("full", Path(tmp) / "var")
        helpers._create_database(env["DATABASE_URL"])
        result = subprocess.run(
            [sys.executable, __file__, "--inside", tmp], env=env, cwd=REPO, check=False
        )
        return result.returncode


def _events(use_case_key: str, prefix: str, count: int, start: datetime) -> list[dict]:
    """Realistic events: most interactions succeed, some escalate or fail, a few flagged."""
    outcomes = ["success"] * 14 + ["escalated", "failure", "abandoned"]
    return [
        {
            "event_id": f"{prefix}-{n}",
            "use_case": use_case_key,
            "occurred_at": (start + timedelta(seconds=n)).isoformat(),
            "type": "interaction",
            "outcome": outcomes[n % len(outcomes)],
            "user": f"agent-{n % 400}",
            "session_id": f"s-{n // 6}",
            "latency_ms": 600 + (n * 37) % 2400,
            "tokens_in": 400 + n % 900,
            "tokens_out": 90 + n % 300,
            "cost": 0.0011 + (n % 50) / 10_000,
            "minutes_saved": 3.5,
            "model": "acme-reference-agent",
            "knowledge_ids": [f"KB-{1 + n % 12}"],
            "flags": ["hallucination"] if n % 97 == 0 else [],
        }
        for n in range(count)
    ]


def _post(url: str, token: str, body: bytes, content_type: str = "application/json"):
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url, body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        data = response.read()
        return json.loads(data) if content_type == "application/json" else data


SPANS_PER_TRACE = 4


def _otlp_body(use_case_key: str, prefix: int, traces: int, start: datetime) -> bytes:
    """An export of `traces` agent turns (a root, a retrieval, two LLM calls), protobuf."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (("service.name", "refund-bot"), ("genai_po.use_case", use_case_key)):
        attribute = resource_spans.resource.attributes.add()
        attribute.key, attribute.value.string_value = key, value
    scope = resource_spans.scope_spans.add()
    base = int(start.timestamp() * 1e9)
    for n in range(traces):
        trace_id = (prefix * 10_000_000 + n).to_bytes(16, "big")
        t0 = base + n * 1_000_000_000
        for s, (name, attributes) in enumerate([
            ("invoke_agent", {"gen_ai.operation.name": "invoke_agent",
                              "gen_ai.conversation.id": f"c-{n // 3}", "user.id": f"a-{n % 400}"}),
            ("retrieve", {"openinference.span.kind": "RETRIEVER",
                          "retrieval.documents.0.document.id": f"KB-{1 + n % 12}"}),
            ("chat", {"gen_ai.request.model": "acme-model-2", "gen_ai.usage.input_tokens": 900,
                      "gen_ai.usage.output_tokens": 120}),
            ("chat", {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 30}),
        ]):  # fmt: skip
            span = scope.spans.add()
            span.trace_id, span.span_id = trace_id, (n * 8 + s + 1).to_bytes(8, "big")
            if s:
                span.parent_span_id = (n * 8 + 1).to_bytes(8, "big")
            span.name = name
            span.start_time_unix_nano, span.end_time_unix_nano = t0 + s, t0 + 1_500_000_000
            for key, value in attributes.items():
                attribute = span.attributes.add()
                attribute.key = key
                if isinstance(value, int):
                    attribute.value.int_value = value
                else:
                    attribute.value.string_value = value
    return request.SerializeToString()


def inside(tmp: str) -> int:
    helpers._setup_django()
    from django.db import connection
    from django.utils import timezone

    from genai_po.actors import Actor
    from genai_po.services import api_token_create
    from metrics import ingest, ingest_sql
    from metrics.models import TelemetryEvent

    tag = uuid.uuid4().hex[:8]
    scenario = helpers.Scenario(f"metrics-{tag}")
    org, uc = scenario.org, scenario.use_case
    _, token = api_token_create(
        actor=Actor.system(organization=org, label="bench"), name="bench telemetry",
        scopes=["telemetry:write"],
    )  # fmt: skip
    port = helpers._free_port()
    log = Path(tmp) / "gunicorn.log"
    server = helpers._start(
        [sys.executable, "-m", "gunicorn", "genai_po.wsgi:application", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "120"],
        log,
    )  # fmt: skip
    try:
        helpers._wait_for(lambda: helpers._listening(port), 60, "gunicorn")
        start = datetime.now(UTC) - timedelta(days=30)
        bodies = [
            json.dumps({"events": _events(uc.key, f"http-{tag}-{b}", BATCH, start)}).encode()
            for b in range(BATCHES)
        ]
        url = f"http://127.0.0.1:{port}/api/v1/telemetry/events/"
        _post(
            url, token, json.dumps({"events": _events(uc.key, f"warm-{tag}", 10, start)}).encode()
        )
        began = time.perf_counter()
        with ThreadPoolExecutor(SENDERS) as pool:
            results = list(pool.map(lambda body: _post(url, token, body), bodies))
        http_seconds = time.perf_counter() - began
        accepted = sum(r["accepted"] for r in results)
        if accepted != BATCH * BATCHES:
            raise RuntimeError(
                f"{accepted:,} events accepted of {BATCH * BATCHES:,}: {results[:2]}"
            )
        http_rate = accepted / http_seconds

        # The same rows, as the service would write them, by one raw COPY per batch.
        now = timezone.now()
        batches = []
        for b in range(BATCHES):
            rows = [
                ingest._checked(e, now) for e in _events(uc.key, f"copy-{tag}-{b}", BATCH, start)
            ]
            for row in rows:
                row.pop("use_case_ref")
                row.update(
                    use_case_id=uc.pk, received_at=now, source="api", knowledge_matched=False
                )
            batches.append(rows)
        began = time.perf_counter()
        with connection.cursor() as cursor:
            for rows in batches:
                with cursor.copy(
                    f"COPY {ingest_sql.TABLE} ({', '.join(ingest_sql.COLUMNS)}) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(ingest_sql._record(org.pk, row))
        copy_seconds = time.perf_counter() - began
        copy_rate = BATCH * BATCHES / copy_seconds
        stored = TelemetryEvent.objects.for_org(org).count()
        if stored < 2 * BATCH * BATCHES + 10:
            raise RuntimeError(f"{stored:,} rows stored")
        traces_per_batch = BATCH // SPANS_PER_TRACE
        otlp_bodies = [_otlp_body(uc.key, 1 + b, traces_per_batch, start) for b in range(BATCHES)]
        otlp_url = f"http://127.0.0.1:{port}/otel/v1/traces"
        began = time.perf_counter()
        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(lambda b: _post(otlp_url, token, b, "application/x-protobuf"),
                          otlp_bodies))  # fmt: skip
        otlp_seconds = time.perf_counter() - began
        otlp_events = TelemetryEvent.objects.for_org(org).filter(source="otlp").count()
        if otlp_events != traces_per_batch * BATCHES:
            raise RuntimeError(f"{otlp_events:,} OTLP events stored")
        spans_rate = BATCH * BATCHES / otlp_seconds
        # A rollup of a million new events (COPY'd in, like a busy day's ingest).
        from metrics import rollups

        rollups.rollup_organization(org.pk)  # what came before is rolled up already
        started = datetime.now(UTC) - timedelta(days=60)
        with connection.cursor() as cursor:
            for b in range(ROLLUP_EVENTS // BATCH):
                rows = [
                    ingest._checked(e, now)
                    for e in _events(uc.key, f"roll-{tag}-{b}", BATCH, started + timedelta(
                        seconds=b * BATCH))
                ]  # fmt: skip
                later = timezone.now()
                with cursor.copy(
                    f"COPY {ingest_sql.TABLE} ({', '.join(ingest_sql.COLUMNS)}) FROM STDIN"
                ) as copy:
                    for row in rows:
                        row.pop("use_case_ref")
                        row.update(
                            use_case_id=uc.pk,
                            received_at=later,
                            source="api",
                            knowledge_matched=False,
                        )
                        copy.write_row(ingest_sql._record(org.pk, row))
        helpers._analyze(ingest_sql.TABLE)
        began = time.perf_counter()
        run = rollups.rollup_organization(org.pk)
        rollup_seconds = time.perf_counter() - began
        ratio = http_rate / copy_rate
        print(  # noqa: T201
            f"metrics [full: postgresql] rollup of {ROLLUP_EVENTS:,} new events "
            f"({run.hours:,} hours, {run.days} days recomputed): {rollup_seconds:.1f} s "
            f"(target < 30 s)"
        )
        print(  # noqa: T201
            f"metrics [full: postgresql] OTLP ingestion (protobuf, {BATCHES} exports of "
            f"{BATCH:,} spans, {SPANS_PER_TRACE} spans per trace): {spans_rate:,.0f} spans/s "
            f"({otlp_events / otlp_seconds:,.0f} interactions/s); its events against raw "
            f"COPY: ratio {otlp_events / otlp_seconds / copy_rate:.2f}"
        )
        print(  # noqa: T201
            f"metrics [full: postgresql] telemetry ingestion through HTTP (gunicorn, 2 "
            f"workers, {BATCHES} batches of {BATCH:,}, {SENDERS} senders): "
            f"{http_rate:,.0f} events/s; raw COPY of the same rows: {copy_rate:,.0f} rows/s; "
            f"ratio {ratio:.2f} (targets: >= {TARGET_RATE:,} events/s, >= {TARGET_RATIO})"
        )
    finally:
        helpers._stop([server])
        scenario.purge()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--inside":
        sys.exit(inside(sys.argv[2]))
    sys.exit(main())
