"""A Celery worker killed with SIGKILL in the middle of a run: the run still completes.

Real processes on the real Redis broker, against the test database and a reference agent
in this process. Celery alone does not save the run: with acks_late and
reject_on_worker_lost a killed pool child's task comes back within seconds, but the
message of a killed main worker process stays unacknowledged until the Redis visibility
timeout (an hour). PostgreSQL leases and the beat reaper (embedded in the worker here)
are what bring the run to its end, with exactly one result per (case, repetition).
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from kombu import Exchange, Queue

from evals import services, tasks
from evals.case_io import CaseDraft
from evals.models import EvalResult, EvalRun, RunChunk, RunStatus
from genai_po.celery import app as celery_app
from genai_po.models import AuditEvent
from tests.factories.evals import EvalPlanFactory, TargetFactory, allow_loopback
from tests.worker_env import cache_url, worker_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

log = logging.getLogger(__name__)

CASES = 40
REPETITIONS = 2  # 80 items at concurrency 4 and 200 ms: about 4 s of work
AGENT_LATENCY_MS = 200
TARGET_CONCURRENCY = 4
KILL_AFTER_RESULTS = 8  # some results written, most not
LEASE_SECONDS = 6
REAP_INTERVAL_SECONDS = 2
READY_TIMEOUT = 30  # a cold worker start (Django, Celery, beat) on a busy 2-core machine
RECOVERY_TIMEOUT = 60  # what the issue asks for

# The worker's tasks, beat's included, must go to this test's queue and nowhere else;
# there is no setting for the default queue, so a two-line bootstrap sets it.
BOOTSTRAP = (
    "import sys\n"
    "from genai_po.celery import app\n"
    "app.conf.task_default_queue = sys.argv[1]\n"
    "app.worker_main(sys.argv[2:])\n"
)

PROMPTS = [
    ("How long does a refund take to reach my card?", False),
    ("Can I return an unopened item for a full refund?", False),
    ("My parcel is lost, tracking has not changed for a week", False),
    ("How do I reset my password? I forgot it", False),
    ("I will start a chargeback with my bank", True),
]


@pytest.fixture
def queue():
    """A queue of this test's own; emptied and dropped afterwards, with the message a
    killed worker left unacknowledged (Redis would hand it back in an hour)."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip("needs CELERY_BROKER_URL=redis://… (the full stack's broker)")
    name = f"test-kill-{uuid.uuid4().hex[:12]}"
    yield name
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        bound = Queue(name, Exchange(name, type="direct"), routing_key=name)(channel)
        bound.declare()  # this channel must know the binding for delete() to remove it
        bound.purge()
        bound.delete()
        client = channel.client
        for tag, raw in client.hgetall(channel.unacked_key).items():
            _message, exchange, routing_key = json.loads(raw)
            if name in (exchange, routing_key):
                client.hdel(channel.unacked_key, tag)
                client.zrem(channel.unacked_index_key, tag)


