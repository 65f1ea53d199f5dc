"""Releases: the version bundle, its checklist from a template, review, and rollout."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from context import selectors as context_selectors
from evals import selectors as eval_selectors
from evals.models import EvalRun, RunScope
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action, Role
from governance import capability
from governance.models import (
    ROLLOUT_ORDER,
    SIGN_OFFS_REQUIRED,
    ChangeType,
    ChecklistItem,
    ItemKind,
    Release,
    ReleaseReviewer,
    ReleaseStatus,
    ReviewerRole,
    RolloutStage,
    SignOff,
)
from governance.services.common import next_number, require_member
from governance.services.hitl import current_policy
from governance.templates import template_for
from usecases.models import RiskTier, UseCase

BUNDLE_FIELDS = ["name", "model", "prompt_version", "config_hash", "environment", "notes"]
EDITABLE = (ReleaseStatus.DRAFT, ReleaseStatus.IN_REVIEW, ReleaseStatus.REJECTED)
SIGNER_ROLES = (Role.OWNER, Role.ADMIN, Role.REVIEWER)
OWNER_ROLES = (Role.OWNER, Role.ADMIN, Role.PRODUCT_OWNER)  # who may own a release
TIER_ORDER = [RiskTier.MINIMAL, RiskTier.LIMITED, RiskTier.HIGH, RiskTier.UNACCEPTABLE]


def _audit(release: Release) -> dict:
    return {
        "name": release.name,
        "model": release.model,
        "prompt_version": release.prompt_version,
        "config_hash": release.config_hash,
        "knowledge": [f"{k['key']} v{k['version']}" for k in release.knowledge_snapshot],
        "eval_run": release.eval_run_id,
        "hitl_policy": release.hitl_policy_id,
        "change_type": release.change_type,
        "risk_tier": release.risk_tier,
        "environment": release.environment,
        "rollout_stage": release.rollout_stage,
        "status": release.status,
        "owner": release.owner_id,
    }


def latest_proving_run(use_case: UseCase) -> EvalRun | None:
    """The newest finished full run of the use case's plans: the bundle's default proof."""
    runs = [run for _, run in eval_selectors.latest_finished_runs(use_case) if run is not None]
    return max(runs, key=lambda run: run.finished_at or run.created_at, default=None)


def _clean(release: Release, data: dict) -> dict:
    errors: dict[str, str] = {}
    clean = {}
    for key in BUNDLE_FIELDS:
        if key in data:
            value = data[key]
            clean[key] = value.strip() if isinstance(value, str) else value
    if not (clean.get("name", release.name) or "").strip():
        errors["name"] = "Name the release, e.g. v1.4."
    if not (clean.get("environment", release.environment) or "").strip():
        errors["environment"] = "Say where it is released, e.g. production."
    errors.update(
        inputs.text_errors(Release, {k: v for k, v in clean.items() if isinstance(v, str)})
    )
    if "change_type" in data:
        if data["change_type"] not in ChangeType.values:
            errors["change_type"] = "Choose new, substantial change or minor."
        else:
            clean["change_type"] = data["change_type"]
    if "risk_tier" in data:
        if data["risk_tier"] not in RiskTier.values:
            errors["risk_tier"] = "Choose a risk tier."
        elif RiskTier.UNACCEPTABLE in (data["risk_tier"], release.use_case.risk_tier):
            errors["risk_tier"] = "An unacceptable-risk use case is never released."
        elif TIER_ORDER.index(data["risk_tier"]) < TIER_ORDER.index(
            release.use_case.risk_tier or RiskTier.MINIMAL
        ):
            floor = RiskTier(release.use_case.risk_tier).label.lower()
            errors["risk_tier"] = (
                f"{release.use_case.key} is {floor} risk: its release is at least {floor} risk "
                "(fewer sign-offs would follow). Change the use case's tier if it is wrong."
            )
        else:
            clean["risk_tier"] = data["risk_tier"]
    if "target_date" in data:
        clean["target_date"] = data["target_date"]
    if "owner" in data and data["owner"] is not None:
        try:
            require_member(
                release.organization_id, data["owner"], field="owner", roles=OWNER_ROLES,
                refused="The release owner is an owner, admin or product owner.",
            )  # fmt: skip
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
        clean["owner"] = data["owner"]
    if "eval_run" in data:
        run = data["eval_run"]
        if run is not None and (
            run.organization_id != release.organization_id
            or run.plan.use_case_id != release.use_case_id
            or run.scope != RunScope.FULL
        ):
            errors["eval_run"] = "Choose a full run of one of this use case's plans."
        clean["eval_run"] = run
    if "reviewer_roles" in data:
        roles = data["reviewer_roles"]
        if not isinstance(roles, list) or any(r not in ReviewerRole.values for r in roles):
            errors["reviewer_roles"] = "Choose reviewer roles from the list."
        else:
            clean["reviewer_roles"] = [r for r in ReviewerRole.values if r in roles]
    tier = clean.get("risk_tier", release.risk_tier)
    roles = clean.get("reviewer_roles", release.reviewer_roles)
    needed = SIGN_OFFS_REQUIRED.get(tier, 1)
    if tier and "reviewer_roles" not in errors and len(roles) < needed:
        errors["reviewer_roles"] = (
            f"A {RiskTier(tier).label.lower()}-risk release needs {needed} sign-offs: "
            f"choose at least {needed} reviewer roles."
        )
    if errors:
        raise ValidationError(errors)
    return clean


def release_create(
    *, actor: Actor, use_case: UseCase, data: dict, template_id: int | None = None
) -> Release:
    """A draft release of the use case: the bundle as given, the knowledge snapshot and the
    HITL policy of today, and the checklist of the template (the default one if none)."""
    actor.require(Action.EDIT_PRODUCT)
    org_id = use_case.organization_id
    template = template_for(org_id, template_id)
    release = Release(
        organization_id=org_id,
        use_case=use_case,
        risk_tier=use_case.risk_tier,
        change_type=ChangeType.NEW,
        reviewer_roles=list(template.reviewer_roles),
        owner=_default_owner(org_id, actor.user, use_case.owner),
        created_by=actor.user,
        created_by_label=actor.label[:254],
    )
    data = {"risk_tier": use_case.risk_tier, **data}
    if data.get("eval_run") is None:  # none chosen: the run that proves it today
        data["eval_run"] = latest_proving_run(use_case)
    clean = _clean(release, data)
    for key, value in clean.items():
        setattr(release, key, value)
    with transaction.atomic():
        release.number = next_number(org_id, "release_seq")
        release.knowledge_snapshot = context_selectors.knowledge_snapshot_of(org_id, use_case)
        release.hitl_policy = current_policy(use_case)
        release.save()
        ChecklistItem.objects.bulk_create(
            [
                ChecklistItem(
                    organization_id=org_id,
                    release=release,
                    position=position,
                    key=row["key"],
                    category=row.get("category", "")[:60],
                    text=row["text"][:500],
                    kind=row.get("kind", ItemKind.MANUAL),
                    check_key=row.get("check_key", ""),
                    reviewer_role=row.get("reviewer_role", ""),
                )
                for position, row in enumerate(template.items)
            ]
        )
        audit_record(
            actor=actor,
            action="release.created",
            obj=release,
            after={**_audit(release), "template": template.name},
        )
    return release


def _default_owner(org_id: int, *candidates):
    """Whoever makes the release, else the use case's owner: the first who may own one."""
    from governance.services.common import membership_of

    for user in candidates:
        membership = membership_of(org_id, user)
        if membership is not None and membership.role in OWNER_ROLES:
            return user
    return None


