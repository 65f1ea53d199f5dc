"""Manual checklist items (evidence and attestation) and waivers. Automatic items are
computed from evidence (`governance.checks`) and refuse every hand-made change."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action
from governance.models import (
    ChecklistItem,
    EvidenceFile,
    ItemKind,
    ItemStatus,
    ReleaseStatus,
    Waiver,
    WaiverStatus,
)

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
MAX_WAIVER_DAYS = 365
CLOSED = (ReleaseStatus.RELEASED, ReleaseStatus.ROLLED_BACK)


def _require_open(item: ChecklistItem) -> None:
    if item.release.status in CLOSED:
        raise ValidationError(
            {"status": f"{item.release.key} is {item.release.get_status_display().lower()}: "
             "its checklist is closed."}
        )  # fmt: skip


def _resync(release) -> None:
    """An approval whose sign-offs this change made stale is back in review."""
    from governance.services.signoffs import status_resync

    status_resync(release)


def _require_manual(item: ChecklistItem) -> None:
    if item.kind == ItemKind.AUTOMATIC:
        raise ValidationError(
            {"status": "This item is computed from evidence and never ticked by hand. "
             "Fix what it reports, or ask for a waiver."}
        )  # fmt: skip


def evidence_store(*, actor: Actor, organization_id: int, name: str, content_type: str,
                   data: bytes) -> EvidenceFile:  # fmt: skip
    """Keep a file under its SHA-256 (the same file twice is one row)."""
    if not data:
        raise ValidationError({"evidence_file": "The file is empty."})
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ValidationError({"evidence_file": "Attach a file of at most 10 MB."})
    digest = hashlib.sha256(data).hexdigest()
    found = EvidenceFile.objects.for_org(organization_id).filter(sha256=digest).first()
    if found is not None:
        return found
    name = (name or "evidence").replace("\x00", "")[-200:]
    EvidenceFile.objects.bulk_create(
        [
            EvidenceFile(
                organization_id=organization_id,
                sha256=digest,
                name=name,
                content_type=(content_type or "application/octet-stream")[:100],
                size=len(data),
                data=data,
                uploaded_by_label=actor.label[:254],
            )
        ],
        ignore_conflicts=True,
    )
    return EvidenceFile.objects.for_org(organization_id).defer("data").get(sha256=digest)


def item_update(
    *,
    actor: Actor,
    item: ChecklistItem,
    status: str,
    attestation: str = "",
    evidence_url: str | None = None,
    evidence_file: EvidenceFile | None = None,
) -> ChecklistItem:
    """A manual item's status, evidence and attestation. Met needs evidence (a link or a
    file) and an attestation; not applicable needs the reason."""
    actor.require(Action.EDIT_PRODUCT)
    _require_manual(item)
    _require_open(item)
    errors: dict[str, str] = {}
    if status not in ItemStatus.values:
        errors["status"] = "Choose a status."
    attestation = (attestation or "").strip()
    if error := inputs.check_text(ChecklistItem, "attestation", attestation):
        errors["attestation"] = error
    url = item.evidence_url if evidence_url is None else evidence_url.strip()
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            errors["evidence_url"] = "Give an http(s) link."
        if len(url) > 1000:
            errors["evidence_url"] = "Keep the link under 1,000 characters."
    file_id = evidence_file.pk if evidence_file is not None else item.evidence_file_id
    if status == ItemStatus.MET:
        if not url and not file_id:
            errors["evidence_url"] = "Attach the evidence: a link or a file."
        if not attestation:
            errors["attestation"] = "Attest it: say what was checked, by whom."
    if status == ItemStatus.NOT_APPLICABLE and not attestation:
        errors["attestation"] = "Say why this item does not apply."
    if errors:
        raise ValidationError(errors)
    before = {
        "status": item.status,
        "evidence_url": item.evidence_url,
        "evidence_file": item.evidence_file_id,
        "attestation": item.attestation,
    }
    with transaction.atomic():
        item.status = status
        item.evidence_url = url
        item.evidence_file_id = file_id
        item.attestation = attestation
        if status in (ItemStatus.MET, ItemStatus.NOT_APPLICABLE):
            item.attested_by = actor.user
            item.attested_by_label = actor.label[:254]
            item.attested_at = timezone.now()
        item.save()
        audit_record(
            actor=actor,
            action="checklist_item.updated",
            obj=item,
            before=before,
            after={
                "release": item.release.key,
                "item": item.key,
                "status": item.status,
                "evidence_url": item.evidence_url,
                "evidence_file": item.evidence_file_id,
                "attestation": item.attestation,
            },
        )
        _resync(item.release)
    return item


def waiver_request(*, actor: Actor, item: ChecklistItem, justification: str, expires_at) -> Waiver:
    """Ask for an item to count as met until `expires_at` (another person approves)."""
    actor.require(Action.EDIT_PRODUCT)
    _require_open(item)
    if actor.user is None:
        raise PermissionDenied("A waiver is asked for by a person.")
    justification = (justification or "").strip()
    errors = {}
    if not justification:
        errors["justification"] = "Justify the waiver: why it is safe to go on without it."
    elif error := inputs.check_text(Waiver, "justification", justification):
        errors["justification"] = error
    now = timezone.now()
    if expires_at is None or expires_at <= now:
        errors["expires_at"] = "Give an expiry in the future."
    elif expires_at > now + timedelta(days=MAX_WAIVER_DAYS):
        errors["expires_at"] = f"A waiver lasts at most {MAX_WAIVER_DAYS} days."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        ChecklistItem.objects.for_org(item.organization_id).select_for_update().get(pk=item.pk)
        if (
            Waiver.objects.for_org(item.organization_id)
            .filter(item=item, status=WaiverStatus.PENDING)
            .exists()
        ):
            raise ValidationError({"justification": "A waiver of this item awaits approval."})
        waiver = Waiver.objects.create(
            organization_id=item.organization_id,
            item=item,
            justification=justification,
            expires_at=expires_at,
            requested_by=actor.user,
            requested_by_label=actor.label[:254],
        )
        audit_record(
            actor=actor,
            action="waiver.requested",
            obj=waiver,
            after={
                "release": item.release.key,
                "item": item.key,
                "justification": justification,
                "expires_at": expires_at.isoformat(),
            },
        )
    return waiver


def waiver_decide(*, actor: Actor, waiver: Waiver, approve: bool) -> Waiver:
    """Approve or reject a pending waiver: a person who signs off, not who asked."""
    if actor.user is None:
        raise PermissionDenied("A waiver is approved by a person: API tokens cannot.")
    if waiver.requested_by_id == actor.user.pk:
        raise PermissionDenied("Someone other than the requester approves a waiver.")
    actor.require(Action.SIGN_OFF)
    with transaction.atomic():
        waiver = (
            Waiver.objects.for_org(waiver.organization_id).select_for_update().get(pk=waiver.pk)
        )
        if waiver.item.release.owner_id == actor.user.pk:
            raise PermissionDenied(
                "The release owner does not decide waivers of their own release."
            )
        if waiver.status != WaiverStatus.PENDING:
            raise ValidationError(
                {"status": f"This waiver is already {waiver.get_status_display().lower()}."}
            )
        _require_open(waiver.item)
        if approve and waiver.expires_at <= timezone.now():
            raise ValidationError({"status": "This waiver has expired: ask for a new one."})
        waiver.status = WaiverStatus.APPROVED if approve else WaiverStatus.REJECTED
        waiver.decided_by = actor.user
        waiver.decided_by_label = actor.label[:254]
        waiver.decided_at = timezone.now()
        waiver.save()
        audit_record(
            actor=actor,
            action="waiver.approved" if approve else "waiver.rejected",
            obj=waiver,
            before={"status": WaiverStatus.PENDING},
            after={"status": waiver.status, "item": waiver.item.key},
        )
        _resync(waiver.item.release)
    return waiver


def waiver_revoke(*, actor: Actor, waiver: Waiver) -> Waiver:
    actor.require(Action.EDIT_PRODUCT)
    with transaction.atomic():
        waiver = (
            Waiver.objects.for_org(waiver.organization_id).select_for_update().get(pk=waiver.pk)
        )
        if waiver.status not in (WaiverStatus.PENDING, WaiverStatus.APPROVED):
            raise ValidationError({"status": "This waiver no longer counts."})
        before = waiver.status
        waiver.status = WaiverStatus.REVOKED
        waiver.save()
        audit_record(
            actor=actor, action="waiver.revoked", obj=waiver, before={"status": before},
            after={"status": waiver.status},
        )  # fmt: skip
        _resync(waiver.item.release)
    return waiver
