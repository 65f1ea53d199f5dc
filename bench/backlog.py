"""The backlog's figure, on PostgreSQL (a throwaway database):

    python bench/backlog.py

Server time (Django's test client, the whole page) of the organization's backlog page and
of its home page, with 500 backlog entries across five use cases: 400 feature items of
our own and 100 open context gaps, in a throwaway organization purged at the end. Medians
of 30 requests, and the SQL queries of one request.
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

USE_CASES = 5
FEATURES = 400
GAPS = 100
REQUESTS = 30
TARGET_MS = 150


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="genai-po-bench-backlog-") as tmp:
        env = helpers._mode_env("full", Path(tmp) / "var")
        helpers._create_database(env["DATABASE_URL"])
        result = subprocess.run([sys.executable, __file__, "--inside"], env=env, cwd=REPO,
                                check=False)  # fmt: skip
        return result.returncode


def _median_ms(client, url: str) -> tuple[float, int]:
    from django.db import connection

    for _ in range(3):  # warm up
        client.get(url)
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)
    timings = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code}")
    return statistics.median(timings), len(queries)


def _fill(scenario) -> int:
    from django.utils import timezone

    from context.models import ContextGap, GapUseCase
    from usecases import backlog
    from usecases.models import BacklogItem, UseCase

    org = scenario.org
    use_cases = [scenario.use_case] + [
        UseCase.objects.for_org(org).create(organization=org, number=n, title=f"Bench UC {n}")
        for n in range(2, USE_CASES + 1)
    ]
    BacklogItem.objects.for_org(org).bulk_create([
        BacklogItem(organization=org, number=n, use_case=use_cases[n % USE_CASES],
                    title=f"Feature {n}", value=1 + n % 5, effort=1 + n % 3, owner=scenario.po)
        for n in range(1, FEATURES + 1)
    ])  # fmt: skip
    now = timezone.now()
    gaps = ContextGap.objects.for_org(org).bulk_create([
        ContextGap(organization=org, number=n, question=f"Bench question {n}?",
                   detected_by="manual", status="routed", assigned_to=scenario.sme,
                   routed_at=now, due_at=now + timezone.timedelta(hours=n - 50))
        for n in range(1, GAPS + 1)
    ])  # fmt: skip
    GapUseCase.objects.for_org(org).bulk_create([
        GapUseCase(organization=org, gap=gap, use_case=use_cases[i % USE_CASES])
        for i, gap in enumerate(gaps)
    ])  # fmt: skip
    return len(backlog.backlog_of(org).entries)


def inside() -> int:
    helpers._setup_django()
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    scenario = helpers.Scenario(f"backlog-{uuid.uuid4().hex[:8]}")
    try:
        count = _fill(scenario)
        client = Client()
        client.force_login(scenario.po)
        slug = scenario.org.slug
        backlog_ms, backlog_q = _median_ms(client, f"/o/{slug}/backlog/")
        home_ms, home_q = _median_ms(client, f"/o/{slug}/")
        print(  # noqa: T201
            f"backlog [full: postgresql] {count} entries across {USE_CASES} use cases "
            f"({FEATURES} feature items, {GAPS} open gaps), {REQUESTS} requests each: the "
            f"backlog page median {backlog_ms:.1f} ms ({backlog_q} queries), the home page "
            f"median {home_ms:.1f} ms ({home_q} queries) (target < {TARGET_MS} ms)"
        )
    finally:
        scenario.purge()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        sys.exit(inside())
    sys.exit(main())
