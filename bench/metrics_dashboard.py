"""The dashboard's figure, on PostgreSQL (a throwaway database):

    python bench/metrics_dashboard.py

Server time of a use case's dashboard page (Django's test client, the whole page: the
rollups, the figures, eight Plotly charts) for a use case with 10 million events against
one with 10 thousand, both over the same 60 days, in the same run: medians and their
ratio. The events are generated in PostgreSQL (INSERT … SELECT over generate_series: the
ingestion path has its own benchmark) and then rolled up by the real rollup code, whose
time is printed too. Everything is in a throwaway organization, purged at the end.
"""

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_context", REPO / "bench" / "context.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

LARGE = 10_000_000
SMALL = 10_000
DAYS = 60
USERS = 2_000  # the large use case's users; the small one has 100
REQUESTS = 30
TARGET_MS = 100
TARGET_RATIO = 1.5

# One row per event: the outcome cycles, a few are flagged, users and sessions repeat.
INSERT = """
INSERT INTO metrics_telemetryevent (
    organization_id, use_case_id, event_id, occurred_at, received_at, user_ref, session_id,
    event_type, outcome, hallucination, unsafe, unsupported_claim, latency_ms, tokens_in,
    tokens_out, cost, minutes_saved, model, input_text, output_text, knowledge_numbers,
    metadata, source
)
SELECT %(org)s, %(uc)s, %(prefix)s || n, %(start)s + (n * %(step)s) * interval '1 second',
       now(), 'user-' || (n %% %(users)s), 's-' || (n / 6), 'interaction',
       (ARRAY['success','success','success','success','success','success','escalated',
              'failure','abandoned'])[1 + n %% 9],
       n %% 97 = 0, false, n %% 89 = 0, 600 + (n * 37) %% 2400, 400 + n %% 900, 90 + n %% 300,
       0.0011 + (n %% 50) / 10000.0, CASE WHEN n %% 3 = 0 THEN 3.5 END, 'bench-model', '',
       '', '[]'::jsonb, '{}'::jsonb, 'api'
FROM generate_series(%(first)s, %(last)s) AS n
"""
CHUNK = 1_000_000


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="genai-po-bench-dashboard-") as tmp:
        env = helpers._mode_env("full", Path(tmp) / "var")
        helpers._create_database(env["DATABASE_URL"])
        result = subprocess.run(
            [sys.executable, __file__, "--inside"], env=env, cwd=REPO, check=False
        )
        return result.returncode


def _load(org, use_case, count: int, users: int, tag: str) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    start = timezone.now() - timedelta(days=DAYS)
    step = DAYS * 86400 / count
    with connection.cursor() as cursor:
        for first in range(0, count, CHUNK):
            cursor.execute(INSERT, {
                "org": org.pk, "uc": use_case.pk, "prefix": f"{tag}-", "start": start,
                "step": step, "users": users, "first": first,
                "last": min(count, first + CHUNK) - 1,
            })  # fmt: skip


def _median_ms(client, url: str) -> float:
    for _ in range(3):  # warm up
        client.get(url)
    timings = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code}")
    return statistics.median(timings)


def inside() -> int:
    helpers._setup_django()
    from django.test import Client
    from django.test.utils import setup_test_environment

    from metrics import rollups
    from metrics.models import TelemetryEvent
    from usecases.models import UseCase

    setup_test_environment()  # the test client, with ALLOWED_HOSTS for it
    tag = uuid.uuid4().hex[:8]
    scenario = helpers.Scenario(f"dash-{tag}")
    org = scenario.org
    try:
        large = scenario.use_case
        small = UseCase.objects.for_org(org).create(
            organization=org, number=large.number + 1, title="Small use case", problem="Bench"
        )
        began = time.perf_counter()
        _load(org, large, LARGE, USERS, f"l-{tag}")
        _load(org, small, SMALL, 100, f"s-{tag}")
        helpers._analyze("metrics_telemetryevent")
        load_seconds = time.perf_counter() - began
        stored = TelemetryEvent.objects.for_org(org).count()
        if stored != LARGE + SMALL:
            raise RuntimeError(f"{stored:,} events stored")
        began = time.perf_counter()
        run = rollups.rollup_organization(org.pk)
        rollup_seconds = time.perf_counter() - began
        client = Client()
        client.force_login(scenario.po)
        base = f"/o/{org.slug}/metrics/use-cases"
        large_ms = _median_ms(client, f"{base}/{large.number}/?range=90d")
        small_ms = _median_ms(client, f"{base}/{small.number}/?range=90d")
        portfolio_ms = _median_ms(client, f"/o/{org.slug}/metrics/?range=90d")
        print(  # noqa: T201
            f"metrics [full: postgresql] dashboard server time, {REQUESTS} requests each: "
            f"{LARGE:,} events: median {large_ms:.1f} ms; {SMALL:,} events: median "
            f"{small_ms:.1f} ms; ratio {large_ms / small_ms:.2f} (targets: < {TARGET_MS} ms, "
            f"ratio < {TARGET_RATIO}); the portfolio of both: {portfolio_ms:.1f} ms"
        )
        print(  # noqa: T201
            f"metrics [full: postgresql] rollup of {LARGE + SMALL:,} events over {DAYS} days "
            f"({run.hours:,} hours, {run.days} days): {rollup_seconds:.1f} s "
            f"(loaded in {load_seconds:.0f} s)"
        )
    finally:
        scenario.purge()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        sys.exit(inside())
    sys.exit(main())
