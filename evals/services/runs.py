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
    RunScope,
    RunStatus,
    RunTrigger,
    Triage,
    TriageCategory,
)
from evals.services.cases import current_cases
from evals.services.plans import clean_ci_metadata, lock_plan, next_run_at, next_run_number
from evals.triage import FollowUp, triage_handlers
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
        run = _queue(actor=actor, plan=plan, case_ids=case_ids.iterator(chunk_size=2000),
                     fields={"trigger": trigger, "case_version": plan.case_version,
                             "target": plan.target, "repetitions": plan.repetitions,
                             "config": run_config(plan), "label": label,
                             "ci_metadata": clean_ci_metadata(ci_metadata)})  # fmt: skip
        if run is None:
            raise RunRefused("This plan has no cases yet: add or import some first.")
    return run


def run_recheck(*, actor: Actor, source: EvalRun, case_ids: list[int], label: str = "") -> EvalRun:
    """Queue a run of some cases of `source` again: the same case revisions (so the same
    case-set version), target, repetitions and thresholds. A re-check is never the plan's
    verdict, trend point or baseline (scope "cases")."""
    actor.require(Action.RUN_EVALS)
    actor.require_same_org(source)
    if source.scope != RunScope.FULL or source.status != RunStatus.COMPLETED:
        raise RunRefused("Only the cases of a completed full run can be re-checked.")
    if source.target is None or source.target.archived_at:
        raise RunRefused("The run's target is gone or archived: its cases cannot run again.")
    with transaction.atomic():
        plan = lock_plan(source.plan)
        ran = (
            EvalResult.objects.for_org(source.organization_id)
            .filter(run=source, case_id__in=case_ids)
            .order_by("case__position", "case_number")
            .values_list("case_id", flat=True)
            .distinct()
        )
        run = _queue(actor=actor, plan=plan, case_ids=list(dict.fromkeys(ran)),
                     fields={"trigger": RunTrigger.RECHECK, "scope": RunScope.CASES,
                             "rechecks": source, "case_version": source.case_version,
                             "target": source.target, "repetitions": source.repetitions,
                             "config": source.config,
                             "label": (label or "").strip()[:200]})  # fmt: skip
        if run is None:
            raise RunRefused("None of these cases ran in that run.")
    return run


def _queue(*, actor: Actor, plan: EvalPlan, case_ids, fields: dict) -> EvalRun | None:
    """Create a queued run of `case_ids` in chunks and tell the worker after commit (None,
    and nothing written, when there is no case). Inside the caller's transaction."""
    from evals import tasks  # the task module imports the engine, which imports this one

    target = fields["target"]
    per_chunk = max(1, CHUNK_ITEMS // fields["repetitions"])
    chunks, batch, count = [], [], 0
    for case_id in case_ids:
        batch.append(case_id)
        count += 1
        if len(batch) == per_chunk:
            chunks.append(batch)
            batch = []
    if batch:
        chunks.append(batch)
    if count == 0:
        return None
    now = timezone.now()
    run = EvalRun.objects.create(
        organization_id=plan.organization_id, plan=plan, number=next_run_number(plan),
        target_label=f"{target.name} ({target.get_kind_display()})",
        created_by=actor.user, created_by_label=actor.label,
        total_items=count * fields["repetitions"], **fields,
    )  # fmt: skip
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
    audit_record(actor=actor, action="eval_run.start", obj=run,
                 after={"plan": plan.pk, "number": run.number, "trigger": run.trigger,
                        "scope": run.scope, "rechecks": run.rechecks_id,
                        "case_version": run.case_version, "items": run.total_items,
                        "label": run.label})  # fmt: skip
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
    if run.scope != RunScope.FULL:
        raise RunRefused("A re-check of some cases cannot be the baseline: mark a full run.")
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
        follow_ups = [
            made if isinstance(made, FollowUp) else FollowUp(str(made))
            for handler in triage_handlers(category)
            if (made := handler(triage=triage, actor=actor))
        ]
        if follow_ups or triage.follow_up_ref:
            triage.follow_up_ref = ", ".join(f.label for f in follow_ups)[:100]
            triage.follow_up_url = next((f.url for f in follow_ups if f.url), "")[:300]
            triage.save(update_fields=["follow_up_ref", "follow_up_url", "updated_at"])
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