def _require_editable(release: Release) -> None:
    if release.status not in EDITABLE:
        raise ValidationError(
            {"status": f"{release.key} is {release.get_status_display().lower()}: its bundle "
             "no longer changes. Make a new release."}
        )  # fmt: skip


def release_update(*, actor: Actor, release: Release, data: dict) -> Release:
    """Change the bundle or the review set-up; a signed state that changes goes stale."""
    actor.require(Action.EDIT_PRODUCT)
    with transaction.atomic():
        release = _locked(release)  # a sign-off or a stage change meanwhile is not undone
        _require_editable(release)
        clean = _clean(release, data)
        owner = clean.get("owner")
        if owner is not None and owner.pk != release.owner_id:
            _require_not_reviewing(release, owner)
        before = _audit(release)
        for key, value in clean.items():
            setattr(release, key, value)
        release.save()
        audit_record(
            actor=actor, action="release.updated", obj=release, before=before, after=_audit(release)
        )
    return release


def _locked(release: Release) -> Release:
    """Lock the release's row (until the transaction ends) and read it again into the
    caller's instance: what a concurrent sign-off or move wrote is not overwritten."""
    Release.objects.for_org(release.organization_id).select_for_update().filter(
        pk=release.pk
    ).values_list("pk", flat=True).get()
    release.refresh_from_db()
    return release