@contextmanager
def _eager_off_routed_to(queue_name: str):
    """Tasks published from this process go to the broker, on the test's queue."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    tasks.drive_run.delay = lambda run_id: tasks.drive_run.apply_async(
        args=[run_id], queue=queue_name
    )
    try:
        yield
    finally:
        del tasks.drive_run.delay  # the task's own method again
        celery_app.conf.task_always_eager = previous


class Worker:
    """`celery worker --beat --pool=prefork --concurrency=1` in its own process group."""

    def __init__(self, queue_name: str, tmp_path: Path, label: str) -> None:
        self.node = f"{queue_name}@{label}"
        self.log_path = tmp_path / f"{label}.log"
        env = dict(
            os.environ,
            DATABASE_URL=worker_database_url(),
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            CELERY_TASK_ALWAYS_EAGER="false",
            CACHE_URL=cache_url(),
            EVAL_LEASE_SECONDS=str(LEASE_SECONDS),
            EVAL_REAP_INTERVAL_SECONDS=str(REAP_INTERVAL_SECONDS),
            PYTHONUNBUFFERED="1",
        )
        argv = [
            "worker", "--beat", f"--schedule={tmp_path / 'beat-schedule'}",
            "--pool=prefork", "--concurrency=1", "--without-mingle", "--without-gossip",
            "--without-heartbeat", "-Q", queue_name, "-n", self.node, "--loglevel=INFO",
        ]  # fmt: skip
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-c", BOOTSTRAP, queue_name, *argv],
                cwd=settings.BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: killpg reaches beat and the pool
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if " ready." in self.log_path.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"worker not ready within {READY_TIMEOUT}s:\n{self.log_tail()}")

    def pool_pids(self) -> list[int]:
        """The prefork pool's child processes, as the worker itself reports them."""
        inspect = celery_app.control.inspect(destination=[self.node], timeout=5, limit=1)
        stats = (inspect.stats() or {}).get(self.node)
        if stats is None:
            pytest.fail(f"{self.node} did not answer `inspect stats`:\n{self.log_tail()}")
        return list(stats["pool"]["processes"])

    def kill_all(self) -> None:
        """SIGKILL the whole process group: main process, beat and pool children."""
        with suppress(ProcessLookupError):  # already gone, group and all
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@contextmanager
def _workers(queue_name: str, tmp_path: Path):
    """Start workers on demand; every one of them is killed at the end, whatever happens."""
    started: list[Worker] = []

    def start(label: str) -> Worker:
        worker = Worker(queue_name, tmp_path, label)
        started.append(worker)
        worker.wait_ready()
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.kill_all()


@pytest.fixture
def slow_plan(org_a, use_case_a, actor_a, agent_factory):
    """A plan of CASES cases × REPETITIONS against an agent that takes 200 ms a request."""
    agent = agent_factory(latency_ms=AGENT_LATENCY_MS)
    allow_loopback(org_a)
    target = TargetFactory(
        organization=org_a, name="Slow reference agent", url=agent.base_url,
        concurrency=TARGET_CONCURRENCY, timeout_s=10, max_attempts=2,
    )  # fmt: skip
    plan = EvalPlanFactory(use_case=use_case_a, target=target, repetitions=REPETITIONS)
    drafts = [
        CaseDraft(prompt=f"{prompt} (ticket {n})", must_escalate=escalate, line=n)
        for n in range(1, CASES + 1)
        for prompt, escalate in [PROMPTS[n % len(PROMPTS)]]
    ]
    services.cases_import(actor=actor_a, plan=plan, drafts=drafts, source="kill test")
    return plan


def _results(run: EvalRun):
    return EvalResult.objects.for_org(run.organization_id).filter(run_id=run.pk)


def _state(run: EvalRun, workers: list[Worker]) -> str:
    """What to look at when the run did not end as it should."""
    row = EvalRun.objects.for_org(run.organization_id).get(pk=run.pk)
    chunks = RunChunk.objects.for_org(run.organization_id).filter(run_id=run.pk).order_by("index")
    lines = [
        f"run {row.pk}: status={row.status} heartbeat_at={row.heartbeat_at} "
        f"results={_results(run).count()}/{row.total_items} error={row.error!r}",
        *(
            f"  chunk {c.index}: {c.status} attempts={c.attempts} leased_until={c.leased_until} "
            f"enqueued_at={c.enqueued_at} last_error={c.last_error!r}"
            for c in chunks
        ),
    ]
    for worker in workers:
        lines.append(f"--- {worker.node} (exit {worker.process.poll()}) log tail:")
        lines.append(worker.log_tail())
    return "\n".join(lines)


def _wait_for(condition, *, timeout: float, what: str, run: EvalRun, workers: list[Worker]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"Not within {timeout}s: {what}\n{_state(run, workers)}")


def _clock() -> str:
    """Wall-clock time as the worker log prints it, to line the two up."""
    return datetime.now().strftime("%H:%M:%S,%f")[:-3]


def _status(run: EvalRun) -> str:
    return (
        EvalRun.objects.for_org(run.organization_id).values_list("status", flat=True).get(pk=run.pk)
    )


