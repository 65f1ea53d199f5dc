"""The context loop's figures, per mode (each in a process of its own):

    python bench/context.py embedded   SQLite and the filesystem broker, in a temporary var/
    python bench/context.py full       PostgreSQL (BENCH_DATABASE_URL, a throwaway database)
                                       and Redis (BENCH_BROKER_URL)

1. Publish to verified: real processes (the web app, a Celery worker, the reference agent
   answering from the knowledge search API of that web app). A case fails for lack of
   knowledge, is triaged, routed, answered; the clock runs from the approval (which
   publishes) until the gap shows "verified". Median of three gaps.
2. The knowledge search API over 10,000 published items: median and p95 server time
   (the whole request through Django's test client, with a knowledge:read token).
3. The SME inbox with 500 open questions: median server time and query count (and the
   count with 50, which must be the same).

The 10,000 items are made-up text over 3,000 words used with Zipf's frequencies, and the
questions draw from the same words (so some words match thousands of items, as "refund"
would in a support knowledge base). Everything it makes is in a throwaway organization,
purged at the end.
"""

import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ITEMS = 10_000
QUERIES = 200
INBOX_GAPS = 500
TARGETS = {"verify_embedded_s": 30, "verify_full_s": 10, "search_median_ms": 20, "inbox_ms": 150}
_WORD_TEXT = """
refund return exchange warranty repair delivery shipping parcel tracking invoice
payment card voucher gift subscription cancel renewal discount coupon price match
account password login address order damaged missing late express standard
international customs duty battery charger screen laptop phone kettle blender
headphones television camera printer membership loyalty points store pickup
"""
WORDS = _WORD_TEXT.split()


def _vocabulary(rnd: random.Random, size: int = 3000) -> tuple[list[str], list[float]]:
    """A knowledge base's words: the domain words above, then made-up ones, used with
    Zipf's frequencies (a few words everywhere, most rare), as real text is."""
    syllables = ["ka", "ro", "mi", "te", "lu", "sa", "ven", "dor", "pli", "gra", "no", "zu"]
    words = list(WORDS)
    while len(words) < size:
        word = "".join(rnd.choices(syllables, k=rnd.randint(2, 4)))
        if word not in words:
            words.append(word)
    return words, [1 / (rank + 1) for rank in range(len(words))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _mode_env(mode: str, var_dir: Path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "CELERY_", "CACHE_URL"))
    }
    env.update(
        GENAI_PO_VAR_DIR=str(var_dir), PYTHONPATH=str(REPO), CELERY_TASK_ALWAYS_EAGER="false"
    )
    if mode == "full":
        env["DATABASE_URL"] = os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/genai_po_bench"
        )
        env["CELERY_BROKER_URL"] = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/5")
        env["CACHE_URL"] = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/6")
    return env


def main(mode: str) -> int:
    """The parent: a fresh environment for the mode, then this script again inside it."""
    with tempfile.TemporaryDirectory(prefix=f"genai-po-bench-context-{mode}-") as tmp:
        env = _mode_env(mode, Path(tmp) / "var")
        if mode == "full":
            _create_database(env["DATABASE_URL"])
        result = subprocess.run(
            [sys.executable, __file__, "--inside", mode], env=env, cwd=REPO, check=False
        )
        return result.returncode


def _create_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


# --------------------------------------------------------------------------- inside the mode


def _setup_django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_po.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


class Scenario:
    """A throwaway organization with its people, a use case and an agent target."""

    def __init__(self, tag: str):
        from context import services as cs
        from evals.models import EgressSettings
        from genai_po.actors import Actor
        from genai_po.models import Membership, Organization, User
        from genai_po.services import organization_create
        from usecases.models import UseCase

        self.tag = tag
        owner = User.objects.create_user(f"bench-{tag}-owner@example.invalid", "x")
        self.org = organization_create(
            user=owner, name=f"Bench context {tag}", slug=f"bench-context-{tag}"
        )
        self.po = User.objects.create_user(f"bench-{tag}-po@example.invalid", "x")
        self.sme = User.objects.create_user(f"bench-{tag}-sme@example.invalid", "x")
        Membership.objects.bulk_create(
            [
                Membership(organization=self.org, user=self.po, role="product_owner"),
                Membership(organization=self.org, user=self.sme, role="sme"),
            ]
        )
        self.po_actor = Actor.for_member(user=self.po, organization=self.org, role="product_owner")
        self.sme_actor = Actor.for_member(user=self.sme, organization=self.org, role="sme")
        self.system = Actor.system(organization=self.org, label="bench")
        cs.sme_profile_set(actor=self.sme_actor, user=self.sme, tags=["bench"])
        EgressSettings.objects.for_org(self.org).update_or_create(
            organization=self.org, defaults={"allow_loopback": True}
        )
        self.use_case = UseCase.objects.create(
            organization=self.org, number=1, title="Bench refunds"
        )
        Organization.objects.filter(pk=self.org.pk).exists()

    def purge(self) -> None:
        from genai_po.maintenance import organization_purge
        from genai_po.models import User

        organization_purge(organization=self.org)
        User.objects.filter(email__startswith=f"bench-{self.tag}-").delete()