def _require_not_reviewing(release: Release, user) -> None:
    """The owner is nobody who signs or is asked to sign this release."""
    org_id = release.organization_id
    reviewing = (
        SignOff.objects.for_org(org_id).filter(release=release, superseded=False, user=user)
        .exists()
        or ReleaseReviewer.objects.for_org(org_id).filter(release=release, user=user).exists()
    )  # fmt: skip
    if reviewing:
        raise ValidationError(
            {"owner": f"{user.display_name} reviews this release: its owner is someone else "
             "(separation of duties)."}
        )  # fmt: skip


def release_refresh_bundle(*, actor: Actor, release: Release) -> Release:
    """Take today's knowledge snapshot, HITL policy and latest run into the bundle."""
    actor.require(Action.EDIT_PRODUCT)
    org_id = release.organization_id
    with transaction.atomic():
        release = _locked(release)
        _require_editable(release)
        before = _audit(release)
        release.knowledge_snapshot = context_selectors.knowledge_snapshot_of(
            org_id, release.use_case
        )
        release.hitl_policy = current_policy(release.use_case)
        release.eval_run = latest_proving_run(release.use_case) or release.eval_run
        release.save()
        audit_record(
            actor=actor,
            action="release.bundle_refreshed",
            obj=release,
            before=before,
            after=_audit(release),
        )
    return release


def release_submit(*, actor: Actor, release: Release) -> Release:
    """Draft (or rejected) -> in review; the capability card is generated for approval
    with it, and earlier sign-offs no longer count."""
    actor.require(Action.EDIT_PRODUCT)
    with transaction.atomic():
        release = _locked(release)
        if release.status not in (ReleaseStatus.DRAFT, ReleaseStatus.REJECTED):
            raise ValidationError(
                {"status": f"{release.key} is already {release.get_status_display().lower()}."}
            )
        floor = release.use_case.risk_tier or RiskTier.MINIMAL
        if floor == RiskTier.UNACCEPTABLE:
            raise ValidationError({"risk_tier": "An unacceptable-risk use case is never released."})
        if TIER_ORDER.index(release.risk_tier) < TIER_ORDER.index(floor):
            raise ValidationError(
                {"risk_tier": f"{release.use_case.key} is now {RiskTier(floor).label.lower()} "
                 f"risk: raise {release.key}'s tier to match before review."}
            )  # fmt: skip
        before = release.status
        SignOff.objects.for_org(release.organization_id).filter(
            release=release, superseded=False
        ).update(superseded=True)
        release.status = ReleaseStatus.IN_REVIEW
        release.submitted_at = timezone.now()
        release.capability_card = capability.card_markdown(release)
        release.save()
        audit_record(
            actor=actor,
            action="release.submitted",
            obj=release,
            before={"status": before},
            after={"status": release.status},
        )
        for reviewer_role, user_id in (
            ReleaseReviewer.objects.for_org(release.organization_id)
            .filter(release=release)
            .values_list("reviewer_role", "user_id")
        ):
            _ask(release, user_id, reviewer_role)
    return release


