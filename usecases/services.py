"""Writes of the use-case area. Each validates, writes in one transaction and audits."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.models import Membership
from genai_po.roles import Action
from usecases import scoring
from usecases.gates import gate_for_move
from usecases.models import (
    PRD_SECTION_KEYS,
    STAGE_ORDER,
    Criterion,
    HumanInvolvement,
    Prd,
    PrdTemplate,
    PrdVersion,
    PriorityWeights,
    Requirement,
    RequirementStatus,
    RequirementType,
    RequirementVerification,
    RiskTier,
    StageTransition,
    UseCase,
    UseCaseStatus,
    VerificationKind,
    VerificationMethod,
)

MAX_INT = 2_147_483_647  # the database's integer
BRIEF_FIELDS = [
    "title", "problem", "workflow", "target_users", "user_count", "owner", "department",
    "value_hypothesis", "metric_name", "metric_unit", "metric_baseline", "metric_target",
    "risk_tier", "human_involvement", "status",
]  # fmt: skip
_CHOICES = {"risk_tier": RiskTier, "human_involvement": HumanInvolvement,
            "status": UseCaseStatus}  # fmt: skip


def _member_user(organization, user, field: str):
    """A user who is a member of the organization (owners come from the org only)."""
    if user is None:
        return None
    user_id = getattr(user, "pk", user)
    membership = (
        Membership.objects.for_org(organization)
        .filter(user_id=user_id)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise ValidationError({field: "Choose a member of this organization."})
    return membership.user


def _clean_brief(organization, data: dict, *, creating: bool) -> dict:
    clean, errors = {}, {}
    for field, value in data.items():
        if field not in BRIEF_FIELDS:
            errors[field] = "Unknown field."
            continue
        if field == "owner":
            try:
                clean[field] = _member_user(organization, value, field)
            except ValidationError as exc:
                errors.update(exc.message_dict)
        elif field in ("metric_baseline", "metric_target"):
            if value in (None, ""):
                clean[field] = None
                continue
            try:
                clean[field] = Decimal(str(value))
            except InvalidOperation:
                errors[field] = "Enter a number."
                continue
            if not clean[field].is_finite() or abs(clean[field]) >= Decimal("1e12"):
                errors[field] = "Enter a number below a trillion."
            elif clean[field].as_tuple().exponent < -2:
                errors[field] = "Use at most 2 decimal places."
        elif field == "user_count":
            if value in (None, ""):
                clean[field] = None
            elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
                errors[field] = "Enter a whole number of users, 0 or more."
            else:
                clean[field] = value
        elif field in _CHOICES:
            if value not in _CHOICES[field].values:
                errors[field] = f"Choose one of: {', '.join(_CHOICES[field].values)}."
            else:
                clean[field] = value
        else:
            text = (value or "").strip() if isinstance(value, str) or value is None else None
            if text is None:
                errors[field] = "Enter text."
            elif problem := inputs.check_text(UseCase, field, text):
                errors[field] = problem
            else:
                clean[field] = text
    if (creating or "title" in clean) and not clean.get("title") and "title" not in errors:
        errors["title"] = "Give the use case a title."
    if errors:
        raise ValidationError(errors)
    return clean


def _snapshot(obj, fields) -> dict:
    """Field values as the audit trail records them: an owner by email."""
    out = {}
    for field in fields:
        value = getattr(obj, field)
        out[field] = value.email if field == "owner" and value is not None else value
    return out


def use_case_create(*, actor: Actor, data: dict) -> UseCase:
    """Create a use-case brief in the discover stage."""
    actor.require(Action.EDIT_PRODUCT)
    org = actor.organization
    clean = _clean_brief(org, data, creating=True)
    with transaction.atomic():
        # The organization row is the lock that numbers use cases one after another.
        type(org).objects.select_for_update().only("id").get(pk=org.pk)
        last = UseCase.objects.for_org(org).aggregate(n=Max("number"))["n"] or 0
        use_case = UseCase(organization=org, number=last + 1, created_by=actor.user, **clean)
        use_case.full_clean(exclude=["organization", "owner", "created_by"])
        use_case.save()
        audit_record(actor=actor, action="use_case.create", obj=use_case,
                     after={"key": use_case.key, **_snapshot(use_case, clean)})  # fmt: skip
    return use_case


def use_case_update(*, actor: Actor, use_case: UseCase, data: dict) -> UseCase:
    """Change brief fields; records only what changed."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    clean = _clean_brief(use_case.organization, data, creating=False)
    changed = {f: v for f, v in clean.items() if getattr(use_case, f) != v}
    if not changed:
        return use_case
    with transaction.atomic():
        before = _snapshot(use_case, changed)
        for field, value in changed.items():
            setattr(use_case, field, value)
        use_case.save(update_fields=[*changed, "updated_at"])
        audit_record(actor=actor, action="use_case.update", obj=use_case, before=before,
                     after=_snapshot(use_case, changed))  # fmt: skip
    return use_case


