"""A release's gate, computed live: every checklist item's state, the sign-offs (fresh or
stale), the hash of the checklist state, and the verdict with its blockers.

The verdict is "blocked" when anything is blocked (an item, a missing, stale or rejecting
sign-off, the release's own status), else "insufficient_evidence" when an automatic item
lacks evidence, else "ready". The same object feeds the checklist page, the reviewer's
page, the CI gate API and the rollout rule. A fixed number of queries per release.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils import timezone

from governance.checks import BLOCKED, INSUFFICIENT, MET, CheckResult, Evidence, run_check
from governance.models import (
    SIGN_OFFS_REQUIRED,
    ChecklistItem,
    Decision,
    ItemKind,
    ItemStatus,
    Release,
    ReleaseReviewer,
    ReleaseStatus,
    ReviewerRole,
    SignOff,
    Waiver,
    WaiverStatus,
)
from usecases.models import RiskTier

READY = "ready"
WAIVED, NOT_APPLICABLE = "waived", "not_applicable"
ITEM_STATE_LABELS = {
    MET: "Met",
    BLOCKED: "Blocked",
    INSUFFICIENT: "Insufficient evidence",
    WAIVED: "Waived",
    NOT_APPLICABLE: "Not applicable",
}
VERDICT_LABELS = {
    READY: "Ready",
    BLOCKED: "Blocked",
    INSUFFICIENT: "Insufficient evidence",
}


@dataclass
class ItemState:
    item: ChecklistItem
    state: str
    detail: str
    url: str = ""
    waiver: Waiver | None = None  # the waiver that counts now
    pending_waiver: Waiver | None = None
    facts: tuple = ()

    @property
    def label(self) -> str:
        return ITEM_STATE_LABELS[self.state]

    @property
    def counts(self) -> bool:
        """Met for the gate: met, waived, or not applicable."""
        return self.state in (MET, WAIVED, NOT_APPLICABLE)


@dataclass
class RoleState:
    role: str
    assignee: object | None  # User or None (any reviewer)
    sign_off: SignOff | None
    stale: bool

    @property
    def label(self) -> str:
        return ReviewerRole(self.role).label

    @property
    def state(self) -> str:
        if self.sign_off is None:
            return "pending"
        if self.stale:
            return "stale"
        return self.sign_off.decision


@dataclass(frozen=True)
class Blocker:
    kind: str  # "release" | "item" | "sign_off"
    state: str  # BLOCKED | INSUFFICIENT
    message: str
    url: str
    awaiting_sign_offs: bool = False  # fewer fresh approvals than the risk tier needs

    def as_dict(self, base_url: str = "") -> dict:
        return {
            "kind": self.kind,
            "state": self.state,
            "message": self.message,
            "url": f"{base_url}{self.url}" if self.url else "",
        }


@dataclass
class Gate:
    release: Release
    items: list[ItemState]
    roles: list[RoleState]
    state_hash: str
    required: int
    approvals: int
    blockers: list[Blocker] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """Blocked by a failing item or a rejection first; then short of evidence; then
        waiting for sign-offs (which never hide evidence that is missing)."""
        states = {b.state for b in self.blockers if not b.awaiting_sign_offs}
        if BLOCKED in states:
            return BLOCKED
        if INSUFFICIENT in states:
            return INSUFFICIENT
        return BLOCKED if self.blockers else READY

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def ready(self) -> bool:
        return self.verdict == READY

    @property
    def items_ready(self) -> bool:
        return all(item.counts for item in self.items)

    def role(self, key: str) -> RoleState | None:
        return next((r for r in self.roles if r.role == key), None)


def _release_url(release: Release) -> str:
    return reverse("release_detail", args=[release.organization.slug, release.number])


def _manual_state(item: ChecklistItem) -> tuple[str, str]:
    if item.status == ItemStatus.MET:
        who = item.attested_by.display_name if item.attested_by else item.attested_by_label
        by = f" by {who}" if who else ""
        when = f" on {timezone.localtime(item.attested_at):%d %b %Y}" if item.attested_at else ""
        return MET, f"Attested{by}{when}: {item.attestation[:200]}"
    if item.status == ItemStatus.NOT_APPLICABLE:
        return NOT_APPLICABLE, f"Not applicable: {item.attestation[:200]}"
    if item.status == ItemStatus.NOT_MET:
        note = f": {item.attestation[:200]}" if item.attestation else "."
        return BLOCKED, f"Marked not met{note}"
    label = ItemStatus(item.status).label.lower()
    return BLOCKED, f"{label.capitalize()}: attach evidence and attest it."


def state_hash_of(release: Release, items: list[ItemState]) -> str:
    """SHA-256 of what a reviewer signs: the bundle, and each item's state and facts."""
    state = {
        "bundle": {
            "model": release.model,
            "prompt_version": release.prompt_version,
            "knowledge": release.knowledge_snapshot,
            "config_hash": release.config_hash,
            "eval_run": release.eval_run_id,
            "hitl_policy": release.hitl_policy_id,
            "change_type": release.change_type,
            "risk_tier": release.risk_tier,
            "environment": release.environment,
        },
        "items": [
            [
                s.item.key,
                s.state,
                list(s.facts),
                s.item.evidence_url,
                s.item.evidence_file_id,
                s.item.attestation,
                s.waiver.pk if s.waiver else None,
            ]
            for s in items
        ],
    }
    body = json.dumps(state, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def item_states(release: Release, *, now=None) -> list[ItemState]:
    """Every item of the checklist with its live state (automatic ones computed)."""
    now = now or timezone.now()
    org_id = release.organization_id
    items = list(
        ChecklistItem.objects.for_org(org_id)
        .filter(release=release)
        .select_related("evidence_file", "attested_by")
        .defer("evidence_file__data")
        .order_by("position", "pk")
    )
    waivers: dict[int, list[Waiver]] = {}
    for waiver in (
        Waiver.objects.for_org(org_id)
        .filter(item__release=release, status__in=(WaiverStatus.PENDING, WaiverStatus.APPROVED))
        .order_by("-requested_at", "-pk")
    ):
        waivers.setdefault(waiver.item_id, []).append(waiver)
    evidence = Evidence(release, now=now)
    states = []
    for item in items:
        if item.kind == ItemKind.AUTOMATIC:
            result: CheckResult = run_check(item.check_key, evidence)
            state, detail, url, facts = result.state, result.detail, result.url, result.facts
        else:
            state, detail = _manual_state(item)
            url, facts = "", ()
        active = next(
            (
                w
                for w in waivers.get(item.pk, [])
                if w.status == WaiverStatus.APPROVED and w.expires_at > now
            ),
            None,
        )
        pending = next(
            (w for w in waivers.get(item.pk, []) if w.status == WaiverStatus.PENDING), None
        )
        if active is not None and state in (BLOCKED, INSUFFICIENT):
            detail = (
                f"Waived until {timezone.localtime(active.expires_at):%Y-%m-%d %H:%M} "
                f"({active.justification[:150]}). Without the waiver: {detail}"
            )
            state = WAIVED
        states.append(ItemState(item, state, detail, url, active, pending, facts))
    return states


def evaluate(release: Release, *, now=None) -> Gate:
    """The release's gate, now."""
    now = now or timezone.now()
    org_id = release.organization_id
    items = item_states(release, now=now)
    digest = state_hash_of(release, items)
    assignees = {
        r.reviewer_role: r.user
        for r in ReleaseReviewer.objects.for_org(org_id)
        .filter(release=release)
        .select_related("user")
    }
    # Separation of duties, live: a sign-off by whoever owns the release now never counts.
    signed = SignOff.objects.for_org(org_id).filter(release=release, superseded=False)
    if release.owner_id is not None:
        signed = signed.exclude(user_id=release.owner_id)
    current = {s.reviewer_role: s for s in signed.order_by("created_at", "pk")}
    roles = [
        RoleState(
            role,
            assignees.get(role),
            current.get(role),
            bool(current.get(role)) and current[role].state_hash != digest,
        )
        for role in release.reviewer_roles
        if role in ReviewerRole.values
    ]
    # The use case's tier is the floor, even if it was raised after the release was made.
    tiers = [RiskTier.MINIMAL, RiskTier.LIMITED, RiskTier.HIGH, RiskTier.UNACCEPTABLE]
    use_case_tier = release.use_case.risk_tier or RiskTier.MINIMAL
    tier = max(release.risk_tier, use_case_tier, key=tiers.index)
    required = SIGN_OFFS_REQUIRED.get(tier, SIGN_OFFS_REQUIRED[RiskTier.HIGH])
    approvers = {
        r.sign_off.user_id
        for r in roles
        if r.sign_off is not None
        and not r.stale
        and r.sign_off.decision in (Decision.APPROVE, Decision.APPROVE_WITH_CONDITIONS)
    }
    gate = Gate(release, items, roles, digest, required, len(approvers))
    url = _release_url(release)
    blockers = gate.blockers
    if tier == RiskTier.UNACCEPTABLE:
        blockers.append(
            Blocker("release", BLOCKED, "An unacceptable-risk use case is never released.", url)
        )
    elif tier != release.risk_tier:
        edit_url = reverse("release_edit", args=[release.organization.slug, release.number])
        blockers.append(
            Blocker(
                "release",
                BLOCKED,
                f"{release.use_case.key} is now {RiskTier(tier).label.lower()} risk: raise "
                f"{release.key}'s tier to match (the gate already asks for {required} sign-offs).",
                edit_url,
            )
        )
    if release.status == ReleaseStatus.DRAFT:
        blockers.append(
            Blocker("release", BLOCKED, f"{release.key} is a draft: submit it for review.", url)
        )
    elif release.status == ReleaseStatus.ROLLED_BACK:
        new_release = reverse("release_create", args=[release.organization.slug])
        blockers.append(
            Blocker(
                "release",
                BLOCKED,
                f"{release.key} was rolled back: make a new release.",
                f"{new_release}?use_case={release.use_case.number}",
            )
        )
    for state in items:
        if not state.counts:
            blockers.append(
                Blocker(
                    "item",
                    state.state,
                    f"{state.item.text}: {state.detail}",
                    state.url or f"{url}#item-{state.item.key}",
                )
            )
    for role in roles:
        if (
            role.sign_off is not None
            and not role.stale
            and role.sign_off.decision == Decision.REJECT
        ):
            blockers.append(
                Blocker(
                    "sign_off",
                    BLOCKED,
                    f"{role.label}: rejected by {role.sign_off.user_label}"
                    f" ({role.sign_off.comment[:200]}).",
                    f"{url}#sign-offs",
                )
            )
    if gate.approvals < required:
        stale = [r.label for r in roles if r.stale]
        missing = required - gate.approvals
        label = RiskTier(tier).label.lower()
        detail = f"{gate.approvals} of {required} sign-offs required for a {label}-risk release"
        if stale:
            detail += f"; stale since the evidence changed: {', '.join(stale)} (renew)"
        blockers.append(
            Blocker(
                "sign_off",
                BLOCKED,
                f"{detail}; {missing} more needed.",
                f"{url}#sign-offs",
                awaiting_sign_offs=True,
            )
        )
    return gate
