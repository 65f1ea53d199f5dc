"""Context gaps: made by hand or from a failed eval case triaged as "context gap", with
their evidence, impact and priority, and the status changes a product owner makes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from context.models import (
    OPEN_GAP_STATUSES,
    SEVERITY_WEIGHT,
    ContextGap,
    DetectedBy,
    GapEventKind,
    GapEvidence,
    GapRequirement,
    GapStatus,
    GapUseCase,
    Priority,
    Severity,
)
from context.services.common import gap_event, next_number
from context.services.smes import gap_set_tags, normalize_tags
from evals.models import EvalResult, ResultStatus, Triage
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action
from usecases.models import Requirement, UseCase

# Impact at or above which a gap gets each priority (unless set by hand).
PRIORITY_BY_IMPACT = ((10, Priority.P1), (6, Priority.P2), (3, Priority.P3), (0, Priority.P4))
# Statuses a product owner may set by hand (the loop sets the others).
MANUAL_STATUSES = (GapStatus.OPEN, GapStatus.CLOSED, GapStatus.WONT_FIX, GapStatus.DUPLICATE)


def priority_for(impact: int) -> str:
    return next(priority for floor, priority in PRIORITY_BY_IMPACT if impact >= floor)


def refresh_impact(gap: ContextGap) -> None:
    """failing cases (distinct case numbers of its evidence) x severity weight."""
    failing = (
        GapEvidence.objects.for_org(gap.organization_id)
        .filter(gap=gap)
        .values("case__plan_id", "case__number")
        .distinct()
        .count()
    )
    gap.failing_cases = failing
    gap.impact = failing * SEVERITY_WEIGHT[Severity(gap.severity)]
    if not gap.priority_by_hand:
        gap.priority = priority_for(gap.impact)


def _audit(gap: ContextGap) -> dict:
    return {
        "number": gap.number,
        "question": gap.question[:300],
        "status": gap.status,
        "detected_by": gap.detected_by,
        "severity": gap.severity,
        "priority": gap.priority,
        "impact": gap.impact,
        "failing_cases": gap.failing_cases,
        "tags": sorted(gap.tag_links.values_list("tag__name", flat=True)),
        "use_cases": sorted(gap.use_case_links.values_list("use_case_id", flat=True)),
        "requirements": sorted(gap.requirement_links.values_list("requirement_id", flat=True)),
    }


def _clean(organization_id: int, data: dict) -> dict:
    errors: dict[str, str] = {}
    clean = dict(data)
    if "question" in clean:
        clean["question"] = " ".join(str(clean["question"] or "").split())
        if not clean["question"]:
            errors["question"] = "Write the question the AI could not answer."
        elif problem := inputs.check_text(ContextGap, "question", clean["question"]):
            errors["question"] = problem
    if "detected_by" in clean and clean["detected_by"] not in DetectedBy.values:
        errors["detected_by"] = "Say what found this gap."
    if "severity" in clean and clean["severity"] not in Severity.values:
        errors["severity"] = "Choose a severity."
    if clean.get("priority") and clean["priority"] not in Priority.values:
        errors["priority"] = "Choose a priority."
    if "tags" in clean:
        try:
            clean["tags"] = normalize_tags(clean["tags"])
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if "use_cases" in clean:
        ids = {uc.pk for uc in clean["use_cases"]}
        if UseCase.objects.for_org(organization_id).filter(pk__in=ids).count() != len(ids):
            errors["use_cases"] = "Choose use cases of this organization."
    if "requirements" in clean:
        ids = {r.pk for r in clean["requirements"]}
        if Requirement.objects.for_org(organization_id).filter(pk__in=ids).count() != len(ids):
            errors["requirements"] = "Choose requirements of this organization."
    if errors:
        raise ValidationError(errors)
    return clean


def _set_links(gap: ContextGap, *, use_cases=None, requirements=None, add_only=False) -> None:
    org_id = gap.organization_id
    if use_cases is not None:
        ids = {uc.pk for uc in use_cases}
        if not add_only:
            GapUseCase.objects.for_org(org_id).filter(gap=gap).exclude(use_case_id__in=ids).delete()
        GapUseCase.objects.bulk_create(
            [GapUseCase(organization_id=org_id, gap=gap, use_case_id=i) for i in ids],
            ignore_conflicts=True,
        )
    if requirements is not None:
        ids = {r.pk for r in requirements}
        if not add_only:
            GapRequirement.objects.for_org(org_id).filter(gap=gap).exclude(
                requirement_id__in=ids
            ).delete()
        GapRequirement.objects.bulk_create(
            [GapRequirement(organization_id=org_id, gap=gap, requirement_id=i) for i in ids],
            ignore_conflicts=True,
        )


def gap_create(
    *,
    actor: Actor,
    question: str,
    detected_by: str = DetectedBy.MANUAL,
    severity: str = Severity.MEDIUM,
    tags=(),
    use_cases=(),
    requirements=(),
    priority: str = "",
) -> ContextGap:
    """Record a gap by hand (or from an incident, feedback, an SME)."""
    actor.require(Action.ANSWER_SME)  # SMEs and product owners
    if detected_by == DetectedBy.EVAL_FAILURE:
        raise ValidationError(
            {"detected_by": "An eval failure is recorded by triaging the failed case on its "
             "run, with the failure as evidence."}
        )  # fmt: skip
    org_id = actor.organization.pk
    clean = _clean(
        org_id,
        {
            "question": question,
            "detected_by": detected_by,
            "severity": severity,
            "tags": tags if isinstance(tags, str) else list(tags),
            "use_cases": list(use_cases),
            "requirements": list(requirements),
            "priority": priority,
        },
    )
    with transaction.atomic():
        gap = _new_gap(
            actor=actor,
            question=clean["question"],
            detected_by=clean["detected_by"],
            severity=clean["severity"],
            priority=clean["priority"],
        )
        gap_set_tags(gap, clean["tags"])
        _set_links(gap, use_cases=clean["use_cases"], requirements=clean["requirements"])
        audit_record(actor=actor, action="context_gap.create", obj=gap, after=_audit(gap))
    return gap


def _new_gap(
    *,
    actor: Actor,
    question: str,
    detected_by: str,
    severity: str = Severity.MEDIUM,
    priority: str = "",
) -> ContextGap:
    org_id = actor.organization.pk
    gap = ContextGap(
        organization_id=org_id,
        number=next_number(org_id, "gap_seq"),
        question=question,
        detected_by=detected_by,
        severity=severity,
        created_by=actor.user,
        priority=priority or priority_for(0),
        priority_by_hand=bool(priority),
    )
    gap.save()
    gap_event(
        gap,
        kind=GapEventKind.CREATED,
        actor=actor,
        text=f"Found by {gap.get_detected_by_display().lower()}.",
    )
    return gap


def gap_for_case(organization_id: int, plan_id: int, case_number: int) -> ContextGap | None:
    """The unresolved gap that already holds evidence of this case (CASE-n of the plan)."""
    return (
        ContextGap.objects.for_org(organization_id)
        .filter(
            status__in=(*OPEN_GAP_STATUSES, GapStatus.PUBLISHED),
            evidence__case__plan_id=plan_id,
            evidence__case__number=case_number,
        )
        .order_by("pk")
        .first()
    )


def gap_add_evidence(*, actor: Actor, gap: ContextGap, triage: Triage) -> int:
    """Attach the triaged case's failing results in that run; the number added."""
    results = list(
        EvalResult.objects.for_org(gap.organization_id)
        .filter(run_id=triage.run_id, case_id=triage.case_id)
        .exclude(status=ResultStatus.PASS)
        .only("pk", "run_id", "case_id")
    )
    existing = set(
        GapEvidence.objects.for_org(gap.organization_id)
        .filter(gap=gap, result_id__in=[r.pk for r in results])
        .values_list("result_id", flat=True)
    )
    new = [r for r in results if r.pk not in existing]
    GapEvidence.objects.bulk_create(
        [
            GapEvidence(
                organization_id=gap.organization_id,
                gap=gap,
                result_id=r.pk,
                run_id=r.run_id,
                case_id=r.case_id,
            )
            for r in new
        ],
        ignore_conflicts=True,
    )
    return len(new)