def use_case_archive(*, actor: Actor, use_case: UseCase, archived: bool = True) -> UseCase:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    if bool(use_case.archived_at) == archived:
        return use_case
    with transaction.atomic():
        use_case.archived_at = timezone.now() if archived else None
        use_case.save(update_fields=["archived_at", "updated_at"])
        audit_record(actor=actor, action="use_case.archive" if archived else "use_case.restore",
                     obj=use_case, after={"archived": archived})  # fmt: skip
    return use_case


# --- Prioritization


def use_case_score(*, actor: Actor, use_case: UseCase, scores: dict) -> UseCase:
    """Set some of the six 1-5 scores (None clears one) and recompute the priority."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    errors = {}
    for criterion, value in scores.items():
        if criterion not in Criterion.values:
            errors[criterion] = f"Unknown criterion. Known: {', '.join(Criterion.values)}."
        elif value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5
        ):
            errors[criterion] = "Score from 1 to 5."
    if errors:
        raise ValidationError(errors)
    changed = {c: v for c, v in scores.items() if use_case.score_of(c) != v}
    if not changed:
        return use_case
    with transaction.atomic():
        before = {c: use_case.score_of(c) for c in changed}
        for criterion, value in changed.items():
            setattr(use_case, f"score_{criterion}", value)
        weights = scoring.weights_of(use_case.organization_id)
        use_case.priority_score = scoring.priority_score(scoring.scores_of(use_case), weights)
        use_case.save(
            update_fields=[*(f"score_{c}" for c in changed), "priority_score", "updated_at"]
        )
        audit_record(actor=actor, action="use_case.score", obj=use_case, before=before,
                     after={**changed, "priority_score": use_case.priority_score})  # fmt: skip
    return use_case


def priority_weights_update(*, actor: Actor, weights: dict) -> PriorityWeights:
    """Change the organization's weights (admins) and re-rank every use case."""
    actor.require(Action.MANAGE_ORG)
    errors = {}
    for criterion in Criterion.values:
        value = weights.get(criterion)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10:
            errors[criterion] = "Weight from 0 to 10."
    unknown = set(weights) - set(Criterion.values)
    if unknown:
        errors["weights"] = f"Unknown criteria: {', '.join(sorted(unknown))}."
    if not errors and sum(weights.values()) == 0:
        errors["weights"] = "At least one weight must be above 0."
    if errors:
        raise ValidationError(errors)
    org = actor.organization
    with transaction.atomic():
        row, _ = (
            PriorityWeights.objects.for_org(org).select_for_update().get_or_create(organization=org)
        )
        before = row.as_dict()
        for criterion, value in weights.items():
            setattr(row, criterion, value)
        row.save()
        scoring.recompute_all(org, row.as_dict())
        audit_record(actor=actor, action="priority_weights.update", obj=row, before=before,
                     after=row.as_dict())  # fmt: skip
    return row


# --- Lifecycle