def release_assign_reviewer(*, actor: Actor, release: Release, reviewer_role: str, user) -> None:
    """Ask a person to sign for one role (None: any reviewer may)."""
    actor.require(Action.EDIT_PRODUCT)
    if reviewer_role not in release.reviewer_roles:
        raise ValidationError({"reviewer_role": "This checklist has no such reviewer role."})
    org_id = release.organization_id
    with transaction.atomic():
        if user is None:
            ReleaseReviewer.objects.for_org(org_id).filter(
                release=release, reviewer_role=reviewer_role
            ).delete()
        else:
            require_member(org_id, user, field="user", roles=SIGNER_ROLES)
            if user.pk == release.owner_id:
                raise ValidationError(
                    {"user": "The release owner cannot review their own release."}
                )
            other = (
                ReleaseReviewer.objects.for_org(org_id)
                .filter(release=release, user=user)
                .exclude(reviewer_role=reviewer_role)
                .first()
            )
            if other is not None:
                raise ValidationError(
                    {"user": f"{user.display_name} is already asked to sign as "
                     f"{ReviewerRole(other.reviewer_role).label.lower()}: one person signs one "
                     "role of a release."}
                )  # fmt: skip
            ReleaseReviewer.objects.for_org(org_id).update_or_create(
                organization_id=org_id,
                release=release,
                reviewer_role=reviewer_role,
                defaults={"user": user},
            )
        audit_record(
            actor=actor,
            action="release.reviewer_assigned",
            obj=release,
            after={"role": reviewer_role, "user": user.pk if user else None},
        )
        if user is not None and release.status == ReleaseStatus.IN_REVIEW:
            _ask(release, user.pk, reviewer_role)


def release_set_stage(*, actor: Actor, release: Release, stage: str) -> Release:
    """Move the rollout. A wider stage needs an approved release whose gate is ready now;
    a narrower one never waits; rolled back ends the release."""
    actor.require(Action.EDIT_PRODUCT)
    if stage not in RolloutStage.values:
        raise ValidationError({"stage": "Choose a rollout stage."})
    with transaction.atomic():
        # Locked: concurrent moves are applied one after the other, each on the last state.
        release = _locked(release)
        _check_stage_move(release, stage)
        before = {"rollout_stage": release.rollout_stage, "status": release.status}
        release.rollout_stage = stage
        if stage == RolloutStage.ROLLED_BACK:
            release.status = ReleaseStatus.ROLLED_BACK
        elif ROLLOUT_ORDER.index(stage) > 0 and release.status != ReleaseStatus.RELEASED:
            release.status = ReleaseStatus.RELEASED
            release.released_at = timezone.now()
        release.save(update_fields=["rollout_stage", "status", "released_at", "updated_at"])
        audit_record(
            actor=actor,
            action="release.stage_changed",
            obj=release,
            before=before,
            after={"rollout_stage": release.rollout_stage, "status": release.status},
        )
    return release


def _check_stage_move(release: Release, stage: str) -> None:
    from governance import gate as release_gate

    if release.status == ReleaseStatus.ROLLED_BACK:
        raise ValidationError({"stage": f"{release.key} was rolled back: make a new release."})
    if stage == release.rollout_stage:
        raise ValidationError(
            {"stage": f"{release.key} is already in {release.get_rollout_stage_display().lower()}."}
        )
    approved = (
        ReleaseStatus.APPROVED,
        ReleaseStatus.APPROVED_WITH_CONDITIONS,
        ReleaseStatus.RELEASED,
    )
    if stage == RolloutStage.ROLLED_BACK:
        if release.status not in approved:
            raise ValidationError(
                {"stage": f"{release.key} is {release.get_status_display().lower()} and was "
                 "never released: there is nothing to roll back."}
            )  # fmt: skip
        return
    if ROLLOUT_ORDER.index(stage) <= ROLLOUT_ORDER.index(release.rollout_stage):
        return  # narrowing never waits
    if release.status not in approved:
        raise ValidationError(
            {"stage": f"{release.key} is {release.get_status_display().lower()}: a wider "
             "rollout needs an approved checklist."}
        )  # fmt: skip
    gate = release_gate.evaluate(release)
    if not gate.ready:
        first = gate.blockers[0].message if gate.blockers else ""
        raise ValidationError({"stage": f"The gate is {gate.verdict_label.lower()}: {first}"[:600]})


def _ask(release: Release, user_id: int, reviewer_role: str) -> None:
    """Email the reviewer once the transaction commits."""
    from governance import tasks

    transaction.on_commit(
        lambda: tasks.review_asked_email.delay(release.pk, user_id, reviewer_role)
    )


def require_signer(actor: Actor, release: Release) -> None:
    """A person who may sign, and not the release's owner (separation of duties)."""
    if actor.user is None:
        raise PermissionDenied("A sign-off is a person's: API tokens cannot sign.")
    if actor.user.pk == release.owner_id:
        raise PermissionDenied("The release owner cannot sign off their own release.")
    actor.require(Action.SIGN_OFF)