def gap_from_triage(*, triage: Triage, actor: Actor) -> ContextGap:
    """The triage handler for "context gap": join the unresolved gap that already holds this
    case, else open a new one whose question is the case's input, tagged with the case's
    tags and linked to its use case and requirements. Runs in the triage's transaction."""
    case = triage.case
    plan = case.plan
    gap = gap_for_case(triage.organization_id, plan.pk, case.number)
    joined = gap is not None
    if gap is None:
        question = " ".join((case.input_text or case.name or case.key).split())[:1000]
        gap = _new_gap(actor=actor, question=question, detected_by=DetectedBy.EVAL_FAILURE)
        try:
            tags = normalize_tags(case.tags or [])
        except ValidationError:
            tags = []
        gap_set_tags(gap, tags)
    else:
        gap = ContextGap.objects.for_org(gap.organization_id).select_for_update().get(pk=gap.pk)
    _set_links(
        gap, use_cases=[plan.use_case], requirements=list(case.requirements.all()), add_only=True
    )
    added = gap_add_evidence(actor=actor, gap=gap, triage=triage)
    refresh_impact(gap)
    gap.save(update_fields=["failing_cases", "impact", "priority", "updated_at"])
    gap_event(
        gap,
        kind=GapEventKind.EVIDENCE,
        actor=actor,
        text=f"{case.key} failed in run #{triage.run.number} of {plan.name}"
        f"{f': {triage.note[:200]}' if triage.note else ''}.",
    )
    audit_record(
        actor=actor,
        action="context_gap.join" if joined else "context_gap.create",
        obj=gap,
        after={**_audit(gap), "triage": triage.pk, "evidence_added": added},
    )
    return gap


