"""Reviewer sign-offs: a person, not the release owner, decides for one reviewer role on
the checklist state they saw (its hash is kept; when the evidence changes, it is stale)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from governance import gate as release_gate
from governance.models import (
    Decision,
    Release,
    ReleaseReviewer,
    ReleaseStatus,
    SignOff,
)
from governance.services.releases import require_signer

SIGNABLE = (
    ReleaseStatus.IN_REVIEW,
    ReleaseStatus.APPROVED,
    ReleaseStatus.APPROVED_WITH_CONDITIONS,
    ReleaseStatus.REJECTED,
)


def status_from(gate) -> str:
    """In review, approved (with conditions) or rejected, from the fresh sign-offs."""
    fresh = [r.sign_off for r in gate.roles if r.sign_off is not None and not r.stale]
    if any(s.decision == Decision.REJECT for s in fresh):
        return ReleaseStatus.REJECTED
    if gate.approvals >= gate.required:
        if any(s.decision == Decision.APPROVE_WITH_CONDITIONS for s in fresh):
            return ReleaseStatus.APPROVED_WITH_CONDITIONS
        return ReleaseStatus.APPROVED
    return ReleaseStatus.IN_REVIEW


def sign_off(
    *, actor: Actor, release: Release, reviewer_role: str, decision: str, comment: str = "",
    seen_hash: str = "",
) -> SignOff:  # fmt: skip
    """Record a decision for `reviewer_role`. `seen_hash`, when given, is the state the
    reviewer looked at: if the evidence moved since, nothing is signed."""
    require_signer(actor, release)
    errors = {}
    if decision not in Decision.values:
        errors["decision"] = "Approve, approve with conditions, or reject."
    comment = (comment or "").strip()
    if decision in (Decision.REJECT, Decision.APPROVE_WITH_CONDITIONS) and not comment:
        errors["comment"] = (
            "Say why you reject it." if decision == Decision.REJECT else "Write the conditions."
        )
    if error := inputs.check_text(SignOff, "comment", comment):
        errors["comment"] = error
    if reviewer_role not in release.reviewer_roles:
        errors["reviewer_role"] = "This checklist has no such reviewer role."
    if errors:
        raise ValidationError(errors)
    org_id = release.organization_id
    with transaction.atomic():
        release = Release.objects.for_org(org_id).select_for_update().get(pk=release.pk)
        require_signer(actor, release)  # again on the locked row: the owner may have changed
        if release.status not in SIGNABLE:
            raise ValidationError(
                {"status": f"{release.key} is {release.get_status_display().lower()}: "
                 "there is nothing to sign."}
            )  # fmt: skip
        assigned = (
            ReleaseReviewer.objects.for_org(org_id)
            .filter(release=release, reviewer_role=reviewer_role)
            .values_list("user_id", flat=True)
            .first()
        )
        if assigned is not None and assigned != actor.user.pk:
            raise PermissionDenied("Another reviewer is asked to sign for this role.")
        signed_other = (
            SignOff.objects.for_org(org_id)
            .filter(release=release, superseded=False, user=actor.user)
            .exclude(reviewer_role=reviewer_role)
            .exists()
        )
        if signed_other:
            raise PermissionDenied("You already signed for another role of this release.")
        gate = release_gate.evaluate(release)
        if seen_hash and seen_hash != gate.state_hash:
            raise ValidationError(
                {"seen_hash": "The evidence changed while you were reading: look again, then "
                 "sign."}
            )  # fmt: skip
        open_items = [b for b in gate.blockers if b.kind == "item"]
        if decision != Decision.REJECT and open_items:
            count = len(open_items)
            are = "items are" if count > 1 else "item is"
            raise ValidationError(
                {"decision": f"The checklist is not ready: {count} {are} "
                 f"blocked or short of evidence ({open_items[0].message}). An approval signs a "
                 "ready checklist: approve once the product owner resolves or waives them, or "
                 "reject now with your reasons."}
            )  # fmt: skip
        SignOff.objects.for_org(org_id).filter(
            release=release, reviewer_role=reviewer_role, superseded=False
        ).update(superseded=True)
        signed = SignOff.objects.create(
            organization_id=org_id,
            release=release,
            reviewer_role=reviewer_role,
            user=actor.user,
            user_label=actor.label[:254],
            decision=decision,
            comment=comment,
            state_hash=gate.state_hash,
        )
        before = release.status
        release.status = status_from(release_gate.evaluate(release))
        if release.status != before:
            release.decided_at = timezone.now()
            release.save(update_fields=["status", "decided_at", "updated_at"])
        audit_record(
            actor=actor,
            action="release.signed_off",
            obj=signed,
            after={
                "release": release.key,
                "role": reviewer_role,
                "decision": decision,
                "comment": comment,
                "state_hash": gate.state_hash,
                "release_status": release.status,
            },
        )
    return signed


def status_resync(release: Release) -> str:
    """After the evidence changed through governance (an item, a waiver, the bundle): an
    approved release whose sign-offs went stale is back in review. Inside the caller's
    transaction; returns the status."""
    if release.status not in (ReleaseStatus.APPROVED, ReleaseStatus.APPROVED_WITH_CONDITIONS):
        return release.status
    status = status_from(release_gate.evaluate(release))
    if status != release.status:
        Release.objects.for_org(release.organization_id).filter(pk=release.pk).update(
            status=status, updated_at=timezone.now()
        )
        release.status = status
    return status
