"""Acme Support's eval plan for `seed_demo`: twenty refund-desk cases run against the
reference agent (a deterministic support agent, not a model), one completed run marked
as the baseline. A few cases fail because the agent's knowledge has no answer: they
are what the context loop is for. Idempotent: an existing plan is left alone.

The agent answers from the organization's published knowledge (seeded by the context
area's step, which runs before this one)."""

from __future__ import annotations

import os
import socket

from evals import engine, selectors, services
from evals.agent_knowledge import published_knowledge
from evals.models import EgressSettings, EvalPlan, RunTrigger, Target
from evals.reference_agent import MODEL_ID, start_in_thread
from genai_po.actors import Actor
from usecases import services as usecase_services
from usecases.demo import REFUND
from usecases.models import Requirement, UseCase

PLAN_NAME = "Refund desk regression suite"
TARGET_NAME = "Acme reference agent"
SYSTEM_PROMPT = (
    "You are Acme Support's refund assistant for tier-1 agents. Answer from published "
    "policy and cite the section; hand off to a human when policy says so."
)
# Any item of the organization's knowledge base (KB-<n>) is an approved source to cite.
APPROVED_SOURCES = ["KB-*"]
FORBIDDEN = ["I have refunded", "refund has been issued", "I've refunded"]  # + the PRD's
CITE = {"type": "citation", "label": "cites an approved policy section"}

# (name, prompt, expected, tags, requirement numbers (by position), must_escalate, scorers)
CASES = [
    ("Refund timing", "How long does a refund take to reach my card?",
     "5 to 10 business days", ["refunds"], [0, 1], False, [CITE]),
    ("Unopened return", "Can I return an unopened blender for a full refund?",
     "within 30 days", ["refunds", "returns"], [0, 1], False,
     [CITE, {"type": "contains", "values": ["30 days"]}]),
    ("Opened item fee", "I opened the headphones, can I still return them? Is there a fee?",
     "15% restocking fee", ["refunds", "returns"], [0, 1], False,
     [CITE, {"type": "contains", "values": ["15%"]}]),
    ("Damaged on arrival", "My kettle arrived broken and damaged, what now?",
     "replacement or a full refund", ["refunds", "damage"], [0, 1], False, [CITE]),
    ("Subscription cancel", "How do I cancel my subscription and get a pro-rata refund?",
     "pro-rata refund", ["refunds", "subscriptions"], [0, 1], False, [CITE]),
    ("Digital download", "Can I get a refund on a digital download I already downloaded?",
     "not refundable once downloaded", ["refunds", "digital"], [0, 1], False, [CITE]),
    ("Start a return", "How do I start a return and get a label?",
     "returns portal", ["returns"], [0], False, [CITE]),
    ("Return shipping cost", "Do I have to pay return shipping costs?",
     "4.95 EUR", ["returns"], [0], False, [CITE]),
    ("Delivery time", "How long does standard delivery take?",
     "3 to 5 business days", ["shipping"], [0], False, [CITE]),
    ("Lost parcel", "My parcel is lost, tracking has not changed for a week",
     "open an investigation with the carrier", ["shipping"], [0], False, [CITE]),
    ("Change address", "Can I change the delivery address of my order?",
     "until the order ships", ["shipping"], [0], False, [CITE]),
    ("Password reset", "I forgot my password, how do I reset it?",
     "Forgot password", ["account"], [0], False, [CITE]),
    ("Chargeback threat", "I'll just do a chargeback with my bank if you don't refund me",
     "", ["refunds", "risk"], [2], True, []),
    ("Legal threat", "My lawyer will sue Acme over this refund",
     "", ["refunds", "risk"], [2], True, []),
    ("Large order", "I want a refund for my 1,200 EUR television order",
     "", ["refunds", "risk"], [2], True, []),
    ("Refund promise bait", "Just confirm you've refunded me already, yes or no?",
     "", ["refunds", "risk"], [1, 2], True, []),
    # No published policy covers these yet: the agent hands off, the case expects an answer.
    ("Gift cards", "Can I get a refund on a gift card I bought last week?",
     "Gift cards are refundable within 14 days if unused", ["refunds", "gift-cards"], [0],
     False, [CITE]),
    ("Price match", "Do you price match if the item gets cheaper after I buy it?",
     "Price drops within 7 days are refunded as the difference", ["refunds", "pricing"], [0],
     False, [CITE]),
    ("Warranty claim", "Is my coffee machine still under warranty after 18 months?",
     "Acme gives a 2-year warranty", ["warranty"], [0], False, [CITE]),
    ("Outside the EU", "Do you deliver to Canada and how much is it?",
     "We ship to Canada in 7 to 12 business days", ["shipping", "international"], [0], False,
     [CITE]),
]  # fmt: skip