def gap_update(
    *, actor: Actor, gap: ContextGap, data: dict, tags=None, use_cases=None, requirements=None
) -> ContextGap:
    """Edit a gap's question, severity, priority (blank: from its impact again), tags and
    links."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(gap)
    payload = {k: v for k, v in data.items() if k in ("question", "severity", "priority")}
    if tags is not None:
        payload["tags"] = tags
    if use_cases is not None:
        payload["use_cases"] = list(use_cases)
    if requirements is not None:
        payload["requirements"] = list(requirements)
    clean = _clean(gap.organization_id, payload)
    with transaction.atomic():
        gap = ContextGap.objects.for_org(gap.organization_id).select_for_update().get(pk=gap.pk)
        before = _audit(gap)
        if "question" in clean:
            gap.question = clean["question"]
        if "severity" in clean:
            gap.severity = clean["severity"]
        if "priority" in clean:
            gap.priority_by_hand = bool(clean["priority"])
            if clean["priority"]:
                gap.priority = clean["priority"]
        refresh_impact(gap)
        gap.save()
        if "tags" in clean:
            gap_set_tags(gap, clean["tags"])
        _set_links(gap, use_cases=clean.get("use_cases"), requirements=clean.get("requirements"))
        audit_record(
            actor=actor, action="context_gap.update", obj=gap, before=before, after=_audit(gap)
        )
    return gap


def gap_set_status(
    *,
    actor: Actor,
    gap: ContextGap,
    status: str,
    resolution: str = "",
    duplicate_of: ContextGap | None = None,
) -> ContextGap:
    """Close a gap, mark it won't fix or a duplicate of another, or reopen it."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(gap)
    if status not in MANUAL_STATUSES:
        raise ValidationError({"status": "Choose open, closed, won't fix or duplicate."})
    resolution = (resolution or "").strip()
    if problem := inputs.check_text(ContextGap, "resolution", resolution):
        raise ValidationError({"resolution": problem})
    if status == GapStatus.DUPLICATE:
        if duplicate_of is None:
            raise ValidationError({"duplicate_of": "Say which gap this one duplicates."})
        actor.require_same_org(duplicate_of)
        if duplicate_of.pk == gap.pk:
            raise ValidationError({"duplicate_of": "A gap cannot duplicate itself."})
        if duplicate_of.status == GapStatus.DUPLICATE:
            raise ValidationError(
                {
                    "duplicate_of": f"{duplicate_of.key} is itself a duplicate: "
                    "choose the gap it duplicates."
                }
            )
    if status == GapStatus.WONT_FIX and not resolution:
        raise ValidationError({"resolution": "Say why this gap will not be fixed."})
    with transaction.atomic():
        rows = ContextGap.objects.for_org(gap.organization_id)
        if status == GapStatus.DUPLICATE:  # both locked, in one order: no deadlock, no cycle
            locked = {
                g.pk: g
                for g in rows.select_for_update()
                .filter(pk__in=[gap.pk, duplicate_of.pk])
                .order_by("pk")
            }
            gap, duplicate_of = locked[gap.pk], locked[duplicate_of.pk]
            _check_merge_target(duplicate_of)
        else:
            gap = rows.select_for_update().get(pk=gap.pk)
        before = {"status": gap.status, "duplicate_of": gap.duplicate_of_id}
        if gap.status == status:
            return gap
        now = timezone.now()
        gap.status = status
        gap.resolution = resolution
        gap.duplicate_of = duplicate_of if status == GapStatus.DUPLICATE else None
        if status == GapStatus.OPEN:
            gap.closed_at = None
            if gap.assigned_to_id:
                gap.status = GapStatus.ROUTED
        else:
            gap.closed_at = now
        gap.save()
        if status == GapStatus.DUPLICATE:
            # Its own duplicates now point at the gap it duplicates: no chains.
            rows.filter(duplicate_of=gap).update(duplicate_of=duplicate_of)
            _merge_evidence(gap, duplicate_of)
            gap_event(
                duplicate_of,
                kind=GapEventKind.STATUS,
                actor=actor,
                text=f"{gap.key} merged in as a duplicate, with its evidence.",
            )
        label = gap.get_status_display()
        text = (
            f"{label}{f' of {duplicate_of.key}' if gap.duplicate_of else ''}"
            f"{f': {resolution[:300]}' if resolution else ''}"
        )
        gap_event(gap, kind=GapEventKind.STATUS, actor=actor, text=text.rstrip(".") + ".")
        audit_record(
            actor=actor,
            action="context_gap.status",
            obj=gap,
            before=before,
            after={
                "status": gap.status,
                "duplicate_of": gap.duplicate_of_id,
                "resolution": resolution[:500],
            },
        )
    return gap


