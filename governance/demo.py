"""Acme Support's governance for `seed_demo` (after the context loop's step): the refund
use case's HITL policy, and release REL-1 in review. Its checklist is computed from the
demo's real evidence (the baseline run that misses its thresholds blocks it), the manual
items are attested, and the security sign-off is pending with the reviewer.

Idempotent; the demo data is labelled as such (the organization is a demo).
"""

from __future__ import annotations

from genai_po.actors import Actor
from governance.models import ChecklistItem, ItemKind, ItemStatus, Release
from governance.services import checklist, hitl, releases
from usecases.demo import REFUND
from usecases.models import UseCase

POLICY = [
    {"name": "Answer a refund question", "description": "From published knowledge, citing it",
     "reversibility": "reversible", "risk": "low", "autonomy": "autonomous",
     "reason": "Read-only; every answer cites its KB item."},
    {"name": "Promise a refund", "description": "Tell the customer money will come back",
     "reversibility": "costly", "risk": "high", "autonomy": "human_review",
     "reason": "A promise binds Acme: an agent confirms it first."},
    {"name": "Issue a refund", "description": "Send money back to the card",
     "reversibility": "irreversible", "risk": "high", "autonomy": "forbidden",
     "reason": "Refunds go through the payments team, never the assistant."},
    {"name": "Escalate to a human agent", "description": "Hand the conversation over",
     "reversibility": "reversible", "risk": "low", "autonomy": "autonomous",
     "reason": "Always allowed when unsure."},
]  # fmt: skip

ATTESTED = {
    "risk_review": "Limited risk: customers are told they talk to an assistant; no decision "
    "about them is automated.",
    "monitoring": "Alerts on escalation rate and errors; on call: the support tooling team.",
    "fallback_rollback": "Rollback to the canned-answer macro tested on 2 Dec.",
    "support_readiness": "Tier-1 leads briefed; escalation path in the support wiki.",
    "training_readiness": "Agents trained in the weekly session; the disclosure is live.",
    "hitl_configured": "The runtime reads the HITL policy from the API; stop tested.",
    "sme_sample": "Sara reviewed 20 sampled answers.",
    "documentation": "Intended purpose and out-of-scope uses are in the PRD.",
}


def seed_governance(ctx) -> None:
    org = ctx.organization
    po, reviewer = ctx.users.get("product_owner"), ctx.users.get("reviewer")
    if org is None or po is None or reviewer is None:
        return
    use_case = UseCase.objects.for_org(org).filter(title=REFUND).first()
    if use_case is None or Release.objects.for_org(org).exists():
        return
    actor = Actor.for_member(user=po, organization=org, role="product_owner")
    if hitl.current_policy(use_case) is None:
        hitl.policy_save(actor=actor, use_case=use_case, actions=POLICY, note="First version")
    release = releases.release_create(
        actor=actor,
        use_case=use_case,
        data={
            "name": "v1.0, the first release to tier-1 agents",
            "model": "acme-reference-agent",
            "prompt_version": "refund-answers@3",
            "config_hash": "sha256:9f2c4e1a7b30d5c8e6f4a2b19d7e3c05",
            "change_type": "new",
            "risk_tier": "minimal",
            "reviewer_roles": ["security", "business_owner", "sme_lead"],
            "notes": "Shadow mode for two weeks, then the champion group of 12 agents.",
        },
    )
    for item in ChecklistItem.objects.for_org(org).filter(release=release, kind=ItemKind.MANUAL):
        checklist.item_update(
            actor=actor,
            item=item,
            status=ItemStatus.MET,
            attestation=ATTESTED.get(item.key, "Checked."),
            evidence_url="https://support.acme.example/wiki/launch/refund-assistant",
        )
    releases.release_assign_reviewer(
        actor=actor, release=release, reviewer_role="security", user=reviewer
    )
    releases.release_submit(actor=actor, release=release)
    ctx.log.append(f"release {release.key} in review, its gate computed from the demo's evidence")
