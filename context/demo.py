"""Acme Support's context loop for `seed_demo`, in two steps.

1. `seed_knowledge_base` (before evals' step): the approved sources, Sara the SME with
   her expertise, and Acme's policy sections published as knowledge items (written by the
   SME, approved by the product owner, through the same services as in the app). The
   reference agent answers from these.
2. `seed_context` (after evals' baseline run): the four cases the agent fails for lack of
   knowledge are triaged as context gaps. One waits in the SME's inbox, one is in review,
   one is published and verified (its case ran again and passed), one is open.

Both are idempotent. The demo data is labelled as such: the organization is "Acme
Support", a demo.
"""

from __future__ import annotations

import socket
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from context import services
from context.demo_policies import ACME_POLICIES
from context.models import (
    ApprovalStatus,
    ContextGap,
    ContextSource,
    Freshness,
    KnowledgeItem,
    SmeProfile,
    SourceType,
)
from context.selectors import agent_items
from evals import engine
from evals.agent_knowledge import token_file
from evals.demo import PLAN_NAME, agent_port
from evals.models import EvalResult, EvalRun, ResultStatus
from evals.reference_agent import start_in_thread
from evals.reference_agent.retrieval import StaticRetriever
from evals.services import triage_set
from genai_po.actors import Actor
from genai_po.env import private_file_once
from genai_po.models import ApiToken
from genai_po.services import api_token_create, hash_token
from usecases.demo import REFUND
from usecases.models import UseCase

AGENT_TOKEN_NAME = "Reference agent (knowledge search)"  # noqa: S105 - a name, not a secret
SME_TAGS = ["refunds", "returns", "gift-cards", "pricing", "warranty", "shipping", "international"]

SOURCES = [
    # (name, type, location, sections of ACME_POLICIES it holds)
    (
        "Refund policy",
        SourceType.POLICY,
        "https://support.acme.example/policies/refunds",
        "Refund policy",
    ),
    (
        "Returns guide",
        SourceType.KB_ARTICLE,
        "https://support.acme.example/kb/returns",
        "Returns guide",
    ),
    (
        "Shipping guide",
        SourceType.KB_ARTICLE,
        "https://support.acme.example/kb/shipping",
        "Shipping guide",
    ),
    (
        "Account help",
        SourceType.KB_ARTICLE,
        "https://support.acme.example/kb/account",
        "Account help",
    ),
]
STALE_SOURCE = (
    "Warranty terms (2024 edition)",
    SourceType.DOCUMENT_REPOSITORY,
    "sharepoint://legal/warranty/2024.pdf",
)

# The gift-card answer the SME wrote: approved, published, and it fixes the failing case.
GIFT_CARDS = {
    "title": "Gift card refunds",
    "question": "Can I get a refund on a gift card I bought, gift card refund, unused gift card",
    "body": "Gift cards are refundable within 14 days if unused: the full value goes back to "
    "the original payment method. A gift card that was partly spent is not "
    "refundable.",
    "scope": "Gift cards bought from Acme directly, EU",
    "confidence": "high",
}
PRICE_MATCH = {
    "title": "Price drops after purchase",
    "question": "Do you price match if the item gets cheaper after I buy it, price drop",
    "body": "Price drops within 7 days are refunded as the difference, on request, for items "
    "sold by Acme. Marketplace sellers set their own rules.",
    "scope": "Items sold by Acme, EU",
    "confidence": "medium",
}


def _people(ctx):
    users = ctx.users
    return users.get("product_owner"), users.get("sme")


def _actor(org, user, role) -> Actor:
    return Actor.for_member(user=user, organization=org, role=role)


def seed_knowledge_base(ctx) -> None:
    org = ctx.organization
    po, sme = _people(ctx)
    if org is None or po is None or sme is None:
        return
    po_actor, sme_actor = _actor(org, po, "product_owner"), _actor(org, sme, "sme")
    use_case = UseCase.objects.for_org(org).filter(title=REFUND).first()
    if not SmeProfile.objects.for_org(org).filter(user=sme).exists():
        services.sme_profile_set(actor=sme_actor, user=sme, tags=SME_TAGS, backup=po)
    sources = {}
    for name, kind, location, _ in SOURCES:
        source = ContextSource.objects.for_org(org).filter(name=name).first()
        if source is None:
            source = services.source_create(
                actor=po_actor,
                data={
                    "name": name,
                    "source_type": kind,
                    "location": location,
                    "owner": po,
                    "steward": sme,
                    "review_every_days": 90,
                    "classification": "internal",
                },
                use_cases=[use_case] if use_case else [],
                smes=[sme],
            )
            source = services.source_set_approval(
                actor=po_actor, source=source, status=ApprovalStatus.APPROVED
            )
        sources[name] = source
    if not ContextSource.objects.for_org(org).filter(name=STALE_SOURCE[0]).exists():
        stale = services.source_create(
            actor=po_actor,
            data={
                "name": STALE_SOURCE[0],
                "source_type": STALE_SOURCE[1],
                "location": STALE_SOURCE[2],
                "owner": po,
                "steward": sme,
                "review_every_days": 180,
                "classification": "confidential",
            },
            use_cases=[use_case] if use_case else [],
            smes=[sme],
        )
        services.source_set_approval(actor=po_actor, source=stale, status=ApprovalStatus.APPROVED)
        # Demo history: last checked 200 days ago, so it shows as stale today.
        checked = timezone.now() - timedelta(days=200)
        ContextSource.objects.for_org(org).filter(pk=stale.pk).update(
            last_verified_at=checked,
            last_verified_by=sme,
            next_review_due=(checked + timedelta(days=180)).date(),
            freshness=Freshness.STALE,
        )
    if not KnowledgeItem.objects.for_org(org).exists():
        for policy in ACME_POLICIES:
            answer = services.answer_submit(
                actor=sme_actor,
                data={
                    "title": policy.title,
                    "question": ", ".join(policy.keywords),
                    "body": policy.text,
                    "scope": f"{policy.source} §{policy.section}",
                    "confidence": "high",
                },
                citations=[sources[policy.source]],
                use_cases=[use_case] if use_case else [],
            )
            services.answer_review(actor=po_actor, answer=answer, decision="approve")
        ctx.log.append(f"published {len(ACME_POLICIES)} knowledge items (Acme's policies)")
    _agent_token(org)


