"""Closing the loop: a gap's knowledge is published, its failing cases run again against
the same target and case-set version, and the gap is verified when they now pass (or stays
answered with "did not fix it" and the new outputs)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from context.models import (
    ContextGap,
    GapEventKind,
    GapEvidence,
    GapStatus,
    GapVerification,
    KnowledgeItem,
    KnowledgeStatus,
    VerificationStatus,
)
from context.services.common import gap_event
from evals import services as eval_services
from evals.models import EvalResult, EvalRun, ResultStatus, RunScope, RunStatus
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action

OUTPUT_CHARS = 2000  # of each output kept in the before/after comparison


def gap_publish(*, actor: Actor, gap: ContextGap, item: KnowledgeItem) -> ContextGap:
    """The gap is answered by a published item; its cases are re-checked after commit.
    Inside the caller's transaction, with the gap locked."""
    from context import tasks

    before = gap.status
    gap.knowledge = item
    gap.status = GapStatus.PUBLISHED
    gap.published_at = timezone.now()
    gap.verification_note = ""
    gap.save(
        update_fields=["knowledge", "status", "published_at", "verification_note", "updated_at"]
    )
    gap_event(
        gap,
        kind=GapEventKind.PUBLISHED,
        actor=actor,
        text=f"Published as {item.key} {item.title[:200]}.",
    )
    audit_record(
        actor=actor,
        action="context_gap.publish",
        obj=gap,
        before={"status": before},
        after={
            "status": gap.status,
            "knowledge": item.key,
            "version": item.current.number if item.current else None,
        },
    )
    gap_id, version_id = gap.pk, item.current_id
    transaction.on_commit(lambda: tasks.gap_verify.delay(gap_id, version_id))
    return gap


