"""Runs end to end against the reference agent over real HTTP: the state machine, one
result per (case, repetition), leases and the reaper, dead chunks, cancel, finalize
once, two runs at once, a down or garbage-answering target, and case-set versions."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from evals import engine, services
from evals.models import (
    ChunkStatus,
    EgressSettings,
    EvalResult,
    EvalRun,
    ResultStatus,
    RunChunk,
    RunStatus,
)
from genai_po.models import AuditEvent
from tests.factories.evals import EvalPlanFactory, TargetFactory

pytestmark = pytest.mark.django_db

ANSWERABLE = [
    "How long does a refund take to reach my card?",
    "Can I return an unopened item for a full refund?",
    "My parcel is lost, tracking has not changed for a week",
    "How do I reset my password? I forgot it",
]
MUST_ESCALATE = [
    "I will start a chargeback with my bank",
    "My lawyer will sue you over this",
]


def add_cases(actor, plan, *, answerable=ANSWERABLE, escalate=MUST_ESCALATE, **extra):
    cases = []
    for prompt in answerable:
        cases.append(services.case_add(actor=actor, plan=plan, data={"prompt": prompt, **extra}))
    for prompt in escalate:
        cases.append(
            services.case_add(
                actor=actor, plan=plan, data={"prompt": prompt, "must_escalate": True, **extra}
            )
        )
    return cases


def start(actor, plan, django_capture_on_commit_callbacks, **kwargs):
    """Start a run; its task runs eagerly when the transaction commits."""
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_start(actor=actor, plan=plan, **kwargs)
    run.refresh_from_db()
    return run


def results_of(run):
    return EvalResult.objects.for_org(run.organization_id).filter(run=run)


def test_a_run_scores_every_case_once_and_completes(
    actor_a, plan_a, django_capture_on_commit_callbacks
):
    add_cases(actor_a, plan_a)
    run = start(actor_a, plan_a, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.COMPLETED
    assert run.started_at and run.finished_at
    assert run.total_items == 6
    assert results_of(run).count() == 6
    assert run.passed == 6 and run.failed == 0 and run.errored == 0
    assert run.pass_rate == 1.0
    assert run.thresholds_met is True
    assert run.summary["counts"]["done"] == 6
    assert run.summary["latency_p50_ms"] is not None
    assert run.summary["usage"]["tokens_in"] > 0
    escalated = results_of(run).filter(case__must_escalate=True)
    assert all(r.handoff for r in escalated)
    assert all(r.assertions[0]["type"] == "escalation" for r in results_of(run))
    assert set(RunChunk.objects.for_org(run.organization_id).filter(run=run)
               .values_list("status", flat=True)) == {ChunkStatus.DONE}  # fmt: skip


def test_repetitions_give_one_result_per_case_and_repetition(
    actor_a, plan_a, django_capture_on_commit_callbacks
):
    plan_a.repetitions = 3
    plan_a.save(update_fields=["repetitions"])
    add_cases(actor_a, plan_a)
    run = start(actor_a, plan_a, django_capture_on_commit_callbacks)
    assert run.total_items == 18
    pairs = list(results_of(run).values_list("case_id", "repetition"))
    assert len(pairs) == len(set(pairs)) == 18
    assert run.summary["flaky_count"] == 0


def test_a_failing_case_fails_with_reasons(actor_a, plan_a, django_capture_on_commit_callbacks):
    # The agent hands this off, but the case says it must be answered.
    services.case_add(actor=actor_a, plan=plan_a,
                      data={"prompt": "Do you sell gift cards for birthdays?"})  # fmt: skip
    add_cases(actor_a, plan_a, escalate=[])
    run = start(actor_a, plan_a, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.COMPLETED
    failed = results_of(run).get(status=ResultStatus.FAIL)
    assert failed.case.prompt.startswith("Do you sell gift cards")
    assert failed.assertions[0]["passed"] is False
    assert failed.assertions[0]["reason"]
    assert run.pass_rate == pytest.approx(4 / 5)
    assert run.thresholds_met is True  # plan needs 80 %
    services.plan_update(actor=actor_a, plan=plan_a, data={"pass_threshold": 90})
    run2 = start(actor_a, plan_a, django_capture_on_commit_callbacks)
    assert run2.thresholds_met is False
    overall = run2.summary["threshold_report"][0]
    assert overall == {"scope": "overall", "key": "", "required": 0.9, "actual": 0.8,
                       "met": False}  # fmt: skip


def test_a_duplicate_execution_writes_nothing(actor_a, plan_a, django_capture_on_commit_callbacks):
    add_cases(actor_a, plan_a)
    run = start(actor_a, plan_a, django_capture_on_commit_callbacks)
    first = list(results_of(run).order_by("pk").values_list("pk", "status"))
    # A redelivered task and a stale chunk worked again: nothing new, nothing changed.
    RunChunk.objects.for_org(run.organization_id).filter(run=run).update(status=ChunkStatus.PENDING)
    EvalRun.objects.for_org(run.organization_id).filter(pk=run.pk).update(status=RunStatus.RUNNING)
    engine.drive(run.pk)
    assert list(results_of(run).order_by("pk").values_list("pk", "status")) == first
    assert engine.finalize(run.pk) is False


def test_the_run_is_finalized_exactly_once(actor_a, plan_a, django_capture_on_commit_callbacks):
    add_cases(actor_a, plan_a)
    run = start(actor_a, plan_a, django_capture_on_commit_callbacks)
    assert engine.finalize(run.pk) is False
    finishes = AuditEvent.objects.for_org(run.organization_id).filter(action="eval_run.finish")
    assert finishes.count() == 1


def test_the_finishing_event_commits_with_the_final_state_or_neither_does(
    actor_a, plan_a, monkeypatch
):
    """A crash while recording the finish leaves the run active for the reaper, never a
    finished run without its audit event."""
    add_cases(actor_a, plan_a)
    run = services.run_start(actor=actor_a, plan=plan_a)
    monkeypatch.setattr(engine, "finalize", lambda run_id: False)  # the driver only works
    engine.drive(run.pk)
    monkeypatch.undo()

    def audit_fails(**kwargs):
        raise RuntimeError("the worker died while auditing")

    monkeypatch.setattr(engine, "audit_record", audit_fails)
    with pytest.raises(RuntimeError):
        engine.finalize(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.finished_at is None
    monkeypatch.undo()

    assert engine.finalize(run.pk) is True
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    finish = AuditEvent.objects.for_org(run.organization_id).get(action="eval_run.finish")
    assert finish.after["status"] == "completed"


def test_a_failed_run_records_its_finish_with_the_reason(actor_a, plan_a):
    add_cases(actor_a, plan_a)
    run = services.run_start(actor=actor_a, plan=plan_a)

    assert engine.fail_run(run, "The target was deleted after the run was queued.") is True

    finish = AuditEvent.objects.for_org(run.organization_id).get(action="eval_run.finish")
    assert finish.after == {
        "status": "failed",
        "error": "The target was deleted after the run was queued.",
        "thresholds_met": False,
    }
    assert engine.fail_run(run, "again") is False
    assert (
        AuditEvent.objects.for_org(run.organization_id).filter(action="eval_run.finish").count()
        == 1
    )


def test_two_runs_of_one_plan_at_once_do_not_mix(actor_a, plan_a):
    add_cases(actor_a, plan_a)
    first = services.run_start(actor=actor_a, plan=plan_a)
    second = services.run_start(actor=actor_a, plan=plan_a)
    # Interleave: each driver claims chunks of its own run only.
    engine.drive(second.pk)
    engine.drive(first.pk)
    for run in (first, second):
        run.refresh_from_db()
        assert run.status == RunStatus.COMPLETED
        assert results_of(run).count() == 6
    assert first.number + 1 == second.number


def test_an_expired_lease_is_handed_back_and_the_run_completes(actor_a, plan_a, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    add_cases(actor_a, plan_a)
    run = services.run_start(actor=actor_a, plan=plan_a)
    # A worker claimed the chunk, then died: its lease runs out.
    chunk, _token = engine.claim_chunk(run)
    assert chunk.attempts == 1
    RunChunk.objects.for_org(run.organization_id).filter(pk=chunk.pk).update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )
    outcome = engine.reap()
    assert outcome["requeued"] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert results_of(run).count() == 6
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.DONE and chunk.attempts == 2


def test_a_chunk_that_uses_up_its_attempts_is_dead_with_the_reason(actor_a, plan_a, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    add_cases(actor_a, plan_a)
    run = services.run_start(actor=actor_a, plan=plan_a)
    RunChunk.objects.for_org(run.organization_id).filter(run=run).update(
        status=ChunkStatus.LEASED, attempts=3, leased_until=timezone.now() - timedelta(seconds=1)
    )
    outcome = engine.reap()
    assert outcome["buried"] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    dead = results_of(run)
    assert dead.count() == 6
    assert set(dead.values_list("status", flat=True)) == {ResultStatus.DEAD}
    assert "gave up after 3 attempts" in dead.first().error
    assert "gave up after 3 attempts" in run.error


def test_a_down_target_ends_the_run_with_clear_per_case_errors(
    actor_a, use_case_a, org_a, django_capture_on_commit_callbacks
):
    EgressSettings.objects.for_org(org_a).update_or_create(
        organization=org_a, defaults={"allow_loopback": True}
    )
    down = TargetFactory(organization=org_a, url="http://127.0.0.1:9/v1", max_attempts=1)
    plan = EvalPlanFactory(use_case=use_case_a, target=down)
    add_cases(actor_a, plan)
    run = start(actor_a, plan, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.FAILED
    assert run.thresholds_met is False
    errors = set(results_of(run).values_list("error", flat=True))
    assert len(errors) == 1
    assert "connection refused by 127.0.0.1:9" in errors.pop()
    assert "No case could be evaluated" in run.error


def test_garbage_answers_and_timeouts_are_results(
    actor_a, use_case_a, org_a, agent_factory, django_capture_on_commit_callbacks
):
    EgressSettings.objects.for_org(org_a).update_or_create(
        organization=org_a, defaults={"allow_loopback": True}
    )
    garbage = agent_factory(garbage_rate=1.0)
    plan = EvalPlanFactory(
        use_case=use_case_a,
        target=TargetFactory(organization=org_a, url=garbage.base_url, max_attempts=1),
    )
    add_cases(actor_a, plan, answerable=ANSWERABLE[:2], escalate=[])
    run = start(actor_a, plan, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.FAILED
    assert all("not JSON" in e for e in results_of(run).values_list("error", flat=True))

    slow = agent_factory(latency_ms=3000)
    plan.target = TargetFactory(organization=org_a, url=slow.base_url, timeout_s=0.3,
                                max_attempts=1)  # fmt: skip
    plan.save(update_fields=["target"])
    run = start(actor_a, plan, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.FAILED
    assert all(
        "timed out after 0.3 s" in e for e in results_of(run).values_list("error", flat=True)
    )


def test_egress_policy_refuses_loopback_unless_allowed(
    actor_a, plan_a, org_a, django_capture_on_commit_callbacks
):
    EgressSettings.objects.for_org(org_a).update(allow_loopback=False)
    add_cases(actor_a, plan_a, answerable=ANSWERABLE[:1], escalate=[])
    run = start(actor_a, plan_a, django_capture_on_commit_callbacks)
    error = results_of(run).get().error
    assert "refused by egress policy" in error


def test_cancel_stops_a_run_and_a_late_driver_does_nothing(actor_a, plan_a):
    add_cases(actor_a, plan_a)
    run = services.run_start(actor=actor_a, plan=plan_a)
    services.run_cancel(actor=actor_a, run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    engine.drive(run.pk)
    assert results_of(run).count() == 0
    with pytest.raises(ValidationError, match="already finished"):
        services.run_cancel(actor=actor_a, run=run)


def test_a_run_pins_its_case_set_version(actor_a, plan_a, django_capture_on_commit_callbacks):
    cases = add_cases(actor_a, plan_a)
    run = start(actor_a, plan_a, django_capture_on_commit_callbacks)
    assert run.case_version == 6
    edited = services.case_update(actor=actor_a, case=cases[0], data={"prompt": "Changed?"})
    services.case_remove(actor=actor_a, case=cases[1])
    assert edited.number == cases[0].number and edited.pk != cases[0].pk
    # The finished run still points at the rows it ran.
    assert results_of(run).filter(case=cases[0]).exists()
    run2 = start(actor_a, plan_a, django_capture_on_commit_callbacks)
    assert run2.case_version == 8
    assert results_of(run2).count() == 5
    assert results_of(run2).filter(case=edited).exists()
    assert not results_of(run2).filter(case_number=cases[1].number).exists()


def test_a_run_needs_a_target_and_cases(actor_a, plan_a):
    with pytest.raises(ValidationError, match="no cases yet"):
        services.run_start(actor=actor_a, plan=plan_a)
    assert not EvalRun.objects.for_org(plan_a.organization_id).exists()
    services.plan_update(actor=actor_a, plan=plan_a, data={"target": None})
    with pytest.raises(ValidationError, match="Choose a target"):
        services.run_start(actor=actor_a, plan=plan_a)


def test_the_target_concurrency_limit_holds(
    actor_a, use_case_a, org_a, agent_factory, django_capture_on_commit_callbacks
):
    agent = agent_factory(latency_ms=80)
    EgressSettings.objects.for_org(org_a).update_or_create(
        organization=org_a, defaults={"allow_loopback": True}
    )
    target = TargetFactory(organization=org_a, url=agent.base_url, concurrency=3)
    plan = EvalPlanFactory(use_case=use_case_a, target=target)
    add_cases(actor_a, plan, answerable=ANSWERABLE * 3)
    run = start(actor_a, plan, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.COMPLETED
    assert agent.stats()["max_in_flight"] == 3


def test_429s_are_retried_with_backoff_and_the_run_completes(
    actor_a, use_case_a, org_a, agent_factory, django_capture_on_commit_callbacks
):
    agent = agent_factory(status_429_rate=0.3, seed=7)
    EgressSettings.objects.for_org(org_a).update_or_create(
        organization=org_a, defaults={"allow_loopback": True}
    )
    target = TargetFactory(organization=org_a, url=agent.base_url, max_attempts=6)
    plan = EvalPlanFactory(use_case=use_case_a, target=target)
    add_cases(actor_a, plan, answerable=ANSWERABLE * 2)
    run = start(actor_a, plan, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.COMPLETED
    assert run.passed == run.total_items
    assert max(results_of(run).values_list("attempts", flat=True)) > 1


def test_summary_by_requirement_and_tag_and_flaky_cases(
    actor_a, use_case_a, org_a, agent_factory, django_capture_on_commit_callbacks
):
    from tests.factories.usecases import RequirementFactory

    RequirementFactory(use_case=use_case_a, number=1, statement="Answers refund questions.")
    RequirementFactory(use_case=use_case_a, number=2, statement="Hands off legal threats.")
    agent = agent_factory(garbage_rate=0.4, seed=3)
    EgressSettings.objects.for_org(org_a).update_or_create(
        organization=org_a, defaults={"allow_loopback": True}
    )
    target = TargetFactory(organization=org_a, url=agent.base_url, max_attempts=1)
    plan = EvalPlanFactory(use_case=use_case_a, target=target, repetitions=3)
    services.plan_update(
        actor=actor_a, plan=plan,
        data={"requirement_thresholds": {"REQ-2": 100}, "tag_thresholds": {"refunds": 50}},
    )  # fmt: skip
    add_cases(actor_a, plan, answerable=ANSWERABLE[:2], escalate=[],
              tags=["refunds"], requirement_keys=["REQ-1"])  # fmt: skip
    add_cases(actor_a, plan, answerable=[], escalate=MUST_ESCALATE[1:],
              tags=["legal"], requirement_keys=["REQ-2"])  # fmt: skip
    run = start(actor_a, plan, django_capture_on_commit_callbacks)
    stats = run.summary
    passed = results_of(run).filter(status=ResultStatus.PASS)
    assert stats["counts"]["done"] == 9
    req1 = next(r for r in stats["requirements"] if r["key"] == "REQ-1")
    assert req1["total"] == 6
    assert req1["passed"] == passed.filter(case__requirements__number=1).count()
    tags = {t["key"]: t for t in stats["tags"]}
    assert set(tags) == {"refunds", "legal"}
    assert tags["legal"]["total"] == 3
    # Garbage answers hit some repetitions and not others: those cases are flaky.
    per_case = {}
    for number, status in results_of(run).values_list("case_number", "status"):
        per_case.setdefault(number, set()).add(status)
    flaky = sorted(n for n, statuses in per_case.items() if len(statuses) > 1)
    assert stats["flaky_cases"] == flaky and stats["flaky_count"] == len(flaky) > 0
    report = {(t["scope"], t["key"]): t for t in stats["threshold_report"]}
    assert set(report) == {("overall", ""), ("requirement", "REQ-2"), ("tag", "refunds")}


def test_llm_as_judge_scores_with_a_rubric(
    actor_a, plan_a, org_a, django_capture_on_commit_callbacks
):
    """A judge endpoint (OpenAI-compatible) that grades citing answers 0.9, others 0.2."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Judge(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            text = body["messages"][-1]["content"]
            verdict = (
                {"score": 0.9, "reason": "cites policy"}
                if "KB-" in text
                else {"score": 0.2, "reason": "no policy cited"}
            )
            reply = {
                "choices": [{"message": {"role": "assistant", "content": json.dumps(verdict)}}]
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Judge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        judge_target = TargetFactory(
            organization=org_a, name="Judge", model="grader",
            url=f"http://127.0.0.1:{server.server_address[1]}/v1",
        )  # fmt: skip
        services.plan_update(actor=actor_a, plan=plan_a, data={
            "judge_target": judge_target,
            "scorers": [{"type": "llm_judge", "rubric": "Cites a policy section.",
                         "threshold": 0.5}],
        })  # fmt: skip
        add_cases(actor_a, plan_a, answerable=ANSWERABLE[:2], escalate=MUST_ESCALATE[:1])
        run = start(actor_a, plan_a, django_capture_on_commit_callbacks)
    finally:
        server.shutdown()
    assert run.status == RunStatus.COMPLETED
    assert len(seen) == 3 and all(b["model"] == "grader" for b in seen)
    assert "Cites a policy section." in seen[0]["messages"][-1]["content"]
    verdicts = {r.case.prompt: r.assertions[0] for r in results_of(run).select_related("case")}
    assert verdicts[ANSWERABLE[0]]["passed"] is True
    assert verdicts[ANSWERABLE[0]]["score"] == 0.9
    assert verdicts[MUST_ESCALATE[0]]["passed"] is False
    assert "no policy cited" in verdicts[MUST_ESCALATE[0]]["reason"]


def test_a_judge_scorer_needs_a_judge_target(actor_a, plan_a):
    services.plan_update(actor=actor_a, plan=plan_a, data={
        "scorers": [{"type": "llm_judge", "rubric": "Polite."}]})  # fmt: skip
    add_cases(actor_a, plan_a, answerable=ANSWERABLE[:1], escalate=[])
    with pytest.raises(ValidationError, match="choose a judge target"):
        services.run_start(actor=actor_a, plan=plan_a)


def test_scheduled_plans_start_once_when_due(actor_a, plan_a, settings):
    from evals.models import RunTrigger

    settings.CELERY_TASK_ALWAYS_EAGER = False  # queue only: this test is about the schedule
    add_cases(actor_a, plan_a, answerable=ANSWERABLE[:1], escalate=[])
    services.plan_update(actor=actor_a, plan=plan_a, data={"cadence": "daily"})
    plan_a.refresh_from_db()
    assert plan_a.next_run_at > timezone.now() + timedelta(hours=23)
    assert services.start_due_plans() == 0
    due = plan_a.next_run_at + timedelta(seconds=1)
    from unittest import mock

    with mock.patch("evals.tasks.drive_run.delay") as delay:
        assert services.start_due_plans(now=due) == 1
        assert services.start_due_plans(now=due) == 0  # moved on by a day: not twice
    run = EvalRun.objects.for_org(plan_a.organization_id).get()
    assert run.trigger == RunTrigger.SCHEDULE
    plan_a.refresh_from_db()
    assert plan_a.next_run_at > due + timedelta(hours=23)
    assert delay.call_count <= 1


def test_a_lease_that_expires_after_the_last_driver_stopped_gets_a_new_driver(
    actor_a, plan_a, settings, monkeypatch
):
    """A dead worker holds chunk 0; a second driver works chunk 1 and stops. When the
    dead lease expires, the reaper hands it back and starts a driver at once (the
    stopped driver left no heartbeat that would make the run look busy)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr(services.runs, "CHUNK_ITEMS", 3)
    add_cases(actor_a, plan_a)
    run = services.run_start(actor=actor_a, plan=plan_a)
    dead, _ = engine.claim_chunk(run)  # held by a worker that died
    engine.drive(run.pk)  # works the other chunk, finds chunk 0 leased, stops
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.heartbeat_at is None
    assert results_of(run).count() == 3
    RunChunk.objects.for_org(run.organization_id).filter(pk=dead.pk).update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )
    assert engine.reap()["requeued"] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert results_of(run).count() == 6
