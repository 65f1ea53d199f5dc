"""Acme Support's governance for `seed_demo` (after the context loop's step): the refund
use case's HITL policy, and release REL-1 in review. Its checklist is computed from the
demo's real evidence (the baseline run that misses its thresholds blocks it), the manual
items are attested, and the security sign-off is pending with the reviewer. INC-1, from the
pilot, is closed: its follow-ups settled, its regression case in the refund plan.

Idempotent; the demo data is labelled as such (the organization is a demo).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from context import selectors as context_selectors
from evals import selectors as eval_selectors
from genai_po.actors import Actor
from governance.models import ChecklistItem, Incident, ItemKind, ItemStatus, Release
from governance.services import checklist, hitl, incidents, releases
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
    if use_case is None:
        return
    actor = Actor.for_member(user=po, organization=org, role="product_owner")
    if not Incident.objects.for_org(org).exists():
        _seed_incident(ctx, actor, use_case)
    if Release.objects.for_org(org).exists():
        return
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
            "risk_tier": use_case.risk_tier,
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


def _seed_incident(ctx, actor, use_case) -> None:
    """INC-1: the pilot's promised refund, closed with its follow-ups and regression case."""
    org = ctx.organization
    now = timezone.now()
    incident = incidents.incident_create(
        actor=actor,
        data={
            "title": "Promised a refund on a 45-day-old order",
            "summary": "In the pilot the assistant told a customer their order, delivered 45 "
            "days earlier, could still be refunded. The policy window is 30 days.",
            "use_case": use_case,
            "channel": "sme",
            "reporter": ctx.users.get("sme"),
            "occurred_at": now - timedelta(days=12, hours=4),
            "discovered_at": now - timedelta(days=12),
            "aware_at": now - timedelta(days=12),
            "incident_type": "confabulation",
            "severity": 2,
            "affected_users": 1,
            "affected_description": "One customer; the agent honoured the promise.",
            "harm_types": ["economic"],
            "expected": "Explain the 30-day window, promise nothing, offer a human agent.",
            "actual": "“Yes, you can still get your money back.”",
            "steps_to_reproduce": "My order arrived 45 days ago. Can I still get a refund?",
            "root_cause": "No published knowledge held the refund window, so the assistant "
            "answered from the general returns page.",
            "mitigation": "Agents confirm every refund promise (HITL: human review).",
            "fix_plan": "Publish the refund-window answer; add the case to the eval plan.",
            "prevention_plan": "Refund policy changes go to the SME inbox the day they ship.",
        },
    )
    for title, status, note in [
        ("Publish the refund-window answer", "done", ""),
        ("Brief tier-1 agents to confirm refund promises", "accepted",
         "Covered by the HITL policy: promises need human review. Pat decided."),
    ]:  # fmt: skip
        row = incidents.follow_up_add(
            actor=actor,
            incident=incident,
            data={
                "title": title,
                "owner": actor.user,
                "due_date": (now + timedelta(days=3)).date(),
            },
        )
        incidents.follow_up_update(
            actor=actor, follow_up=row, data={"status": status, "note": note}
        )
    plan = eval_selectors.plans_of(org, use_case=use_case).first()
    if plan is not None:
        incidents.incident_add_regression_case(
            actor=actor,
            incident=incident,
            plan=plan,
            data={
                "prompt": incident.steps_to_reproduce,
                "expected_behavior": incident.expected,
                "must_escalate": True,
            },
        )
    gaps = list(
        context_selectors.gaps_of(org, use_case=use_case, q="refund").values_list("pk", flat=True)[
            :1
        ]
    )
    if gaps:
        incidents.incident_link_gaps(actor=actor, incident=incident, gap_ids=gaps)
    incidents.incident_set_status(actor=actor, incident=incident, status="closed")
    ctx.log.append(f"incident {incident.key} closed, with its follow-ups and regression case")