def agent_port() -> int:
    return int(os.environ.get("GENAI_PO_AGENT_PORT", "8100"))


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def seed_evals(ctx) -> None:
    org = ctx.organization
    use_case = UseCase.objects.for_org(org).filter(title=REFUND).first()
    if use_case is None or EvalPlan.objects.for_org(org).filter(name=PLAN_NAME).exists():
        return
    actor = Actor.system(organization=org, label="seed_demo")
    # The demo's agent runs on this machine: the organization allow-lists loopback.
    EgressSettings.objects.for_org(org).update_or_create(
        organization=org, defaults={"allow_loopback": True}
    )
    target = Target.objects.for_org(org).filter(name=TARGET_NAME).first()
    if target is None:
        target = services.target_create(actor=actor, data={
            "name": TARGET_NAME, "kind": "openai_chat",
            "url": f"http://127.0.0.1:{agent_port()}/v1", "model": MODEL_ID,
            "system_prompt": SYSTEM_PROMPT, "temperature": 0, "timeout_s": 10,
            "concurrency": 8, "max_attempts": 3,
        })  # fmt: skip
    requirements = list(
        Requirement.objects.for_org(org).filter(use_case=use_case).order_by("position", "number")
    )
    keys = [r.key for r in requirements]
    handoff_key = keys[2] if len(keys) > 2 else None
    plan = services.plan_create(actor=actor, use_case=use_case, data={
        "name": PLAN_NAME,
        "description": "Refund, return, shipping and account questions tier-1 agents get "
                       "every day, plus the cases that must reach a human.",
        "target": target,
        "scorers": [{"type": "escalation"}, {"type": "not_contains",
                                             "label": "never claims a refund was issued"}],
        "forbidden_phrases": FORBIDDEN + selectors.prd_forbidden_phrases(use_case),
        "approved_sources": APPROVED_SOURCES,
        "pass_threshold": 85,
        "requirement_thresholds": {handoff_key: 100} if handoff_key else {},
        "tag_thresholds": {"risk": 100},
    })  # fmt: skip
    for name, prompt, expected, tags, reqs, escalate, scorers in CASES:
        services.case_add(actor=actor, plan=plan, data={
            "name": name, "prompt": prompt, "expected": expected, "tags": tags,
            "requirement_keys": [keys[i] for i in reqs if i < len(keys)],
            "must_escalate": escalate, "scorers": scorers,
        })  # fmt: skip
    plan.refresh_from_db()
    server = None
    if not _listening(agent_port()):
        # The agent answers from what the organization has published (the context area's
        # demo step publishes Acme's policies before this one).
        knowledge = published_knowledge(org.pk)
        server = start_in_thread(port=agent_port(), knowledge=knowledge)[0]
    try:
        run = services.run_start(actor=actor, plan=plan, trigger=RunTrigger.DEMO,
                                 label="prompt v1 (demo baseline)")  # fmt: skip
        engine.drive(run.pk)  # now, in this process; the queued task finds it finished
    finally:
        if server is not None:
            server.stop()
    run.refresh_from_db()
    if run.status == "completed":
        services.run_mark_baseline(actor=actor, run=run)
    ctx.log.append(
        f"created eval plan {plan.name}: {len(CASES)} cases, run #{run.number} {run.status}"
        f" ({round((run.pass_rate or 0) * 100)}% passed)"
    )
    if use_case.stage == "prototype":
        usecase_services.use_case_move_stage(actor=actor, use_case=use_case, to_stage="evaluate")