def _agent_token(org) -> None:
    """A knowledge:read token for `make run`'s reference agent, in a private file."""
    path = token_file()
    if path.exists():
        raw = path.read_text().strip()
        if (
            ApiToken.objects.for_org(org)
            .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
            .exists()
        ):
            return
        path.unlink()
    actor = Actor.system(organization=org, label="seed_demo")
    for stale in ApiToken.objects.for_org(org).filter(
        name=AGENT_TOKEN_NAME, revoked_at__isnull=True
    ):
        ApiToken.objects.for_org(org).filter(pk=stale.pk).update(revoked_at=timezone.now())
    _, raw = api_token_create(actor=actor, name=AGENT_TOKEN_NAME, scopes=["knowledge:read"])
    private_file_once(path, lambda: raw)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def seed_context(ctx) -> None:
    org = ctx.organization
    po, sme = _people(ctx)
    if org is None or po is None or sme is None:
        return
    if ContextGap.objects.for_org(org).exists():
        return
    baseline = (
        EvalRun.objects.for_org(org)
        .filter(plan__name=PLAN_NAME, is_baseline=True)
        .select_related("plan")
        .first()
    )
    if baseline is None:
        return
    po_actor, sme_actor = _actor(org, po, "product_owner"), _actor(org, sme, "sme")
    failed = list(
        EvalResult.objects.for_org(org)
        .filter(run=baseline)
        .exclude(status=ResultStatus.PASS)
        .select_related("case")
        .order_by("case_number")
    )
    gaps = {}
    for result in failed:
        triage = triage_set(
            actor=po_actor,
            run=baseline,
            case=result.case,
            category="context_gap",
            note="No published policy covers this.",
        )
        gaps[result.case.name] = ContextGap.objects.for_org(org).get(
            number=int(triage.follow_up_ref.removeprefix("GAP-"))
        )
    # The agent the re-check runs against answers from what is published at that moment
    # (read here: seed_demo is one transaction, which the agent's threads cannot see into).
    knowledge = StaticRetriever(agent_items(org.pk))
    server = None
    if not _listening(agent_port()):
        server = start_in_thread(port=agent_port(), knowledge=knowledge)[0]
    try:
        _loop_states(org, gaps, po_actor, sme_actor, sme, knowledge)
    finally:
        if server is not None:
            server.stop()
    ctx.log.append(
        f"triaged {len(gaps)} failed cases into context gaps: "
        + ", ".join(
            f"{g.key} {g.get_status_display().lower()}"
            for g in ContextGap.objects.for_org(org).order_by("number")
        )
    )


def _loop_states(org, gaps, po_actor, sme_actor, sme, knowledge) -> None:
    """Gift cards: published and verified. Price match: answered, in review. Warranty:
    in the SME's inbox. Shipping to Canada: open, not routed yet."""
    for name in ("Gift cards", "Price match", "Warranty claim"):
        if name in gaps:
            try:
                gaps[name] = services.gap_route(actor=po_actor, gap=gaps[name], assignee=sme)
            except ValidationError:
                continue
    if "Gift cards" in gaps:
        answer = services.answer_submit(actor=sme_actor, gap=gaps["Gift cards"], data=GIFT_CARDS)
        services.answer_review(
            actor=po_actor,
            answer=answer,
            decision="approve",
            comment="Matches the gift card terms.",
        )
        knowledge.items = tuple(agent_items(org.pk))
        _settle(org, gaps["Gift cards"])
    if "Price match" in gaps:
        services.answer_submit(actor=sme_actor, gap=gaps["Price match"], data=PRICE_MATCH)


def _settle(org, gap) -> None:
    """Run the published gap's re-check now, in this process (the worker would do it; here
    the demo must show the outcome as soon as seed_demo ends)."""
    gap.refresh_from_db()
    version_id = gap.knowledge.current_id if gap.knowledge else None
    verification = services.gap_verify_start(gap_id=gap.pk, version_id=version_id)
    if verification is None or verification.run_id is None:
        return
    engine.drive(verification.run_id)
    services.verification_settle(verification_id=verification.pk)
