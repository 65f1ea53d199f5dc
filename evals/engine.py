"""Executing a run: leases in PostgreSQL, HTTP on an event loop, results as they arrive.

One `drive(run_id)` call (a Celery task) works a run until no chunk is left for it:

- The calling thread owns the database. It claims a chunk (`SELECT … FOR UPDATE SKIP
  LOCKED`, a fresh lease token, ``attempts + 1``), feeds its (case, repetition) items to
  the event loop, writes results in small batches with ``ON CONFLICT DO NOTHING`` (a
  duplicate execution writes nothing), renews its leases, and marks a chunk done once all
  its items have a result. Only a window of items is in flight: memory does not grow
  with the size of the run.
- A second thread runs the asyncio loop that calls the target through the guarded
  client under an `AdaptiveLimiter` (concurrency, rate limit, halving on 429) and scores
  each answer.
- `reap()` (Celery beat) hands expired leases back, re-enqueues drivers for runs that
  have work nobody is doing, marks chunks that used up their attempts dead, and
  finalizes runs whose chunks are all settled. `finalize()` is idempotent: a run is
  finalized exactly once, by whoever gets there first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from evals import client, judge, scorers, summary
from evals.models import (
    ACTIVE_RUN_STATUSES,
    ChunkStatus,
    EvalCase,
    EvalResult,
    EvalRun,
    ResultStatus,
    RunChunk,
    RunStatus,
    Target,
)
from evals.run_events import notify_run_finished
from evals.services import egress_policy_for
from evals.targets import Answer, CaseInput, TargetConfig, call_target, cost_of
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.secrets import SecretUnreadable

log = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 20_000
FLUSH_EVERY_S = 0.5
FLUSH_BATCH = 50
CANCEL_CHECK_S = 1.0


def lease_seconds() -> float:
    return float(getattr(settings, "EVAL_LEASE_SECONDS", 30))


def max_chunk_attempts() -> int:
    return int(getattr(settings, "EVAL_CHUNK_ATTEMPTS", 3))


def drive_budget_seconds() -> float:
    """How long one task works before handing the rest of the run to a fresh task."""
    return float(getattr(settings, "EVAL_DRIVE_BUDGET_SECONDS", 10 * 60))


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class Item:
    chunk_id: int
    case_id: int
    case_number: int
    repetition: int
    case_input: CaseInput
    case_view: scorers.CaseView
    specs: tuple[dict, ...]
    threshold: float | None


@dataclass
class ChunkWork:
    chunk_id: int
    token: uuid.UUID
    remaining: int


@dataclass
class Outcome:
    item: Item
    row: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- leases


def claim_chunk(run: EvalRun) -> tuple[RunChunk, uuid.UUID] | None:
    """Lease the next chunk of the run nobody holds (or whose lease expired)."""
    while True:
        now = timezone.now()
        with transaction.atomic():
            chunk = (
                RunChunk.objects.for_org(run.organization_id)
                .select_for_update(skip_locked=True)
                .filter(run_id=run.pk)
                .filter(
                    Q(status=ChunkStatus.PENDING)
                    | Q(status=ChunkStatus.LEASED, leased_until__lt=now)
                )
                .order_by("index")
                .first()
            )
            if chunk is None:
                return None
            if chunk.attempts >= max_chunk_attempts():
                _bury(chunk, now)
                continue
            token = uuid.uuid4()
            RunChunk.objects.for_org(run.organization_id).filter(pk=chunk.pk).update(
                status=ChunkStatus.LEASED,
                lease_token=token,
                leased_until=now + timedelta(seconds=lease_seconds()),
                attempts=chunk.attempts + 1,
                updated_at=now,
            )
            chunk.attempts += 1
            return chunk, token


def _bury(chunk: RunChunk, now) -> None:
    """Mark a chunk dead: each of its items without a result gets a dead result saying why."""
    run = EvalRun.objects.for_org(chunk.organization_id).only("repetitions").get(pk=chunk.run_id)
    reason = (
        f"gave up after {chunk.attempts} attempts: the worker running this case stopped "
        f"before finishing each time ({chunk.last_error or 'its lease expired'})"
    )
    have = set(
        EvalResult.objects.for_org(chunk.organization_id)
        .filter(run_id=chunk.run_id, case_id__in=chunk.case_ids)
        .values_list("case_id", "repetition")
    )
    numbers = dict(
        EvalCase.objects.for_org(chunk.organization_id)
        .filter(pk__in=chunk.case_ids)
        .values_list("pk", "number")
    )
    EvalResult.objects.bulk_create(
        [
            EvalResult(
                organization_id=chunk.organization_id,
                run_id=chunk.run_id,
                case_id=case_id,
                case_number=numbers[case_id],
                repetition=rep,
                status=ResultStatus.DEAD,
                error=reason,
                attempts=chunk.attempts,
            )  # fmt: skip
            for case_id in chunk.case_ids
            if case_id in numbers
            for rep in range(run.repetitions)
            if (case_id, rep) not in have
        ],
        ignore_conflicts=True,
    )
    RunChunk.objects.for_org(chunk.organization_id).filter(pk=chunk.pk).update(
        status=ChunkStatus.DEAD, lease_token=None, leased_until=None, last_error=reason,
        updated_at=now,
    )  # fmt: skip


def renew(run: EvalRun, works: list[ChunkWork]) -> None:
    now = timezone.now()
    until = now + timedelta(seconds=lease_seconds())
    EvalRun.objects.for_org(run.organization_id).filter(pk=run.pk).update(heartbeat_at=now)
    for work in works:
        RunChunk.objects.for_org(run.organization_id).filter(
            pk=work.chunk_id, lease_token=work.token, status=ChunkStatus.LEASED
        ).update(leased_until=until)


def complete_chunk(run: EvalRun, work: ChunkWork) -> None:
    RunChunk.objects.for_org(run.organization_id).filter(
        pk=work.chunk_id, lease_token=work.token, status=ChunkStatus.LEASED
    ).update(status=ChunkStatus.DONE, leased_until=None, updated_at=timezone.now())


# --------------------------------------------------------------------------- items of a chunk


def _items_of(run: EvalRun, chunk: RunChunk, plan_specs: list[dict]) -> list[Item]:
    have = set(
        EvalResult.objects.for_org(run.organization_id)
        .filter(run_id=run.pk, case_id__in=chunk.case_ids)
        .values_list("case_id", "repetition")
    )
    cases = {
        c.pk: c for c in EvalCase.objects.for_org(run.organization_id).filter(pk__in=chunk.case_ids)
    }
    items = []
    for case_id in chunk.case_ids:
        case = cases.get(case_id)
        if case is None:
            continue
        case_input = CaseInput(
            prompt=case.prompt,
            messages=tuple(case.messages or ()),
            variables=case.variables or {},
            context=case.context,
        )
        view = scorers.CaseView(expected=case.expected, must_escalate=case.must_escalate)
        specs = tuple(plan_specs) + tuple(case.scorers or ())
        for rep in range(run.repetitions):
            if (case_id, rep) in have:
                continue
            items.append(
                Item(
                    chunk.pk,
                    case_id,
                    case.number,
                    rep,
                    case_input,
                    view,
                    specs,
                    case.pass_threshold,
                )  # fmt: skip
            )
    return items


# --------------------------------------------------------------------------- the loop side


class Evaluator:
    """What runs on the event loop: call the target, call the judge, score."""

    def __init__(self, run: EvalRun, cfg: TargetConfig, judge_cfg: TargetConfig | None,
                 policy, plan_ctx: scorers.PlanContext) -> None:  # fmt: skip
        self.run, self.cfg, self.judge_cfg = run, cfg, judge_cfg
        self.policy, self.plan_ctx = policy, plan_ctx
        self.session = None
        self.judge_session = None
        self.limiter: client.AdaptiveLimiter | None = None
        self.judge_limiter: client.AdaptiveLimiter | None = None

    async def open(self) -> None:
        self.session = client.make_session(
            self.policy, limit=self.cfg.concurrency, timeout_s=self.cfg.timeout_s
        )
        self.limiter = client.AdaptiveLimiter(self.cfg.concurrency, rate=self.cfg.rate_limit_per_s)
        if self.judge_cfg is not None:
            self.judge_session = client.make_session(
                self.policy, limit=self.judge_cfg.concurrency, timeout_s=self.judge_cfg.timeout_s
            )
            self.judge_limiter = client.AdaptiveLimiter(
                self.judge_cfg.concurrency, rate=self.judge_cfg.rate_limit_per_s
            )

    async def close(self) -> None:
        for session in (self.session, self.judge_session):
            if session is not None:
                await session.close()

    async def evaluate(self, item: Item) -> Outcome:
        answer = await call_target(self.session, self.cfg, item.case_input, limiter=self.limiter)
        try:
            return Outcome(item, await self._score(item, answer))
        except Exception as exc:  # a scorer bug must not stop the run: it is this case's error
            log.exception("scoring CASE-%s failed", item.case_number)
            return Outcome(
                item,
                {
                    "status": ResultStatus.ERROR,
                    "latency_ms": answer.latency_ms,
                    "output": answer.output[:MAX_OUTPUT_CHARS],
                    "error": f"scoring failed: {type(exc).__name__}: {exc}",
                },
            )

    async def _score(self, item: Item, answer: Answer) -> dict[str, Any]:
        row: dict[str, Any] = {
            "latency_ms": answer.latency_ms,
            "tokens_in": answer.tokens_in,
            "tokens_out": answer.tokens_out,
            "attempts": answer.attempts,
            "cost": cost_of(self.cfg, answer),
        }
        if not answer.ok:
            row.update(status=ResultStatus.ERROR, error=answer.error or "unknown error")
            return row
        obs = scorers.Observation(
            output=answer.output, latency_ms=answer.latency_ms, handoff=answer.handoff,
            citations=answer.citations,
        )  # fmt: skip
        results: list[scorers.Score] = []
        for spec in item.specs:
            if spec.get("type") == "llm_judge":
                results.append(await self._judge(spec, item, answer))
            else:
                results.append(scorers.score(spec, item.case_view, obs, self.plan_ctx))
        if results:
            passed, value = scorers.combine(results, item.threshold)
        else:
            passed, value = False, 0.0
        row.update(
            status=ResultStatus.PASS if passed else ResultStatus.FAIL,
            score=round(value, 4),
            output=answer.output[:MAX_OUTPUT_CHARS],
            handoff=answer.handoff,
            assertions=[s.as_dict() for s in results]
            or [
                {
                    "type": "none",
                    "passed": False,
                    "score": 0,
                    "weight": 1,
                    "label": "",
                    "reason": "no scorers: add one to the plan or the case",
                }
            ],  # fmt: skip
        )
        return row

    async def _judge(self, spec: dict, item: Item, answer: Answer) -> scorers.Score:
        weight, label = spec.get("weight", 1.0), spec.get("label", "")
        if self.judge_cfg is None:
            return scorers.Score("llm_judge", False, 0.0, "no judge target configured",
                                 weight, label)  # fmt: skip
        messages = judge.judge_messages(
            spec["rubric"], prompt=item.case_input.prompt or str(item.case_input.messages),
            output=answer.output, expected=item.case_view.expected,
        )  # fmt: skip
        judge_input = CaseInput(messages=tuple(messages))
        cfg = dataclasses.replace(self.judge_cfg, system_prompt="")
        verdict = await call_target(
            self.judge_session, cfg, judge_input, limiter=self.judge_limiter
        )
        if not verdict.ok:
            return scorers.Score("llm_judge", False, 0.0, f"judge call failed: {verdict.error}",
                                 weight, label)  # fmt: skip
        return judge.parse_judge_reply(
            verdict.output, threshold=spec.get("threshold", 0.7), weight=weight, label=label
        )


class LoopThread:
    """An asyncio loop in a thread of its own, fed from the database thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="eval-loop", daemon=True)
        self.thread.start()

    def call(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.call(cancel_all(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


# --------------------------------------------------------------------------- the database side


def _start(run_id: int) -> EvalRun | None:
    run = (
        EvalRun.objects.across_orgs()
        .select_related("plan", "target", "organization")
        .filter(pk=run_id)
        .first()
    )
    if run is None or run.status not in ACTIVE_RUN_STATUSES:
        return None
    now = timezone.now()
    EvalRun.objects.for_org(run.organization_id).filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=now
    )
    EvalRun.objects.for_org(run.organization_id).filter(pk=run.pk).update(heartbeat_at=now)
    run.refresh_from_db(fields=["status", "started_at"])
    return run if run.status == RunStatus.RUNNING else None


def fail_run(run: EvalRun, message: str) -> bool:
    """End a run that cannot go on, once; pending chunks are closed."""
    with transaction.atomic():
        updated = (
            EvalRun.objects.for_org(run.organization_id)
            .filter(pk=run.pk, status__in=ACTIVE_RUN_STATUSES)
            .update(
                status=RunStatus.FAILED,
                error=message[:2000],
                finished_at=timezone.now(),
                thresholds_met=False,
            )  # fmt: skip
        )
        RunChunk.objects.for_org(run.organization_id).filter(
            run_id=run.pk, status__in=[ChunkStatus.PENDING, ChunkStatus.LEASED]
        ).update(status=ChunkStatus.DEAD, last_error=message[:500])
        if updated:
            run.refresh_from_db()
            summary.store(run)
            actor = Actor.system(organization=run.organization, label="eval worker")
            audit_record(actor=actor, action="eval_run.finish", obj=run,
                         after={"status": run.status, "error": run.error[:500],
                                "thresholds_met": False})  # fmt: skip
            notify_run_finished(run)
    return bool(updated)


def _configs(run: EvalRun) -> tuple[TargetConfig, TargetConfig | None]:
    if run.target is None:
        raise _Fatal("The target was deleted after the run was queued.")
    try:
        cfg = TargetConfig.from_target(run.target)
    except SecretUnreadable as exc:
        raise _Fatal(f"The target's secrets cannot be decrypted: {exc}") from exc
    judge_id = run.config.get("judge_target_id")
    judge_cfg = None
    if judge_id:
        judge_target = Target.objects.for_org(run.organization_id).filter(pk=judge_id).first()
        if judge_target is None:
            raise _Fatal("The judge target was deleted after the run was queued.")
        try:
            judge_cfg = TargetConfig.from_target(judge_target)
        except SecretUnreadable as exc:
            raise _Fatal(f"The judge target's secrets cannot be decrypted: {exc}") from exc
    return cfg, judge_cfg


class _Fatal(Exception):
    pass


def _row(run: EvalRun, outcome: Outcome) -> EvalResult:
    item = outcome.item
    return EvalResult(
        organization_id=run.organization_id, run=run, case_id=item.case_id,
        case_number=item.case_number, repetition=item.repetition, **outcome.row,
    )  # fmt: skip


def drive(run_id: int) -> None:
    """Work on a run until it has no chunk left to claim (or it is cancelled)."""
    run = _start(run_id)
    if run is None:
        return
    try:
        cfg, judge_cfg = _configs(run)
    except _Fatal as exc:
        fail_run(run, str(exc))
        return
    plan_ctx = scorers.PlanContext(
        forbidden_phrases=tuple(run.config.get("forbidden_phrases") or ()),
        approved_sources=tuple(run.config.get("approved_sources") or ()),
    )
    plan_specs = list(run.config.get("scorers") or [])
    evaluator = Evaluator(run, cfg, judge_cfg, egress_policy_for(run.organization_id), plan_ctx)
    loop = LoopThread()
    try:
        loop.call(evaluator.open())
        ending = _pump(run, loop, evaluator, plan_specs, cfg.concurrency)
    finally:
        try:
            loop.call(evaluator.close(), timeout=10)
        finally:
            loop.stop()
            # No driver lives here any more: the reaper must not wait for this one.
            EvalRun.objects.for_org(run.organization_id).filter(pk=run.pk).update(heartbeat_at=None)
    if ending == DONE:
        finalize(run.pk)
    elif ending == BUDGET:
        from evals import tasks

        tasks.drive_run.delay(run.pk)  # the budget ran out: a fresh task goes on


DONE, BUDGET, CANCELLED = "done", "budget", "cancelled"


def _pump(run, loop: LoopThread, evaluator: Evaluator, plan_specs, concurrency: int) -> str:
    """Feed items, collect outcomes, write them: DONE when no chunk is left to claim,
    BUDGET when this task's time is up, CANCELLED when the run was cancelled."""
    done: queue.Queue[Outcome | BaseException] = queue.Queue()
    window = max(2 * concurrency, 4)
    works: dict[int, ChunkWork] = {}
    pending_items: list[Item] = []
    buffer: list[EvalResult] = []
    in_flight = 0
    futures = set()
    started = time.monotonic()
    last_flush = last_renew = last_cancel_check = time.monotonic()
    out_of_chunks = cancelled = rechecked = False

    def on_done(fut) -> None:
        futures.discard(fut)
        try:
            done.put(fut.result())
        except BaseException as exc:  # reported to the database thread
            done.put(exc)

    def flush() -> None:
        nonlocal buffer
        if buffer:
            EvalResult.objects.bulk_create(buffer, ignore_conflicts=True)
            buffer = []

    while True:
        # Keep the window full.
        while in_flight < window and not cancelled:
            if not pending_items:
                if out_of_chunks or time.monotonic() - started > drive_budget_seconds():
                    break
                claimed = claim_chunk(run)
                if claimed is None:
                    out_of_chunks = True
                    break
                rechecked = False
                chunk, token = claimed
                items = _items_of(run, chunk, plan_specs)
                works[chunk.pk] = ChunkWork(chunk.pk, token, len(items))
                if not items:
                    complete_chunk(run, works.pop(chunk.pk))
                    continue
                pending_items = items
            item = pending_items.pop(0)
            fut = loop.submit(evaluator.evaluate(item))
            futures.add(fut)
            fut.add_done_callback(on_done)
            in_flight += 1
        if in_flight == 0:
            if out_of_chunks and not cancelled and not rechecked:
                # A chunk may have been handed back (an expired lease) while the last
                # items were in flight: look once more before stopping.
                rechecked, out_of_chunks = True, False
                continue
            flush()
            break
        try:
            got = done.get(timeout=0.2)
        except queue.Empty:
            got = None
        finished_chunks = []
        while got is not None:
            in_flight -= 1
            if isinstance(got, BaseException):
                if cancelled and isinstance(got, CancelledError | asyncio.CancelledError):
                    got = _next(done)
                    continue
                raise got
            buffer.append(_row(run, got))
            work = works.get(got.item.chunk_id)
            if work is not None:
                work.remaining -= 1
                if work.remaining <= 0:
                    finished_chunks.append(work)
            got = _next(done)
        now = time.monotonic()
        if finished_chunks or len(buffer) >= FLUSH_BATCH or now - last_flush >= FLUSH_EVERY_S:
            flush()
            last_flush = now
            for work in finished_chunks:
                complete_chunk(run, works.pop(work.chunk_id))
        if now - last_renew >= lease_seconds() / 3:
            renew(run, list(works.values()))
            last_renew = now
        if now - last_cancel_check >= CANCEL_CHECK_S:
            last_cancel_check = now
            status = (
                EvalRun.objects.for_org(run.organization_id)
                .filter(pk=run.pk)
                .values_list("status", flat=True)
                .first()
            )
            if status not in ACTIVE_RUN_STATUSES and not cancelled:
                cancelled = True
                pending_items = []
                for fut in list(futures):
                    fut.cancel()
    flush()
    if cancelled:
        summary.store(EvalRun.objects.for_org(run.organization_id).get(pk=run.pk))
        return CANCELLED
    return DONE if out_of_chunks else BUDGET


def _next(done: queue.Queue):
    try:
        return done.get_nowait()
    except queue.Empty:
        return None


# --------------------------------------------------------------------------- finishing


def finalize(run_id: int) -> bool:
    """Complete (or fail) a run whose chunks are all settled: exactly once."""
    run = (
        EvalRun.objects.across_orgs()
        .filter(pk=run_id)
        .select_related("plan", "organization")
        .first()
    )
    if run is None or run.status not in ACTIVE_RUN_STATUSES:
        return False
    unsettled = (
        RunChunk.objects.for_org(run.organization_id)
        .filter(run_id=run.pk, status__in=[ChunkStatus.PENDING, ChunkStatus.LEASED])
        .exists()
    )
    if unsettled:
        return False
    stats = summary.compute(run)
    evaluated = stats["counts"]["passed"] + stats["counts"]["failed"]
    status, error = RunStatus.COMPLETED, ""
    if evaluated == 0:
        status = RunStatus.FAILED
        error = summary.failure_message(run, stats)
    # The run's final state and the event that records it commit together, or neither.
    with transaction.atomic():
        updated = (
            EvalRun.objects.for_org(run.organization_id)
            .filter(pk=run.pk, status__in=ACTIVE_RUN_STATUSES)
            .update(
                status=status,
                error=error,
                finished_at=timezone.now(),
                started_at=run.started_at or timezone.now(),
                **summary.columns(stats, status),
            )  # fmt: skip
        )
        if updated:
            run.refresh_from_db()
            actor = Actor.system(organization=run.organization, label="eval worker")
            audit_record(actor=actor, action="eval_run.finish", obj=run,
                         after={"status": run.status, "pass_rate": run.pass_rate,
                                "thresholds_met": run.thresholds_met})  # fmt: skip
            notify_run_finished(run)
    return bool(updated)


def reap(now=None) -> dict[str, int]:
    """Beat: hand back expired leases, restart lost drivers, bury, finalize."""
    from evals import tasks

    now = now or timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    runs_to_drive: set[int] = set()
    expired = buried = 0
    with transaction.atomic():
        chunks = list(
            RunChunk.objects.across_orgs()
            .filter(
                Q(status=ChunkStatus.LEASED, leased_until__lt=now)
                | Q(status=ChunkStatus.PENDING, enqueued_at__lt=stale)
            )
            .filter(run__status__in=ACTIVE_RUN_STATUSES)
            .filter(
                Q(status=ChunkStatus.LEASED)
                | Q(run__heartbeat_at__lt=stale)
                | Q(run__heartbeat_at__isnull=True)
            )
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")[:500]
        )
        for chunk in chunks:
            if chunk.status == ChunkStatus.LEASED and chunk.attempts >= max_chunk_attempts():
                _bury(chunk, now)
                buried += 1
                runs_to_drive.add(chunk.run_id)
                continue
            RunChunk.objects.for_org(chunk.organization_id).filter(pk=chunk.pk).update(
                status=ChunkStatus.PENDING, lease_token=None, leased_until=None, enqueued_at=now,
                last_error=chunk.last_error
                or ("lease expired" if chunk.status == ChunkStatus.LEASED else ""),
            )  # fmt: skip
            expired += 1
            runs_to_drive.add(chunk.run_id)
    live = set(
        EvalRun.objects.across_orgs()
        .filter(pk__in=runs_to_drive, heartbeat_at__gte=stale)
        .values_list("pk", flat=True)
    )
    for run_id in sorted(runs_to_drive - live):
        tasks.drive_run.delay(run_id)  # nobody is working on it: start a driver
    finalized = 0
    # Only runs with nothing left to work are worth a finalize attempt.
    settled = (
        EvalRun.objects.across_orgs()
        .filter(status__in=ACTIVE_RUN_STATUSES)
        .exclude(chunks__status__in=[ChunkStatus.PENDING, ChunkStatus.LEASED])
        .exclude(pk__in=runs_to_drive)
    )
    for run_id in settled.values_list("pk", flat=True)[:200]:
        if finalize(run_id):
            finalized += 1
    return {"requeued": expired, "buried": buried, "finalized": finalized}
