"""Acme Support's use cases for `seed_demo`: three briefs at different stages, one
with a full PRD and requirements. Idempotent: existing titles are left alone."""

from datetime import timedelta

from django.utils import timezone

from genai_po.actors import Actor
from usecases import services
from usecases.models import UseCase

REFUND = "Refund policy answers for tier-1 agents"

BRIEFS = [
    {
        "title": REFUND,
        "problem": "Agents search three wikis for refund rules; customers wait and answers vary.",
        "workflow": "Tier-1 agents answer refund and return questions in the help desk.",
        "target_users": "Tier-1 support agents", "user_count": 120, "department": "Support",
        "value_hypothesis": "A drafted answer with the policy cited cuts handling time and "
                            "inconsistent refunds.",
        "metric_name": "Average handling time of refund tickets", "metric_unit": "minutes",
        "metric_baseline": "11.5", "metric_target": "7", "risk_tier": "limited",
        "human_involvement": "user_decides", "status": "active",
        "_owner": "po", "_scores": {"volume": 5, "owner": 4, "observable": 4, "risk": 4,
                                    "context": 3, "reuse": 4},
        # The evals seeder moves it to evaluate once its eval plan exists.
        "_stages": [("prototype", "")],
    },
    {
        "title": "Escalation summaries for tier-2",
        "problem": "Tier-2 engineers reread whole ticket threads before they can act.",
        "workflow": "Escalation from tier-1 to tier-2 support.",
        "target_users": "Tier-2 support engineers", "user_count": 25, "department": "Support",
        "value_hypothesis": "A summary with the customer's goal and what was tried saves "
                            "the first 10 minutes of every escalation.",
        "metric_name": "Time to first tier-2 action", "metric_unit": "minutes",
        "metric_baseline": "42", "metric_target": "25", "risk_tier": "minimal",
        "human_involvement": "user_decides", "status": "active",
        "_owner": "engineer", "_scores": {"volume": 3, "owner": 4, "observable": 3, "risk": 5,
                                          "context": 4, "reuse": 3},
        "_stages": [("prototype", "")],
    },
    {
        "title": "Proactive outage notices to customers",
        "problem": "During outages customers open thousands of duplicate tickets.",
        "workflow": "Incident communication to affected customers.",
        "target_users": "Customers of affected regions", "department": "Support operations",
        "risk_tier": "high", "human_involvement": "review_each", "status": "proposed",
        "_owner": "admin", "_scores": {"volume": 4, "risk": 2, "reuse": 2},
        "_stages": [],
    },
]  # fmt: skip

PRD_SECTIONS = {
    "user_problem": "Refund rules live in three wikis; agents answer inconsistently.",
    "workflow": "The agent opens a refund ticket; the assistant drafts an answer citing the "
    "policy; the agent edits and sends it.",
    "user_goal": "Send a correct, policy-backed refund answer in under 7 minutes.",
    "allowed_tools": "Knowledge search over approved refund policy pages; order lookup (read).",
    "required_sources": "Refund policy v7 (approved); regional exceptions table.",
    "tone_constraints": "Plain, friendly, no legal jargon; never promise what policy forbids.",
    "forbidden_actions": "Issuing refunds; changing orders; quoting internal margins.",
    "handoff_rules": "Hand off to a human when the order is over 500 EUR, the customer "
    "mentions a chargeback, or no policy section applies.",
    "confidence_thresholds": "Draft only when retrieval confidence >= 0.7; otherwise say "
    "what is missing.",
    "good_examples": "'Per Refund policy §3.2, unopened items can be returned within 30 days…'",
    "bad_examples": "'Sure, I've refunded you' (the assistant cannot refund).",
}
REQUIREMENTS = [
    ("Every answer cites the refund policy section it relies on.", "behavior", True, "eval"),
    ("Never states that a refund was issued.", "forbidden", True, "eval"),
    ("Hands off to a human for orders over 500 EUR or chargeback mentions.", "handoff", True,
     "eval"),
    ("Uses a plain, friendly tone without legal jargon.", "tone", False, "human_review"),
    ("Looks up the order before answering questions about a specific order.", "tool_use",
     False, "monitor"),
]  # fmt: skip


def seed_use_cases(ctx) -> None:
    org = ctx.organization
    actor = Actor.system(organization=org, label="seed_demo")
    existing = set(UseCase.objects.for_org(org).values_list("title", flat=True))
    for brief in BRIEFS:
        if brief["title"] in existing:
            continue
        data = {k: v for k, v in brief.items() if not k.startswith("_")}
        data["owner"] = ctx.users[brief["_owner"] if brief["_owner"] != "po" else "product_owner"]
        use_case = services.use_case_create(actor=actor, data=data)
        services.use_case_score(actor=actor, use_case=use_case, scores=brief["_scores"])
        if brief["title"] == REFUND:
            _seed_prd(actor, use_case, ctx)
        for stage, reason in brief["_stages"]:
            services.use_case_move_stage(actor=actor, use_case=use_case, to_stage=stage,
                                         override_reason=reason)  # fmt: skip
        ctx.log.append(f"created {use_case.key} {use_case.title}")
    seed_backlog_items(ctx)


BACKLOG_ITEMS = [
    # (use case title, title, description, value, effort, due in days, owner)
    (REFUND, "Show the policy section next to each drafted answer",
     "Agents asked to see the cited section without opening the policy.", 4, 2, 10,
     "product_owner"),
    (REFUND, "Refund answers in French for the Québec team",
     "30 agents answer in French; the PRD has no language requirement yet.", 3, 4, None,
     "product_owner"),
    (None, "One glossary of support terms for every use case",
     "Shared context that the refund and escalation use cases both need.", 2, 3, None, None),
]  # fmt: skip


def seed_backlog_items(ctx) -> None:
    """A few feature items of the product owner's own, beside what the other areas raise."""
    from usecases import backlog_services
    from usecases.models import BacklogItem

    org = ctx.organization
    actor = Actor.system(organization=org, label="seed_demo")
    existing = set(BacklogItem.objects.for_org(org).values_list("title", flat=True))
    use_cases = {uc.title: uc for uc in UseCase.objects.for_org(org)}
    for uc_title, title, description, value, effort, due, owner in BACKLOG_ITEMS:
        if title in existing:
            continue
        item = backlog_services.backlog_item_create(actor=actor, data={
            "title": title, "description": description, "value": value, "effort": effort,
            "use_case": use_cases.get(uc_title), "owner": ctx.users.get(owner) if owner else None,
            "due_on": timezone.localdate() + timedelta(days=due) if due else None,
        })  # fmt: skip
        ctx.log.append(f"created {item.key} {item.title}")


def _seed_prd(actor, use_case, ctx) -> None:
    services.prd_save(actor=actor, use_case=use_case, sections=PRD_SECTIONS,
                      summary="First draft with the support team")  # fmt: skip
    po, sme = ctx.users["product_owner"], ctx.users["sme"]
    for i, (statement, kind, blocking, method) in enumerate(REQUIREMENTS):
        requirement = services.requirement_add(
            actor=actor, use_case=use_case,
            data={"statement": statement, "type": kind, "launch_blocking": blocking,
                  "verification_method": method, "status": "agreed",
                  "owner": po if i != 2 else None},
        )  # fmt: skip
        if i in (0, 3):
            services.verification_add(
                actor=actor, requirement=requirement, kind="human_review",
                name="Weekly review of 20 sampled answers", owner=sme,
            )  # fmt: skip