def gap_resolve_with_knowledge(*, actor: Actor, gap: ContextGap, item: KnowledgeItem) -> ContextGap:
    """Reuse knowledge that is already published instead of asking an expert again."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(gap, item)
    if item.status != KnowledgeStatus.PUBLISHED:
        raise ValidationError(f"{item.key} is retired: choose published knowledge.")
    with transaction.atomic():
        gap = ContextGap.objects.for_org(gap.organization_id).select_for_update().get(pk=gap.pk)
        if gap.status not in (GapStatus.OPEN, GapStatus.ROUTED, GapStatus.ANSWERED):
            raise ValidationError(
                f"{gap.key} is {gap.get_status_display().lower()}: only an "
                "open, routed or answered gap takes existing knowledge."
            )
        return gap_publish(actor=actor, gap=gap, item=item)


def _source_run(gap: ContextGap) -> EvalRun | None:
    """The newest completed full run holding evidence of the gap."""
    run_ids = GapEvidence.objects.for_org(gap.organization_id).filter(gap=gap).values("run_id")
    return (
        EvalRun.objects.for_org(gap.organization_id)
        .filter(pk__in=run_ids, scope=RunScope.FULL, status=RunStatus.COMPLETED)
        .select_related("plan", "target")
        .order_by("-created_at", "-pk")
        .first()
    )


def gap_verify_start(*, gap_id: int, version_id: int | None) -> GapVerification | None:
    """Re-run the gap's evidence cases (by case number) of its newest run: the task after
    publication. Safe to call twice: one verification per published version."""
    gap = ContextGap.objects.across_orgs().filter(pk=gap_id).select_related("organization").first()
    if gap is None or gap.status != GapStatus.PUBLISHED:
        return None
    org_id = gap.organization_id
    existing = (
        GapVerification.objects.for_org(org_id)
        .filter(gap=gap, knowledge_version_id=version_id)
        .first()
    )
    if existing is not None:
        return existing
    actor = Actor.system(organization=gap.organization, label="context loop")
    source = _source_run(gap)
    with transaction.atomic():
        gap = ContextGap.objects.for_org(org_id).select_for_update().get(pk=gap.pk)
        if gap.status != GapStatus.PUBLISHED:
            return None
        verification = GapVerification(
            organization_id=org_id, gap=gap, knowledge_version_id=version_id
        )
        if source is None:
            verification.status = VerificationStatus.FAILED
            verification.message = (
                "No completed eval run holds this gap's cases: nothing to re-run."
            )
            verification.finished_at = timezone.now()
        else:
            numbers = GapEvidence.objects.for_org(org_id).filter(gap=gap).values("case__number")
            case_ids = list(
                EvalResult.objects.for_org(org_id)
                .filter(run=source, case_number__in=numbers)
                .values_list("case_id", flat=True)
                .distinct()
            )
            try:
                run = eval_services.run_recheck(
                    actor=actor,
                    source=source,
                    case_ids=case_ids,
                    label=f"re-check of {gap.key}",
                )
            except ValidationError as exc:
                verification.status = VerificationStatus.FAILED
                verification.message = " ".join(exc.messages)[:500]
                verification.finished_at = timezone.now()
            else:
                verification.run = run
                verification.message = (
                    f"Re-running {len(case_ids)} case(s) of run "
                    f"#{source.number} (case-set v{source.case_version})."
                )
        verification.save()
        gap_event(
            gap,
            kind=GapEventKind.VERIFIED if verification.run else GapEventKind.STATUS,
            actor=actor,
            text=verification.message,
        )
        audit_record(
            actor=actor,
            action="context_gap.verify_start",
            obj=gap,
            after={
                "verification": verification.pk,
                "run": verification.run_id,
                "status": verification.status,
                "message": verification.message,
            },
        )
    return verification


def _outcomes(run_id: int, organization_id: int) -> dict[int, dict]:
    """case number -> {passed (every repetition), status, output, reasons} of a run."""
    out: dict[int, dict] = {}
    rows = (
        EvalResult.objects.for_org(organization_id)
        .filter(run_id=run_id)
        .order_by("case_number", "repetition")
        .values("case_number", "status", "output", "error", "assertions")
    )
    for row in rows:
        entry = out.setdefault(
            row["case_number"],
            {"passed": True, "status": row["status"], "output": "", "reasons": []},
        )
        if row["status"] != ResultStatus.PASS:
            entry["passed"] = False
            entry["status"] = row["status"]
        if not entry["output"]:
            entry["output"] = (row["output"] or row["error"] or "")[:OUTPUT_CHARS]
        for assertion in row["assertions"] or []:
            if isinstance(assertion, dict) and not assertion.get("passed"):
                reason = str(assertion.get("reason") or assertion.get("type") or "")[:300]
                if reason and reason not in entry["reasons"]:
                    entry["reasons"].append(reason)
    return out


def verification_settle(*, verification_id: int) -> GapVerification | None:
    """Judge a finished re-check: verified when every re-run case passes, else the gap is
    answered with "did not fix it". Safe to call twice (settles once)."""
    verification = (
        GapVerification.objects.across_orgs()
        .filter(pk=verification_id)
        .select_related("run", "gap", "gap__organization")
        .first()
    )
    if verification is None or verification.status != VerificationStatus.RUNNING:
        return verification
    run = verification.run
    if run is None or run.is_active:
        return verification
    org_id = verification.organization_id
    actor = Actor.system(organization=verification.gap.organization, label="context loop")
    now = timezone.now()
    with transaction.atomic():
        verification = (
            GapVerification.objects.for_org(org_id).select_for_update().get(pk=verification.pk)
        )
        if verification.status != VerificationStatus.RUNNING:
            return verification
        gap = ContextGap.objects.for_org(org_id).select_for_update().get(pk=verification.gap_id)
        after = _outcomes(run.pk, org_id)
        before = _outcomes(run.rechecks_id, org_id) if run.rechecks_id else {}
        verification.comparison = [
            {"case_number": n, "before": before.get(n), "after": after[n]} for n in sorted(after)
        ]
        failing = [n for n, outcome in after.items() if not outcome["passed"]]
        if run.status != RunStatus.COMPLETED or not after:
            verification.status = VerificationStatus.FAILED
            verification.message = (
                f"The re-check run #{run.number} did not complete: {run.error[:300]}"
            )
        elif failing:
            verification.status = VerificationStatus.NOT_FIXED
            verification.message = (
                f"Did not fix it: {len(failing)} of {len(after)} case(s) still fail "
                f"({', '.join(f'CASE-{n}' for n in failing[:10])})."
            )
        else:
            verification.status = VerificationStatus.FIXED
            verification.message = f"Fixed: all {len(after)} case(s) pass in run #{run.number}."
        verification.finished_at = now
        verification.save()
        before_status = gap.status
        if gap.status == GapStatus.PUBLISHED:
            if verification.status == VerificationStatus.FIXED:
                gap.status, gap.verified_at, gap.verification_note = GapStatus.VERIFIED, now, ""
                kind = GapEventKind.VERIFIED
            elif verification.status == VerificationStatus.NOT_FIXED:
                gap.status, gap.verification_note = GapStatus.ANSWERED, "Did not fix it"
                kind = GapEventKind.NOT_FIXED
            else:
                kind = GapEventKind.STATUS
            gap.save(update_fields=["status", "verified_at", "verification_note", "updated_at"])
            gap_event(gap, kind=kind, actor=actor, text=verification.message)
        audit_record(
            actor=actor,
            action="context_gap.verify",
            obj=gap,
            before={"status": before_status},
            after={
                "status": gap.status,
                "verification": verification.pk,
                "run": run.pk,
                "result": verification.status,
                "failing_cases": [f"CASE-{n}" for n in failing],
            },
        )
    return verification


def on_run_finished(*, run: EvalRun) -> None:
    """evals' run-finished handler: a finished re-check settles its verification after
    commit (a task, so the run's end never waits on it)."""
    from context import tasks

    if run.scope != RunScope.CASES:
        return
    ids = list(
        GapVerification.objects.for_org(run.organization_id)
        .filter(run_id=run.pk, status=VerificationStatus.RUNNING)
        .values_list("pk", flat=True)
    )
    for verification_id in ids:
        transaction.on_commit(lambda vid=verification_id: tasks.verification_settle.delay(vid))