def use_case_move_stage(
    *, actor: Actor, use_case: UseCase, to_stage: str, override_reason: str = ""
) -> StageTransition:
    """Move to another stage. Forward moves pass the gates, or need a reason to override."""
    from usecases.selectors import readiness_of

    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    if to_stage not in STAGE_ORDER:
        raise ValidationError({"to_stage": f"Unknown stage {to_stage!r}."})
    if to_stage == use_case.stage:
        raise ValidationError({"to_stage": "The use case is already in this stage."})
    if use_case.archived_at:
        raise ValidationError("Restore the archived use case before moving it.")
    override_reason = override_reason.strip()
    if problem := inputs.check_text(StageTransition, "override_reason", override_reason):
        raise ValidationError({"override_reason": problem})
    checks = gate_for_move(use_case, to_stage, readiness_of(use_case=use_case))
    unmet = [{"label": c.label, "state": c.state, "detail": c.detail} for c in checks if not c.met]
    if unmet and not override_reason:
        raise ValidationError(
            {"override_reason": "The gate is not met: "
             + "; ".join(u["label"] for u in unmet)
             + ". Give a reason to override it."}
        )  # fmt: skip
    with transaction.atomic():
        locked = (
            UseCase.objects.for_org(use_case.organization_id)
            .select_for_update()
            .get(pk=use_case.pk)
        )
        if locked.stage != use_case.stage:
            raise ValidationError("Someone moved this use case meanwhile: reload and try again.")
        transition = StageTransition.objects.create(
            organization_id=use_case.organization_id,
            use_case=use_case,
            from_stage=use_case.stage,
            to_stage=to_stage,
            actor=actor.user,
            actor_label=actor.label,
            overridden=bool(unmet),
            override_reason=override_reason if unmet else "",
            unmet=unmet,
        )
        before = {"stage": use_case.stage}
        use_case.stage = to_stage
        use_case.save(update_fields=["stage", "updated_at"])
        after = {"stage": to_stage}
        if unmet:
            after |= {"gate_overridden": True, "reason": override_reason,
                      "unmet": [u["label"] for u in unmet]}  # fmt: skip
        audit_record(
            actor=actor,
            action="use_case.stage_override" if unmet else "use_case.stage_change",
            obj=use_case, before=before, after=after,
        )  # fmt: skip
    return transition


# --- PRD


def prd_template_of(organization) -> dict[str, str]:
    row = PrdTemplate.objects.for_org(organization).first()
    return dict(row.sections) if row else {}


def _plain(number) -> str:
    """11.50 as 11.5, 7.00 as 7."""
    return f"{Decimal(number).normalize():f}"


def prd_start_of(use_case: UseCase) -> dict[str, str]:
    """What a new PRD's sections start from: what the brief already says (the problem, the
    workflow, the goal from its value hypothesis and metric), else the organization's
    template."""
    sections = prd_template_of(use_case.organization_id)
    goal = use_case.value_hypothesis.strip()
    if use_case.metric_name:
        target = (
            f" ({_plain(use_case.metric_baseline)} today, target {_plain(use_case.metric_target)}"
            f"{' ' + use_case.metric_unit if use_case.metric_unit else ''})"
            if use_case.metric_baseline is not None and use_case.metric_target is not None
            else ""
        )
        goal = f"{goal}\n\nMeasured by {use_case.metric_name}{target}.".strip()
    from_brief = {
        "user_problem": use_case.problem.strip(),
        "workflow": use_case.workflow.strip(),
        "user_goal": goal,
    }
    return {**sections, **{key: text for key, text in from_brief.items() if text}}


def prd_template_update(*, actor: Actor, sections: dict) -> PrdTemplate:
    actor.require(Action.EDIT_PRODUCT)
    clean = _clean_sections(sections)
    org = actor.organization
    with transaction.atomic():
        row, _ = PrdTemplate.objects.for_org(org).get_or_create(organization=org)
        before = dict(row.sections)
        row.sections = clean
        row.save()
        audit_record(actor=actor, action="prd_template.update", obj=row, before=before,
                     after=clean)  # fmt: skip
    return row


def _clean_sections(sections: dict) -> dict[str, str]:
    unknown = set(sections) - set(PRD_SECTION_KEYS)
    if unknown:
        raise ValidationError({"sections": f"Unknown sections: {', '.join(sorted(unknown))}."})
    clean = {}
    for key, value in sections.items():
        if not isinstance(value, str):
            raise ValidationError({key: "Enter text."})
        if len(value) > 20000:
            raise ValidationError({key: "Keep each section under 20,000 characters."})
        if inputs.NUL in value:
            raise ValidationError({key: inputs.NUL_MESSAGE})
        clean[key] = value.strip()
    return clean


def _requirements_snapshot(use_case: UseCase) -> list[dict]:
    return [
        {
            "key": r.key, "statement": r.statement, "type": r.type,
            "launch_blocking": r.launch_blocking, "owner": r.owner.email if r.owner else None,
            "verification_method": r.verification_method, "status": r.status,
        }
        for r in Requirement.objects.for_org(use_case.organization_id)
        .filter(use_case=use_case)
        .select_related("owner")
        .order_by("position", "number")
    ]  # fmt: skip


def _prd_for(use_case: UseCase) -> Prd:
    prd = Prd.objects.for_org(use_case.organization_id).filter(use_case=use_case).first()
    if prd is None:
        prd = Prd.objects.create(
            organization_id=use_case.organization_id,
            use_case=use_case,
            sections=prd_start_of(use_case),
        )
    return prd


