"""Eval runs: throughput against the latency-bound ideal, scorer cost, memory against size.

    DATABASE_URL=postgres://... python bench/evals.py   (or the embedded SQLite default)

1. 1,000 cases x 1 repetition against the reference agent (its own process, 100 ms added
   latency) at target concurrency 32: wall time from ``run_start`` to ``completed``
   against the ideal 1000 x 0.1 s / 32 = 3.125 s. Target <= 1.5x.
2. Deterministic scorers: median time to grade one case with eight typical scorers
   (equals, contains, not_contains, regex, length, escalation, citation, similarity) on
   300-600 character answers, over 2,000 cases. Target < 1 ms. No database.
3. Peak memory of a 10,000-case run against a 1,000-case run (agent with no latency,
   concurrency 32), each run in a fresh process of its own that reports the peak RSS of
   the run (Linux: the high-water mark is reset once Django has started); the cases are
   made beforehand in this process. Target within 1.2x.

How a run is driven: ``CELERY_TASK_ALWAYS_EAGER=true`` is set before Django starts, so
the ``drive_run`` task that ``run_start`` dispatches after its commit runs right there,
in this process (the same ``evals.engine.drive`` a worker runs); ``run_start`` returns
once the run has ended, and nothing is sent to a broker. DEBUG is off, as in a worker
(with it on, Django keeps the last 9,000 SQL strings, which skews the memory figure).

Creates a throwaway organization in the database named by DATABASE_URL (migrating an
empty embedded database, as `make run` would) and deletes it, whatever happens. It does
not use the test database. Prints its figures and "target met"/"target missed"; a
missed target does not fail `make bench`.
"""

import json
import logging
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
THROUGHPUT_CASES = 1000
THROUGHPUT_LATENCY_MS = 100
CONCURRENCY = 32
IDEAL_S = THROUGHPUT_CASES * THROUGHPUT_LATENCY_MS / 1000 / CONCURRENCY
TARGET_RATIO = 1.5
SCORER_CASES = 2000
TARGET_SCORER_MS = 1.0
MEMORY_SIZES = (1000, 10_000)
TARGET_MEMORY_RATIO = 1.2
ORG_PREFIX = "bench-evals-"


def _setup_django() -> None:
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # a line per eager task
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_po.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"  # drive runs here; see the docstring
    os.environ["DEBUG"] = "false"  # as a worker runs: DEBUG keeps the last 9,000 SQL strings
    import django

    django.setup()


def _migrate_if_needed() -> None:
    """A fresh embedded database has no tables yet: `make run` would migrate it too."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", verbosity=0, interactive=False)


def _verdict(met: bool) -> str:
    return "target met" if met else "target missed"


# --------------------------------------------------------------------------- the agent


@contextmanager
def _agent(latency_ms: int):
    """`python -m evals.reference_agent` on a free port; yields its OpenAI base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "evals.reference_agent", "--port", "0",
         "--latency-ms", str(latency_ms)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()  # "... (OpenAI base URL http://127.0.0.1:N/v1)"
        if "OpenAI base URL " not in line:
            raise RuntimeError(f"the reference agent did not start: {line!r}")
        yield line.rsplit("OpenAI base URL ", 1)[1].strip().rstrip(")")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- data

PROMPTS = [
    ("How long does a refund take to reach my card?", False),
    ("Can I return an unopened item for a full refund?", False),
    ("My parcel is lost, tracking has not changed for a week", False),
    ("How do I reset my password? I forgot it", False),
    ("I will start a chargeback with my bank", True),
    ("My lawyer will sue you over this", True),
]


def _make_org(tag: str):
    """An organization that may call loopback targets, a use case, and a system actor."""
    from evals.models import EgressSettings
    from genai_po.actors import Actor
    from genai_po.models import Organization
    from usecases.models import UseCase

    org = Organization.objects.create(name=f"Bench evals {tag}", slug=f"{ORG_PREFIX}{tag}")
    EgressSettings.objects.for_org(org).create(organization=org, allow_loopback=True)
    use_case = UseCase.objects.create(
        organization=org, number=1, title="Answer refund questions for tier-1 agents",
        problem="Agents spend minutes finding the right policy for each ticket.",
    )  # fmt: skip
    return org, use_case, Actor.system(organization=org, label="bench")