def _start_mid_run(actor, plan, queue_name: str, worker: Worker) -> EvalRun:
    """Start the run on the worker's queue; return once some, not all, results exist."""
    with _eager_off_routed_to(queue_name):
        run = services.run_start(actor=actor, plan=plan)
    assert run.total_items == CASES * REPETITIONS
    _wait_for(
        lambda: _results(run).count() >= KILL_AFTER_RESULTS, timeout=30,
        what=f"{KILL_AFTER_RESULTS} results", run=run, workers=[worker],
    )  # fmt: skip
    written = _results(run).count()
    assert written < run.total_items, "the run finished before the kill: slow the agent down"
    return run


def _assert_completed_once(run: EvalRun, workers: list[Worker]) -> None:
    run.refresh_from_db()
    state = _state(run, workers)
    assert run.status == RunStatus.COMPLETED, state
    pairs = list(_results(run).values_list("case_id", "repetition"))
    assert len(pairs) == run.total_items == CASES * REPETITIONS, state
    assert len(set(pairs)) == len(pairs), state
    assert run.passed + run.failed + run.errored == run.total_items, state
    finishes = AuditEvent.objects.for_org(run.organization_id).filter(
        action="eval_run.finish", object_id=str(run.pk)
    )
    assert finishes.count() == 1, state


def test_a_killed_pool_child_loses_nothing_and_the_run_completes(
    actor_a, slow_plan, queue, tmp_path, record_property
):
    with _workers(queue, tmp_path) as start_worker:
        worker = start_worker("first")
        run = _start_mid_run(actor_a, slow_plan, queue, worker)
        (child,) = worker.pool_pids()
        written = _results(run).count()
        os.kill(child, signal.SIGKILL)
        killed_at, killed_clock = time.monotonic(), _clock()
        _wait_for(
            lambda: _status(run) == RunStatus.COMPLETED, timeout=RECOVERY_TIMEOUT,
            what="the run completed after its pool child was killed", run=run, workers=[worker],
        )  # fmt: skip
        recovery = time.monotonic() - killed_at
        assert worker.process.poll() is None, "the main worker process must live on"
        assert child not in worker.pool_pids(), "the pool must have a new child"
        _assert_completed_once(run, [worker])
    attempts = sorted(
        RunChunk.objects.for_org(run.organization_id)
        .filter(run_id=run.pk)
        .values_list("attempts", flat=True)
    )
    record_property("results_at_kill", written)
    record_property("kill_to_completed_s", round(recovery, 1))
    log.info("pool child %d killed at %s (worker log time), %d/%d results written; "
             "completed %.1f s later; chunk attempts %s",
             child, killed_clock, written, run.total_items, recovery, attempts)  # fmt: skip


def test_a_killed_worker_is_replaced_and_the_run_completes(
    actor_a, slow_plan, queue, tmp_path, record_property
):
    with _workers(queue, tmp_path) as start_worker:
        first = start_worker("first")
        run = _start_mid_run(actor_a, slow_plan, queue, first)
        written = _results(run).count()
        first.kill_all()
        killed_at, killed_clock = time.monotonic(), _clock()
        second = start_worker("second")  # its beat reaper must find the lost run
        restarted_at = time.monotonic()
        _wait_for(
            lambda: _status(run) == RunStatus.COMPLETED, timeout=RECOVERY_TIMEOUT,
            what="the run completed after the worker was killed and another started",
            run=run, workers=[first, second],
        )  # fmt: skip
        done_at = time.monotonic()
        _assert_completed_once(run, [first, second])
    attempts = sorted(
        RunChunk.objects.for_org(run.organization_id)
        .filter(run_id=run.pk)
        .values_list("attempts", flat=True)
    )
    record_property("results_at_kill", written)
    record_property("restart_to_completed_s", round(done_at - restarted_at, 1))
    log.info("worker killed at %s (worker log time), %d/%d results written; new worker "
             "ready %.1f s later; completed %.1f s after it was ready (%.1f s after the kill); "
             "chunk attempts %s", killed_clock, written, run.total_items,
             restarted_at - killed_at, done_at - restarted_at, done_at - killed_at,
             attempts)  # fmt: skip
