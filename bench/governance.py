"""The CI release gate's figure, per mode (each in a process of its own):

    python bench/governance.py embedded   SQLite, in a temporary var/
    python bench/governance.py full       PostgreSQL (BENCH_DATABASE_URL, a throwaway database)

A release whose checklist reads 5,000 eval results (the latest run of a 5,000-case plan,
compared case by case with a 5,000-result baseline), 1,000 cases behind a launch-blocking
requirement, 200 context gaps of the use case (a tenth of them on that requirement) and
20 sources. The figure is the median server time of `GET /api/v1/releases/{n}/gate/`
(the whole request through Django's test client, with a read token) and its query count,
which must be the same with 50 gaps and 200. Everything is in a throwaway organization,
purged at the end. It reuses the context bench's environment and scenario helpers.
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

CASES = 5_000
BLOCKING_CASES = 1_000
GAPS = 200
TARGET_MS = 50
PROFILE: list[str] = []  # --profile: print the gate's queries, slowest first


def main(mode: str) -> int:
    with tempfile.TemporaryDirectory(prefix=f"genai-po-bench-governance-{mode}-") as tmp:
        env = helpers._mode_env(mode, Path(tmp) / "var")
        if mode == "full":
            helpers._create_database(env["DATABASE_URL"])
        result = subprocess.run(
            [sys.executable, __file__, "--inside", mode, *PROFILE], env=env, cwd=REPO, check=False
        )
        return result.returncode


def _load(scenario) -> object:
    """The plan, its two runs, the requirement, and a release of the use case."""
    from django.utils import timezone

    from evals import summary
    from evals.models import EvalCase, EvalCaseRequirement, EvalPlan, EvalResult, EvalRun
    from governance.services import releases
    from usecases.models import Requirement

    org, uc = scenario.org, scenario.use_case
    requirement = Requirement.objects.create(
        organization=org, use_case=uc, number=1, statement="Cite the policy.",
        launch_blocking=True, position=1,
    )  # fmt: skip
    plan = EvalPlan.objects.create(
        organization=org, use_case=uc, name="Bench gate plan", case_version=1, case_seq=CASES
    )
    EvalCase.objects.bulk_create(
        [
            EvalCase(
                organization=org,
                plan=plan,
                number=n,
                version_added=1,
                position=n,
                prompt=f"Question {n}?",
            )  # fmt: skip
            for n in range(1, CASES + 1)
        ],
        batch_size=1000,
    )
    cases = list(EvalCase.objects.for_org(org).filter(plan=plan).order_by("number"))
    EvalCaseRequirement.objects.bulk_create(
        [
            EvalCaseRequirement(organization=org, case=case, requirement=requirement)
            for case in cases[:BLOCKING_CASES]
        ],
        batch_size=1000,
    )
    now = timezone.now()
    runs = []
    for number, failing_every in ((1, 50), (2, 40)):
        run = EvalRun.objects.create(
            organization=org, plan=plan, number=number, trigger="api", status="completed",
            case_version=1, total_items=CASES, repetitions=1, started_at=now, finished_at=now,
            is_baseline=number == 1, config={"pass_threshold": 0.9},
        )  # fmt: skip
        EvalResult.objects.bulk_create(
            [
                EvalResult(
                    organization=org,
                    run=run,
                    case=case,
                    case_number=case.number,
                    status="fail" if case.number % failing_every == 0 else "pass",
                    output="answer",
                    latency_ms=100,
                    score=1.0,
                    assertions=[],
                )  # fmt: skip
                for case in cases
            ],
            batch_size=1000,
        )
        summary.store(run)
        runs.append(run)
    EvalPlan.objects.for_org(org).filter(pk=plan.pk).update(run_seq=2)
    for table in ("evals_evalresult", "evals_evalcase", "evals_evalcaserequirement"):
        helpers._analyze(table)
    return releases.release_create(
        actor=scenario.system, use_case=uc, data={"name": "bench", "risk_tier": "limited"}
    ), requirement


def _gaps(scenario, requirement, start: int, stop: int) -> None:
    from context.models import ContextGap, GapRequirement, GapUseCase

    org = scenario.org
    made = ContextGap.objects.bulk_create(
        [
            ContextGap(
                organization=org,
                number=200_000 + n,
                question=f"Bench gap {n}?",
                detected_by="manual",
                status="open" if n % 3 else "verified",
            )  # fmt: skip
            for n in range(start, stop)
        ]
    )
    made = list(ContextGap.objects.for_org(org).filter(number__gte=200_000 + start,
                                                       number__lt=200_000 + stop))  # fmt: skip
    GapUseCase.objects.bulk_create(
        [GapUseCase(organization=org, gap=gap, use_case=scenario.use_case) for gap in made]
    )
    GapRequirement.objects.bulk_create(
        [
            GapRequirement(organization=org, gap=gap, requirement=requirement)
            for gap in made
            if gap.number % 10 == 0
        ]
    )


def _sources(scenario, count: int) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from context.models import ContextSource, SourceUseCase

    org = scenario.org
    due = timezone.localdate() + timedelta(days=60)
    ContextSource.objects.bulk_create(
        [
            ContextSource(
                organization=org,
                name=f"Bench source {n}",
                source_type="policy",
                location=f"https://kb.example.com/{n}",
                approval_status="approved",
                freshness="fresh",
                next_review_due=due,
            )  # fmt: skip
            for n in range(count)
        ]
    )
    SourceUseCase.objects.bulk_create(
        [
            SourceUseCase(organization=org, source=source, use_case=scenario.use_case)
            for source in ContextSource.objects.for_org(org)
        ]
    )


def _measure(client, url: str, release) -> tuple[float, int, dict]:
    """Median server time of the gate API, and the queries of the gate it computes (Django
    resets its query log at each request's start, so they are counted on the gate)."""
    import json

    from django.db import connection

    from governance import gate as release_gate

    for _ in range(3):
        body = json.loads(helpers._get(client, url).content)
    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    from governance.models import Release

    fresh = (  # as the API's view loads it
        Release.objects.for_org(release.organization_id)
        .select_related("use_case", "owner", "eval_run", "hitl_policy")
        .get(pk=release.pk)
    )
    with connection.execute_wrapper(count):
        release_gate.evaluate(fresh)
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        helpers._get(client, url)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings), len(executed), body