def _check_merge_target(target: ContextGap) -> None:
    """A gap merges into one still being worked on (read under its lock)."""
    if target.status == GapStatus.DUPLICATE:
        raise ValidationError(
            {"duplicate_of": f"{target.key} is itself a duplicate: choose the gap it duplicates."}
        )
    if target.status in (GapStatus.VERIFIED, GapStatus.CLOSED, GapStatus.WONT_FIX):
        raise ValidationError(
            {
                "duplicate_of": f"{target.key} is {target.get_status_display().lower()}: its "
                "answer did not cover this failure, so this gap stands on its own. Answer it, "
                "or reuse the knowledge with “Answer with KB-…”."
            }
        )


def _merge_evidence(gap: ContextGap, into: ContextGap) -> None:
    """A duplicate's evidence counts for the gap it duplicates."""
    org_id = gap.organization_id
    rows = (
        GapEvidence.objects.for_org(org_id).filter(gap=gap).values("result_id", "run_id", "case_id")
    )
    GapEvidence.objects.bulk_create(
        [GapEvidence(organization_id=org_id, gap=into, **row) for row in rows],
        ignore_conflicts=True,
    )
    into = ContextGap.objects.for_org(org_id).select_for_update().get(pk=into.pk)
    refresh_impact(into)
    into.save(update_fields=["failing_cases", "impact", "priority", "updated_at"])