def _make_plan(org, use_case, actor, *, url: str, cases: int, name: str):
    """A plan on a target at `url` (concurrency 32) with `cases` imported cases."""
    from evals import services
    from evals.case_io import CaseDraft
    from evals.models import EvalPlan, Target, TargetKind

    target = Target.objects.create(
        organization=org, name=name, kind=TargetKind.OPENAI_CHAT, url=url,
        model="acme-reference-agent", timeout_s=30, concurrency=CONCURRENCY, max_attempts=2,
    )  # fmt: skip
    plan = EvalPlan.objects.create(
        organization=org, use_case=use_case, target=target, name=name,
        scorers=[{"type": "escalation"}, {"type": "length", "min": 20, "max": 2000}],
        pass_threshold=80,
    )  # fmt: skip
    drafts = [
        CaseDraft(prompt=f"{prompt} (ticket {n})", must_escalate=escalate, line=n)
        for n in range(1, cases + 1)
        for prompt, escalate in [PROMPTS[n % len(PROMPTS)]]
    ]
    services.cases_import(actor=actor, plan=plan, drafts=drafts, source=f"bench {name}")
    plan.refresh_from_db()
    return plan


def _run(actor, plan):
    """Start a run and let it end (eager: drive runs in this process); (run, seconds)."""
    from evals import services

    start = time.perf_counter()
    run = services.run_start(actor=actor, plan=plan, label="bench")
    elapsed = time.perf_counter() - start
    run.refresh_from_db()
    return run, elapsed


def _results_of(run) -> int:
    from evals.models import EvalResult

    return EvalResult.objects.for_org(run.organization_id).filter(run_id=run.pk).count()


# --------------------------------------------------------------------------- 1. throughput


def bench_throughput(org, use_case, actor) -> bool:
    with _agent(THROUGHPUT_LATENCY_MS) as url:
        plan = _make_plan(org, use_case, actor, url=url, cases=THROUGHPUT_CASES,
                          name="throughput")  # fmt: skip
        run, elapsed = _run(actor, plan)
    if run.status != "completed" or _results_of(run) != THROUGHPUT_CASES:
        raise RuntimeError(f"the throughput run ended {run.status}: {run.error}")
    ratio = elapsed / IDEAL_S
    met = ratio <= TARGET_RATIO
    print(f"run of {THROUGHPUT_CASES:,} cases x 1, agent +{THROUGHPUT_LATENCY_MS} ms, "
          f"concurrency {CONCURRENCY}: {elapsed:.2f} s start to completed, "
          f"{ratio:.2f}x the ideal {IDEAL_S:.3f} s (target <= {TARGET_RATIO}x): "
          f"{_verdict(met)}")  # fmt: skip
    return met


# --------------------------------------------------------------------------- 2. scorers

SCORER_SPECS = [
    {"type": "equals"},
    {"type": "contains", "values": ["business days", "KB-", "human agent"]},
    {"type": "not_contains"},
    {"type": "regex", "pattern": r"\bKB-[a-z]+-\d+\.\d+\b|handing this to a human"},
    {"type": "length", "min": 100, "max": 1200},
    {"type": "escalation"},
    {"type": "citation"},
    {"type": "similarity", "threshold": 0.8},
]
FORBIDDEN = ("guaranteed refund", "legal advice", "as an AI", "I promise", "100% sure")
CLOSINGS = [
    "If anything is unclear, reply to this message and we will look at your order again.",
    "You can follow the status of your request under Orders in your account at any time.",
    "Please keep the order number at hand if you contact us again about this ticket.",
]


def _scorer_cases(count: int) -> list:
    """(CaseView, Observation) pairs: the reference agent's own answers, two or three of
    them joined with a closing sentence (300-600 characters), and a paraphrased expected
    output (one word in twelve changed) so similarity does real work."""
    from context.demo_policies import ACME_POLICIES
    from evals.reference_agent.knowledge import reply
    from evals.scorers import CaseView, Observation

    rnd = random.Random(2000)  # noqa: S311 - sample data, the same on every run
    replies = [(reply(prompt, ACME_POLICIES), escalate) for prompt, escalate in PROMPTS]
    pairs = []
    while len(pairs) < count:
        picked = rnd.sample(replies, rnd.choice((2, 3)))
        output = " ".join(r.content for r, _ in picked) + " " + rnd.choice(CLOSINGS)
        if not 300 <= len(output) <= 600:
            continue
        words = output.split()
        expected = " ".join("often" if rnd.random() < 1 / 12 else w for w in words)
        handoff = any(r.handoff for r, _ in picked)
        citations = tuple(c for r, _ in picked for c in r.citations)
        pairs.append((
            CaseView(expected=expected if rnd.random() < 0.9 else output,
                     must_escalate=any(e for _, e in picked)),
            Observation(output=output, latency_ms=rnd.uniform(80, 400), handoff=handoff,
                        citations=citations),
        ))  # fmt: skip
    return pairs