def _profile(release) -> None:
    """Where the gate's time goes: each query, slowest first."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from governance import gate as release_gate

    with CaptureQueriesContext(connection) as queries:
        release_gate.evaluate(release)
    for q in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:8]:
        print(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:160]}")
    print(f"  {len(queries)} queries")
    spent = []
    for _ in range(20):
        start = time.perf_counter()
        release_gate.evaluate(release)
        spent.append((time.perf_counter() - start) * 1000)
    print(f"  evaluate() alone: median {statistics.median(spent):.1f} ms")
    profile = cProfile.Profile()
    profile.enable()
    release_gate.evaluate(release)
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(15)


def inside(mode: str) -> int:
    helpers._setup_django()
    from django.db import connection
    from django.test import Client

    from genai_po.services import api_token_create

    scenario = helpers.Scenario("gov" + uuid.uuid4().hex[:6])
    try:
        release, requirement = _load(scenario)
        _sources(scenario, 20)
        _, raw = api_token_create(actor=scenario.system, name="bench gate", scopes=["read"])
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        url = f"/api/v1/releases/{release.number}/gate/"
        _gaps(scenario, requirement, 0, 50)
        _, small, _ = _measure(client, url, release)
        _gaps(scenario, requirement, 50, GAPS)
        helpers._analyze("context_contextgap")
        median, queries, body = _measure(client, url, release)
        if "--profile" in sys.argv[3:]:
            _profile(release)
        if body["verdict"] not in ("ready", "blocked", "insufficient_evidence"):
            raise RuntimeError(f"not a gate: {body}")
        ok = median < TARGET_MS and queries == small
        print(
            f"governance [{mode}: {connection.vendor}] release gate API, {CASES:,} results "
            f"(against a {CASES:,}-result baseline) and {GAPS} gaps: median {median:.1f} ms, "
            f"{queries} queries ({small} with 50 gaps; target < {TARGET_MS} ms, constant); "
            f"verdict {body['verdict']} with {len(body['blockers'])} blockers"
            f"{'' if ok else ' MISSED'}"
        )
    finally:
        scenario.purge()
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--inside":
        sys.exit(inside(sys.argv[2]))
    PROFILE[:] = [a for a in sys.argv[1:] if a == "--profile"]
    modes = [a for a in sys.argv[1:] if a != "--profile"] or ["embedded", "full"]
    sys.exit(max(main(mode) for mode in modes))