def _prd_new_version(*, actor: Actor, prd: Prd, summary: str) -> PrdVersion:
    """Snapshot the PRD (sections and requirements) as its next version."""
    Prd.objects.for_org(prd.organization_id).filter(pk=prd.pk).update(version=F("version") + 1)
    prd.refresh_from_db(fields=["version"])
    return PrdVersion.objects.create(
        organization_id=prd.organization_id,
        prd=prd,
        number=prd.version,
        author=actor.user,
        author_label=actor.label,
        summary=summary[:300],
        content={
            "sections": dict(prd.sections),
            "requirements": _requirements_snapshot(prd.use_case),
        },
    )


def prd_save(*, actor: Actor, use_case: UseCase, sections: dict, summary: str) -> PrdVersion:
    """Save the PRD's sections as a new version with a change summary."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    summary = summary.strip()
    if not summary:
        raise ValidationError({"summary": "Say in a few words what changed."})
    if len(summary) > 300:
        raise ValidationError({"summary": "Keep the summary under 300 characters."})
    clean = _clean_sections(sections)
    with transaction.atomic():
        prd = _prd_for(use_case)
        prd = Prd.objects.for_org(prd.organization_id).select_for_update().get(pk=prd.pk)
        before = {k: prd.sections.get(k, "") for k in clean}
        prd.sections = {**prd.sections, **clean}
        prd.save(update_fields=["sections", "updated_at"])
        version = _prd_new_version(actor=actor, prd=prd, summary=summary)
        changed = [k for k in clean if before[k] != clean[k]]
        audit_record(actor=actor, action="prd.save", obj=prd,
                     before={k: before[k] for k in changed},
                     after={"version": version.number, "summary": summary,
                            **{k: clean[k] for k in changed}})  # fmt: skip
    return version


# --- Requirements

_REQ_CHOICES = {"type": RequirementType, "verification_method": VerificationMethod,
                "status": RequirementStatus}  # fmt: skip
REQUIREMENT_FIELDS = ["statement", "type", "launch_blocking", "owner", "verification_method",
                      "status"]  # fmt: skip


def _clean_requirement(organization, data: dict, *, creating: bool) -> dict:
    clean, errors = {}, {}
    for field, value in data.items():
        if field not in REQUIREMENT_FIELDS:
            errors[field] = "Unknown field."
        elif field == "statement":
            text = value.strip() if isinstance(value, str) else ""
            if not text:
                errors[field] = "State the expected behavior."
            elif problem := inputs.check_text(Requirement, field, text):
                errors[field] = problem
            else:
                clean[field] = text
        elif field == "launch_blocking":
            if not isinstance(value, bool):
                errors[field] = "Say true or false."
            else:
                clean[field] = value
        elif field == "owner":
            try:
                clean[field] = _member_user(organization, value, field)
            except ValidationError as exc:
                errors.update(exc.message_dict)
        elif value not in _REQ_CHOICES[field].values:
            errors[field] = f"Choose one of: {', '.join(_REQ_CHOICES[field].values)}."
        else:
            clean[field] = value
    if creating and "statement" not in clean and "statement" not in errors:
        errors["statement"] = "State the expected behavior."
    if errors:
        raise ValidationError(errors)
    return clean


def _requirement_audit(requirement: Requirement, fields) -> dict:
    return {"key": requirement.key, **_snapshot(requirement, fields)}


def requirement_add(*, actor: Actor, use_case: UseCase, data: dict) -> Requirement:
    """Add a requirement with the next REQ number of the use case (never reused)."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    clean = _clean_requirement(use_case.organization_id, data, creating=True)
    with transaction.atomic():
        locked = (
            UseCase.objects.for_org(use_case.organization_id)
            .select_for_update()
            .get(pk=use_case.pk)
        )
        number = locked.requirement_seq + 1
        UseCase.objects.for_org(use_case.organization_id).filter(pk=use_case.pk).update(
            requirement_seq=number
        )
        use_case.requirement_seq = number
        last = (
            Requirement.objects.for_org(use_case.organization_id)
            .filter(use_case=use_case)
            .aggregate(p=Max("position"))["p"]
        )
        requirement = Requirement.objects.create(
            organization_id=use_case.organization_id, use_case=use_case, number=number,
            position=(last or 0) + 1, **clean,
        )  # fmt: skip
        prd = _prd_for(use_case)
        _prd_new_version(actor=actor, prd=prd, summary=f"{requirement.key} added")
        audit_record(actor=actor, action="requirement.create", obj=requirement,
                     after=_requirement_audit(requirement, clean))  # fmt: skip
    return requirement


