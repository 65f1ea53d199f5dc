"""Runs: start (the worker is told after commit), cancel, baseline, triage, schedules."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evals.models import (
    ACTIVE_RUN_STATUSES,
    Cadence,
    ChunkStatus,
    EvalCase,
    EvalPlan,
    EvalResult,
    EvalRun,
    ResultStatus,
    RunChunk,
    RunStatus,
    RunTrigger,
    Triage,
    TriageCategory,
)
from evals.services.cases import current_cases
from evals.services.plans import clean_ci_metadata, lock_plan, next_run_at, next_run_number
from evals.triage import triage_handlers
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action

CHUNK_ITEMS = 50  # (case, repetition) items per leased chunk


class RunRefused(ValidationError):
    """A run that cannot start, with the reason."""


def run_config(plan: EvalPlan) -> dict:
    return {
        "pass_threshold": float(plan.pass_threshold) / 100,
        "requirement_thresholds": {k: v / 100 for k, v in plan.requirement_thresholds.items()},
        "tag_thresholds": {k: v / 100 for k, v in plan.tag_thresholds.items()},
        "scorers": plan.scorers,
        "forbidden_phrases": plan.forbidden_phrases,
        "approved_sources": plan.approved_sources,
        "judge_target_id": plan.judge_target_id,
    }


def _uses_judge(plan: EvalPlan) -> bool:
    if any(s.get("type") == "llm_judge" for s in plan.scorers):
        return True
    for specs in current_cases(plan).values_list("scorers", flat=True).iterator():
        if any(s.get("type") == "llm_judge" for s in specs or []):
            return True
    return False


def run_start(*, actor: Actor, plan: EvalPlan, trigger: str = RunTrigger.BROWSER, label: str = "",
              ci_metadata: dict | None = None) -> EvalRun:  # fmt: skip
    """Queue a run of the plan's current case set; the worker is told after commit."""
    from evals import tasks  # the task module imports the engine, which imports this one

    actor.require(Action.RUN_EVALS)
    actor.require_same_org(plan)
    if plan.archived_at:
        raise RunRefused("This plan is archived; restore it to run it.")
    if plan.target is None:
        raise RunRefused("Choose a target for this plan before running it.")
    if plan.target.archived_at:
        raise RunRefused(f"The target {plan.target.name} is archived; choose another.")
    if _uses_judge(plan) and plan.judge_target is None:
        raise RunRefused("Some scorers are LLM-as-judge: choose a judge target on the plan.")
    label = (label or "").strip()[:200]
    with transaction.atomic():
        plan = lock_plan(plan)
        case_ids = current_cases(plan).order_by("position", "number").values_list("pk", flat=True)
        per_chunk = max(1, CHUNK_ITEMS // plan.repetitions)
        now = timezone.now()
        run = EvalRun.objects.create(
            organization_id=plan.organization_id, plan=plan, number=next_run_number(plan),
            trigger=trigger, case_version=plan.case_version, target=plan.target,
            target_label=f"{plan.target.name} ({plan.target.get_kind_display()})",
            repetitions=plan.repetitions, config=run_config(plan), label=label,
            ci_metadata=clean_ci_metadata(ci_metadata), created_by=actor.user,
            created_by_label=actor.label,
        )  # fmt: skip
        chunks, batch, count = [], [], 0
        for case_id in case_ids.iterator(chunk_size=2000):
            batch.append(case_id)
            count += 1
            if len(batch) == per_chunk:
                chunks.append(batch)
                batch = []
        if batch:
            chunks.append(batch)
        if count == 0:
            raise RunRefused("This plan has no cases yet: add or import some first.")
        RunChunk.objects.bulk_create(
            (
                RunChunk(
                    organization_id=plan.organization_id,
                    run=run,
                    index=i,
                    case_ids=ids,
                    enqueued_at=now,
                )  # fmt: skip
                for i, ids in enumerate(chunks)
            ),
            batch_size=1000,
        )
        run.total_items = count * plan.repetitions
        run.save(update_fields=["total_items"])
        audit_record(actor=actor, action="eval_run.start", obj=run,
                     after={"plan": plan.pk, "number": run.number, "trigger": trigger,
                            "case_version": run.case_version, "items": run.total_items,
                            "label": label})  # fmt: skip
        transaction.on_commit(lambda: tasks.drive_run.delay(run.pk))
    return run


def run_cancel(*, actor: Actor, run: EvalRun) -> EvalRun:
    from evals import summary

    actor.require(Action.RUN_EVALS)
    actor.require_same_org(run)
    with transaction.atomic():
        updated = (
            EvalRun.objects.for_org(run.organization_id)
            .filter(pk=run.pk, status__in=ACTIVE_RUN_STATUSES)
            .update(status=RunStatus.CANCELLED, finished_at=timezone.now())
        )
        if not updated:
            raise RunRefused(f"Run #{run.number} has already finished; nothing to cancel.")
        RunChunk.objects.for_org(run.organization_id).filter(
            run=run, status__in=[ChunkStatus.PENDING, ChunkStatus.LEASED]
        ).update(status=ChunkStatus.DEAD, last_error="run cancelled")
        run.refresh_from_db()
        summary.store(run)
        audit_record(actor=actor, action="eval_run.cancel", obj=run)
    return run


def run_mark_baseline(*, actor: Actor, run: EvalRun) -> EvalRun:
    actor.require(Action.RUN_EVALS)
    actor.require_same_org(run)
    if run.status != RunStatus.COMPLETED:
        raise RunRefused("Only a completed run can be the baseline.")
    with transaction.atomic():
        previous = list(
            EvalRun.objects.for_org(run.organization_id)
            .filter(plan_id=run.plan_id, is_baseline=True)
            .exclude(pk=run.pk)
            .values_list("number", flat=True)
        )
        EvalRun.objects.for_org(run.organization_id).filter(plan_id=run.plan_id).exclude(
            pk=run.pk
        ).update(is_baseline=False)
        EvalRun.objects.for_org(run.organization_id).filter(pk=run.pk).update(is_baseline=True)
        run.is_baseline = True
        audit_record(actor=actor, action="eval_run.baseline", obj=run,
                     before={"baseline": previous}, after={"baseline": [run.number]})  # fmt: skip
    return run


def triage_set(*, actor: Actor, run: EvalRun, case: EvalCase, category: str, note: str) -> Triage:
    """Record why a case failed; the handlers registered for the category (evals.triage)
    run in the same transaction and may leave a follow-up reference."""
    actor.require(Action.RUN_EVALS)
    actor.require_same_org(run, case)
    if category not in TriageCategory.values:
        raise ValidationError({"category": "Choose what went wrong."})
    note = (note or "").strip()
    if problem := inputs.check_text(Triage, "note", note):
        raise ValidationError({"note": problem})
    failed = (
        EvalResult.objects.for_org(run.organization_id)
        .filter(run=run, case=case)
        .exclude(status=ResultStatus.PASS)
        .exists()
    )
    if not failed:
        raise ValidationError("Only a case that failed in this run can be triaged.")
    with transaction.atomic():
        triage = Triage.objects.for_org(run.organization_id).filter(run=run, case=case).first()
        before = {"category": triage.category, "note": triage.note} if triage else None
        if triage is None:
            triage = Triage(organization_id=run.organization_id, run=run, case=case)
        triage.category, triage.note = category, note
        triage.author, triage.author_label = actor.user, actor.label
        triage.save()
        audit_record(actor=actor, action="eval_triage.set", obj=triage, before=before,
                     after={"run": run.number, "case": case.key, "category": category,
                            "note": note[:500]})  # fmt: skip
        refs = [ref for handler in triage_handlers(category)
                if (ref := handler(triage=triage, actor=actor))]  # fmt: skip
        if refs:
            triage.follow_up_ref = ", ".join(refs)[:100]
            triage.save(update_fields=["follow_up_ref", "updated_at"])
    return triage


def start_due_plans(now=None) -> int:
    """Start a scheduled run for every plan whose cadence says it is due (beat, each minute)."""
    now = now or timezone.now()
    due = (
        EvalPlan.objects.across_orgs()
        .filter(archived_at__isnull=True, next_run_at__lte=now)
        .exclude(cadence=Cadence.NONE)
        .select_related("target", "organization")
    )
    started = 0
    for plan in due.iterator():
        claimed = (
            EvalPlan.objects.for_org(plan.organization_id)
            .filter(pk=plan.pk, next_run_at=plan.next_run_at)
            .update(next_run_at=next_run_at(plan.cadence, now))
        )
        if not claimed:
            continue  # another beat tick took it
        busy = (
            EvalRun.objects.for_org(plan.organization_id)
            .filter(plan=plan, status__in=ACTIVE_RUN_STATUSES, trigger=RunTrigger.SCHEDULE)
            .exists()
        )
        if busy:
            continue
        actor = Actor.system(organization=plan.organization, label="schedule")
        try:
            run_start(actor=actor, plan=plan, trigger=RunTrigger.SCHEDULE, label="scheduled")
            started += 1
        except ValidationError as exc:
            audit_record(actor=actor, action="eval_run.schedule_skipped", obj=plan,
                         after={"reason": "; ".join(exc.messages)})  # fmt: skip
    return started