def _start(argv: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        argv, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _wait_for(predicate, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise RuntimeError(f"gave up waiting for {what} after {timeout} s")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def bench_publish_to_verified(mode: str, scenario: Scenario) -> float:
    from context import services as cs
    from context.models import ContextGap, GapStatus
    from evals import services as es
    from evals.models import EvalPlan, EvalRun, Target
    from genai_po.services import api_token_create

    var = Path(os.environ["GENAI_PO_VAR_DIR"])
    var.mkdir(parents=True, exist_ok=True)
    web_port, agent_port = _free_port(), _free_port()
    _, raw = api_token_create(actor=scenario.system, name="bench agent", scopes=["knowledge:read"])
    token_file = var / "bench-agent-token"
    token_file.write_text(raw)
    token_file.chmod(0o600)
    python = sys.executable
    procs = [
        _start(
            [
                python,
                "manage.py",
                "serve_local",
                f"127.0.0.1:{web_port}",
                "--noreload",
                "--skip-checks",
            ],
            var / "web.log",
        ),
        _start(
            [
                python,
                "-m",
                "celery",
                "-A",
                "genai_po",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=2",
            ],
            var / "worker.log",
        ),
        _start(
            [
                python,
                "-m",
                "evals.reference_agent",
                "--port",
                str(agent_port),
                "--knowledge-url",
                f"http://127.0.0.1:{web_port}/api/v1/knowledge/search",
                "--knowledge-token-file",
                str(token_file),
            ],
            var / "agent.log",
        ),
    ]
    try:
        _wait_for(lambda: _listening(web_port) and _listening(agent_port), 60, "the servers")
        target = Target.objects.create(
            organization=scenario.org,
            name="bench agent",
            kind="openai_chat",
            url=f"http://127.0.0.1:{agent_port}/v1",
            model="acme-reference-agent",
            timeout_s=10,
        )
        plan = EvalPlan.objects.create(
            organization=scenario.org,
            use_case=scenario.use_case,
            name="bench plan",
            target=target,
            scorers=[{"type": "escalation"}],
            approved_sources=["KB-*"],
        )
        questions = [
            ("gift card", "Can I get a refund on a gift card I bought last week?"),
            ("price match", "Do you price match if the item gets cheaper after I buy it?"),
            ("warranty", "Is my coffee machine still under warranty after 18 months?"),
        ]
        for _, question in questions:
            es.case_add(
                actor=scenario.system,
                plan=plan,
                data={"prompt": question, "tags": ["bench"], "scorers": [{"type": "citation"}]},
            )
        plan.refresh_from_db()
        run = es.run_start(actor=scenario.system, plan=plan)
        _wait_for(
            lambda: EvalRun.objects.for_org(scenario.org).get(pk=run.pk).status == "completed",
            120,
            "the baseline run",
        )
        run.refresh_from_db()
        if run.failed != len(questions):
            raise RuntimeError(f"the baseline should fail all {len(questions)} cases: {run.failed}")
        timings = []
        for result in run.results.select_related("case").order_by("case_number"):
            triage = es.triage_set(
                actor=scenario.system, run=run, case=result.case, category="context_gap", note=""
            )
            gap = ContextGap.objects.for_org(scenario.org).get(
                number=int(triage.follow_up_ref.removeprefix("GAP-"))
            )
            gap = cs.gap_route(actor=scenario.po_actor, gap=gap)
            topic = next(t for t, q in questions if q == gap.question)
            answer = cs.answer_submit(
                actor=scenario.sme_actor,
                gap=gap,
                data={
                    "title": f"{topic.title()} policy",
                    "question": f"{gap.question}, {topic}",
                    "body": f"The {topic} rule: yes, within 14 days.",
                    "confidence": "high",
                },
            )
            start = time.monotonic()
            cs.answer_review(actor=scenario.po_actor, answer=answer, decision="approve")
            _wait_for(
                lambda g=gap: (
                    ContextGap.objects.for_org(scenario.org).get(pk=g.pk).status
                    == GapStatus.VERIFIED
                ),
                120,
                f"{gap.key} to be verified",
                step=0.02,
            )
            timings.append(time.monotonic() - start)
        return statistics.median(timings)
    finally:
        _stop(procs)


def _get(client, url: str, **extra):
    response = client.get(url, HTTP_HOST="127.0.0.1", **extra)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    return response


def _analyze(table: str) -> None:
    """Fresh planner statistics and no dead rows of earlier runs after a bulk load, as
    autovacuum keeps a live database (SQLite plans without them)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")


def bench_search(scenario: Scenario) -> tuple[float, float]:
    from django.test import Client

    from context.models import KnowledgeItem
    from genai_po.services import api_token_create

    rnd = random.Random(10_000)  # noqa: S311 - sample data, the same on every run
    vocabulary, weights = _vocabulary(rnd)
    items = []
    for number in range(1, ITEMS + 1):
        words = rnd.choices(vocabulary, weights=weights, k=72)
        items.append(
            KnowledgeItem(
                organization=scenario.org,
                number=10_000 + number,
                status="published",
                title=f"{words[0].title()} {words[1]} policy {number}",
                question=", ".join(words[2:6]),
                body=" ".join(words[6:]) + ".",
            )
        )
    KnowledgeItem.objects.bulk_create(items, batch_size=1000)
    _analyze("context_knowledgeitem")
    _, raw = api_token_create(actor=scenario.system, name="bench search", scopes=["knowledge:read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    questions = [
        f"Can I get a {' '.join(rnd.choices(vocabulary, weights=weights, k=3))} for my order?"
        for _ in range(QUERIES)
    ]
    for question in questions[:20]:  # warm up
        _get(client, "/api/v1/knowledge/search", data={"q": question})
    timings, found = [], 0
    for question in questions:
        start = time.perf_counter()
        body = json.loads(_get(client, "/api/v1/knowledge/search", data={"q": question}).content)
        timings.append((time.perf_counter() - start) * 1000)
        found += body["count"] > 0
    if found < QUERIES * 0.9:
        raise RuntimeError(f"only {found} of {QUERIES} searches found something")
    return statistics.median(timings), statistics.quantiles(timings, n=20)[-1]


def bench_inbox(scenario: Scenario) -> tuple[float, int, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from context.models import ContextGap

    now = timezone.now()
    client = Client()
    client.force_login(scenario.sme)
    url = f"/o/{scenario.org.slug}/context/inbox/"
    counts = []
    made = 0
    for total in (50, INBOX_GAPS):
        ContextGap.objects.bulk_create(
            [
                ContextGap(
                    organization=scenario.org,
                    number=100_000 + n,
                    question=f"Open question {n} about {WORDS[n % len(WORDS)]}",
                    detected_by="manual",
                    status="routed",
                    assigned_to=scenario.sme,
                    routed_at=now,
                    due_at=now + timezone.timedelta(hours=n - 250),
                )
                for n in range(made, total)
            ],
            batch_size=500,
        )
        made = total
        for _ in range(3):
            _get(client, url)
        with CaptureQueriesContext(connection) as queries:
            _get(client, url)
        counts.append(len(queries))
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        body = _get(client, url).content.decode()
        timings.append((time.perf_counter() - start) * 1000)
    if f"Questions ({INBOX_GAPS})" not in body:
        raise RuntimeError("the inbox does not show the 500 questions")
    return statistics.median(timings), counts[1], counts[0]


def inside(mode: str) -> int:
    _setup_django()
    from django.db import connection

    scenario = Scenario(uuid.uuid4().hex[:8])
    database = f"{connection.vendor}" + (" + Redis" if mode == "full" else " + filesystem broker")
    missed = False
    try:
        seconds = bench_publish_to_verified(mode, scenario)
        target = TARGETS[f"verify_{mode}_s"]
        missed |= seconds >= target
        print(
            f"context [{mode}: {database}] publish to verified: median {seconds:.1f} s over 3 "
            f"gaps (target < {target} s){'' if seconds < target else ' MISSED'}"
        )
        median, p95 = bench_search(scenario)
        missed |= median >= TARGETS["search_median_ms"]
        print(
            f"context [{mode}: {connection.vendor}] knowledge search API, {ITEMS:,} published "
            f"items: median {median:.1f} ms, p95 {p95:.1f} ms over {QUERIES} questions (target "
            f"median < {TARGETS['search_median_ms']} ms)"
            f"{'' if median < TARGETS['search_median_ms'] else ' MISSED'}"
        )
        median, queries, small = bench_inbox(scenario)
        ok = median < TARGETS["inbox_ms"] and queries == small
        missed |= not ok
        print(
            f"context [{mode}: {connection.vendor}] SME inbox with {INBOX_GAPS} open questions: "
            f"median {median:.0f} ms, {queries} queries ({small} with 50; target < "
            f"{TARGETS['inbox_ms']} ms, constant){'' if ok else ' MISSED'}"
        )
    finally:
        scenario.purge()
    return 1 if missed else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        sys.exit(inside(sys.argv[2]))
    modes = sys.argv[1:] or ["embedded", "full"]
    sys.exit(max(main(mode) for mode in modes))