def requirement_update(*, actor: Actor, requirement: Requirement, data: dict) -> Requirement:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(requirement)
    clean = _clean_requirement(requirement.organization_id, data, creating=False)
    changed = {f: v for f, v in clean.items() if getattr(requirement, f) != v}
    if not changed:
        return requirement
    with transaction.atomic():
        before = _requirement_audit(requirement, changed)
        for field, value in changed.items():
            setattr(requirement, field, value)
        requirement.save(update_fields=[*changed, "updated_at"])
        _prd_new_version(actor=actor, prd=_prd_for(requirement.use_case),
                         summary=f"{requirement.key} changed: {', '.join(changed)}")  # fmt: skip
        audit_record(actor=actor, action="requirement.update", obj=requirement, before=before,
                     after=_requirement_audit(requirement, changed))  # fmt: skip
    return requirement


def requirement_delete(*, actor: Actor, requirement: Requirement) -> None:
    """Delete a requirement; its REQ number is never handed out again."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(requirement)
    with transaction.atomic():
        snapshot = _requirement_audit(requirement, ["statement", "type", "launch_blocking"])
        use_case, pk = requirement.use_case, requirement.pk
        requirement.delete()
        _prd_new_version(actor=actor, prd=_prd_for(use_case), summary=f"{snapshot['key']} deleted")
        audit_record(actor=actor, action="requirement.delete", object_type="usecases.requirement",
                     object_id=pk, before=snapshot)  # fmt: skip


def requirement_reorder(*, actor: Actor, use_case: UseCase, keys: list[str]) -> None:
    """Put the use case's requirements in the given order of keys (all of them, once)."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    requirements = {
        r.key: r
        for r in Requirement.objects.for_org(use_case.organization_id).filter(use_case=use_case)
    }
    if (
        not all(isinstance(k, str) for k in keys)
        or sorted(keys) != sorted(requirements)
        or len(set(keys)) != len(keys)
    ):
        raise ValidationError({"order": "Give every requirement key of this use case once."})
    before = [r.key for r in sorted(requirements.values(), key=lambda r: (r.position, r.number))]
    if before == keys:
        return
    with transaction.atomic():
        for position, key in enumerate(keys, start=1):
            requirements[key].position = position
        Requirement.objects.for_org(use_case.organization_id).bulk_update(
            requirements.values(), ["position"]
        )
        _prd_new_version(actor=actor, prd=_prd_for(use_case), summary="Requirements reordered")
        audit_record(actor=actor, action="requirement.reorder", obj=use_case,
                     before={"order": before}, after={"order": keys})  # fmt: skip


def verification_add(
    *, actor: Actor, requirement: Requirement, kind: str, name: str, owner=None
) -> RequirementVerification:
    """Name a human review that verifies the requirement, with its owner. Eval cases link
    from their plan and monitors from the metrics area, through their own providers."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(requirement)
    errors = {}
    if kind != VerificationKind.HUMAN_REVIEW:
        errors["kind"] = (
            "Only a named human review is added here: eval cases link to requirements from "
            "the case in their eval plan, monitors from the metrics area."
        )
    name = (name or "").strip()
    if not name:
        errors["name"] = "Name the review."
    elif len(name) > 200:
        errors["name"] = "Keep the name under 200 characters."
    try:
        owner = _member_user(requirement.organization_id, owner, "owner")
    except ValidationError as exc:
        errors.update(exc.message_dict)
        owner = None
    if owner is None and "owner" not in errors:
        errors["owner"] = "A human review needs an owner who does it."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        verification = RequirementVerification.objects.create(
            organization_id=requirement.organization_id, requirement=requirement, name=name,
            owner=owner,
        )  # fmt: skip
        audit_record(actor=actor, action="verification.create", obj=verification,
                     after={"requirement": requirement.key, "kind": kind, "name": name,
                            "owner": owner.email})  # fmt: skip
    return verification


def verification_remove(*, actor: Actor, verification: RequirementVerification) -> None:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(verification)
    with transaction.atomic():
        snapshot = {"requirement": verification.requirement.key, "kind": verification.kind,
                    "name": verification.name}  # fmt: skip
        pk = verification.pk
        verification.delete()
        audit_record(actor=actor, action="verification.delete",
                     object_type="usecases.requirementverification", object_id=pk,
                     before=snapshot)  # fmt: skip