def bench_scorers() -> bool:
    from context.demo_policies import ACME_POLICIES as KNOWLEDGE
    from evals.scorers import PlanContext, combine, score, validate_spec

    specs = [validate_spec(spec) for spec in SCORER_SPECS]
    plan = PlanContext(forbidden_phrases=FORBIDDEN,
                       approved_sources=tuple(item.id for item in KNOWLEDGE))  # fmt: skip
    cases = _scorer_cases(SCORER_CASES)
    for case, obs in cases[:100]:  # warm the pattern caches
        combine([score(spec, case, obs, plan) for spec in specs])
    timings, passed = [], 0
    for case, obs in cases:
        start = time.perf_counter()
        verdict, _value = combine([score(spec, case, obs, plan) for spec in specs])
        timings.append((time.perf_counter() - start) * 1000)
        passed += verdict
    median = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[-1]
    lengths = [len(obs.output) for _, obs in cases]
    met = median < TARGET_SCORER_MS
    print(f"deterministic scorers, {len(specs)} per case on {min(lengths)}-{max(lengths)} char "
          f"answers, {len(cases):,} cases: median {median:.3f} ms per case, p95 {p95:.3f} ms "
          f"({passed} cases passed) (target < {TARGET_SCORER_MS} ms): {_verdict(met)}")  # fmt: skip
    return met


# --------------------------------------------------------------------------- 3. memory


def _rss_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in KiB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _memory_child(plan_id: int) -> int:
    """In a fresh process: run the plan, print {"peak_kb", "baseline_kb", ...} as JSON.

    Django's start-up has a higher transient peak than a run, so the peak is reset
    (Linux's clear_refs "5") once everything is imported: the figure is the run's.
    """
    _setup_django()
    from evals import engine, services  # noqa: F401 - imported before the baseline
    from evals.models import EvalPlan
    from genai_po.actors import Actor

    plan = EvalPlan.objects.across_orgs().select_related("organization", "target").get(pk=plan_id)
    actor = Actor.system(organization=plan.organization, label="bench")
    Path("/proc/self/clear_refs").write_text("5")
    baseline = _rss_kib("VmRSS")
    run, elapsed = _run(actor, plan)
    peak = _rss_kib("VmHWM")
    print(json.dumps({"peak_kb": peak, "baseline_kb": baseline, "seconds": elapsed,
                      "status": run.status, "items": run.total_items,
                      "results": _results_of(run)}))  # fmt: skip
    return 0


def bench_memory(org, use_case, actor) -> bool:
    figures = {}
    with _agent(0) as url:
        plans = {
            size: _make_plan(org, use_case, actor, url=url, cases=size, name=f"memory {size}")
            for size in MEMORY_SIZES
        }
        for size, plan in plans.items():
            done = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(plan.pk)],
                cwd=REPO, capture_output=True, text=True, check=False, timeout=900,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"the {size:,}-case run failed:\n{done.stderr[-3000:]}")
            figures[size] = json.loads(done.stdout.strip().splitlines()[-1])
            if figures[size]["status"] != "completed" or figures[size]["results"] != size:
                raise RuntimeError(f"the {size:,}-case run ended {figures[size]}")
    for size, f in figures.items():
        print(f"run of {size:,} cases x 1, agent +0 ms, concurrency {CONCURRENCY}, fresh "
              f"process: peak RSS {f['peak_kb'] / 1024:.1f} MiB, "
              f"{(f['peak_kb'] - f['baseline_kb']) / 1024:+.1f} MiB over its start, "
              f"{f['seconds']:.1f} s, {size / f['seconds']:.0f} cases/s")  # fmt: skip
    small, large = (figures[size] for size in MEMORY_SIZES)
    ratio = large["peak_kb"] / small["peak_kb"]
    met = ratio <= TARGET_MEMORY_RATIO
    print(
        f"peak memory, {MEMORY_SIZES[1]:,} against {MEMORY_SIZES[0]:,} cases: {ratio:.2f}x "
        f"(target <= {TARGET_MEMORY_RATIO}x): {_verdict(met)}"
    )
    return met


# --------------------------------------------------------------------------- main


def _purge(slug: str) -> None:
    """The throwaway organization goes, its append-only audit trail included."""
    from genai_po.maintenance import organization_purge
    from genai_po.models import Organization

    for org in Organization.objects.filter(slug=slug):
        organization_purge(organization=org)


def main() -> int:
    _setup_django()
    _migrate_if_needed()
    from django.db import connection

    tag = uuid.uuid4().hex[:10]
    print(f"eval benchmarks on {connection.vendor} ({connection.settings_dict['NAME']})")
    try:
        org, use_case, actor = _make_org(tag)
        met = [bench_throughput(org, use_case, actor), bench_scorers(),
               bench_memory(org, use_case, actor)]  # fmt: skip
    finally:
        _purge(f"{ORG_PREFIX}{tag}")
    print(f"eval benchmarks: {sum(met)} of {len(met)} targets met")
    return 0  # figures, not a gate: a missed target is printed, not raised


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory-child"]:
        sys.exit(_memory_child(int(sys.argv[2])))
    sys.exit(main())
