"""Acme Support's production telemetry for `seed_demo`: 60 days of the refund assistant's
interactions, sent through the same ingestion code as the telemetry API, and the last three
weeks of the tier-2 escalation summaries' pilot, sent as OpenTelemetry spans (protobuf,
decoded by the OTLP endpoint's own code). Then the rollups, the ROI assumptions, weekly
readings of the refund use case's business metric, online scoring and two alert rules.

The events are generated (the organization is a demo): a seeded random walk with realistic
shapes (adoption ramping up after launch, weekday peaks, task success improving as the
knowledge base grows). Idempotent: a use case with telemetry already is left alone.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from evals import selectors as eval_selectors
from genai_po.actors import Actor
from metrics import ingest, online, otlp, rollups, services
from metrics.models import AlertRule, BusinessMetricReading, TelemetryEvent
from usecases.demo import REFUND
from usecases.models import UseCase

DAYS = 60
PILOT_DAYS = 21
SUMMARIES = "Escalation summaries for tier-2"
CHURNED = {"agent-003", "agent-007"}
QUESTIONS = [
    ("Can a customer return an opened item after 30 days?", 3),
    ("Is shipping refunded when the parcel arrives damaged?", 2),
    ("How long does a refund to a card take?", 1),
    ("Can I refund a gift card purchase?", 4),
    ("The customer wants a refund for a subscription renewal", 5),
]


def _moment(day, rng: random.Random, hours: int = 10) -> datetime:
    """A working-hours moment of the day (of today: one that has passed already)."""
    start = datetime.combine(day, time(7, 0), tzinfo=UTC)
    now = timezone.now()
    if start + timedelta(hours=hours) > now:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        seconds = max(60, int((now - start).total_seconds()) - 120)
        return start + timedelta(seconds=rng.randint(0, seconds))
    return start + timedelta(seconds=rng.randint(0, hours * 3600))


def _refund_events(use_case: UseCase, today, rng: random.Random) -> list[dict]:
    """60 days of the refund assistant: 8 agents at launch, about 70 two months on."""
    events = []
    agents = [f"agent-{n:03d}" for n in range(1, 101)]
    for offset in range(DAYS, -1, -1):
        day = today - timedelta(days=offset)
        progress = (DAYS - offset) / DAYS  # 0 at launch, 1 today
        weekday = day.weekday() < 5
        active = agents[: int(8 + 62 * progress)]
        if not weekday:
            active = active[: max(3, len(active) // 6)]
        success = 0.72 + 0.14 * progress
        for user in active:
            if offset > 0 and rng.random() < 0.15:
                continue  # not every agent works every day
            if user in CHURNED and progress > 0.35:
                continue  # two of the launch agents gave up on it after three weeks
            for n in range(rng.randint(3, 11)):
                events.append(_refund_event(use_case, day, user, n, success, rng))
    return events


def _refund_event(use_case, day, user, n, success, rng: random.Random) -> dict:
    question, kb = QUESTIONS[rng.randrange(len(QUESTIONS))]
    at = _moment(day, rng)
    roll = rng.random()
    event_type, flags = "interaction", []
    if roll < success:
        outcome = "success"
        answer = f"Per KB-{kb}, {question.lower().rstrip('?')}: yes, within the policy's terms."
    elif roll < success + 0.08:
        outcome = "escalated"
        answer = "This needs a human: I'm transferring you to a live agent."
    elif roll < success + 0.14:
        outcome, flags = "failure", (["hallucination"] if rng.random() < 0.3 else [])
        answer = rng.choice([
            "Sure, the refund has been issued to the card.",
            "Refunds are always possible within 90 days.",
        ])  # fmt: skip
    else:
        outcome, answer = "abandoned", ""
    if rng.random() < 0.012:
        event_type, outcome, answer = "error", "failure", ""
    event = {
        "event_id": f"demo-{use_case.key}-{day:%Y%m%d}-{user}-{n}",
        "use_case": use_case.key,
        "occurred_at": at.isoformat(),
        "user": user,
        "session_id": f"{user}-{day:%Y%m%d}",
        "type": event_type,
        "outcome": outcome,
        "flags": flags,
        "latency_ms": int(rng.lognormvariate(7.1, 0.35)),
        "tokens_in": rng.randint(900, 2400),
        "tokens_out": rng.randint(80, 400),
        "cost": round(rng.uniform(0.002, 0.006), 5),
        "model": "acme-reference-agent",
        "knowledge_ids": [f"KB-{kb}"] if outcome == "success" else [],
    }
    if outcome == "success" and rng.random() < 0.7:
        event["minutes_saved"] = round(rng.uniform(2.5, 6.0), 1)
    if answer and rng.random() < 0.5:
        event.update(input=question, output=answer)
    return event


def _summary_spans(use_case: UseCase, today, rng: random.Random) -> bytes:
    """The tier-2 pilot as one OTLP/protobuf export: a trace per summary, its LLM span
    with the GenAI semantic conventions, some with a retrieval span (OpenInference)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def attr(key, value):
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        return KeyValue(key=key, value=AnyValue(string_value=str(value)))

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend([
        attr("service.name", "tier2-summaries"), attr(otlp.USE_CASE_ATTRIBUTE, use_case.key),
    ])  # fmt: skip
    spans = resource_spans.scope_spans.add().spans
    engineers = [f"eng-{n:02d}" for n in range(1, 19)]
    for offset in range(PILOT_DAYS, -1, -1):
        day = today - timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for user in engineers[: 6 + (PILOT_DAYS - offset) // 2]:
            for _ in range(rng.randint(1, 4)):
                start = _moment(day, rng, hours=9)
                start_ns = int(start.timestamp() * 1e9)
                duration = int(rng.lognormvariate(7.6, 0.3) * 1e6)
                trace_id = rng.randbytes(16)
                root = spans.add(
                    trace_id=trace_id, span_id=rng.randbytes(8), name="chat summarize",
                    start_time_unix_nano=start_ns, end_time_unix_nano=start_ns + duration,
                )  # fmt: skip
                root.attributes.extend([
                    attr("gen_ai.operation.name", "chat"),
                    attr("gen_ai.request.model", "acme-summarizer-2"),
                    attr("gen_ai.usage.input_tokens", rng.randint(2000, 6000)),
                    attr("gen_ai.usage.output_tokens", rng.randint(150, 350)),
                    attr("gen_ai.conversation.id", f"ticket-{rng.randint(10000, 99999)}"),
                    attr("user.id", user),
                ])  # fmt: skip
                if rng.random() < 0.04:
                    root.status.code = 2  # STATUS_CODE_ERROR
                    root.status.message = "upstream timeout after 30 s"
                if rng.random() < 0.5:
                    retrieval = spans.add(
                        trace_id=trace_id, span_id=rng.randbytes(8), name="retrieve",
                        parent_span_id=root.span_id, start_time_unix_nano=start_ns,
                        end_time_unix_nano=start_ns + duration // 5,
                    )  # fmt: skip
                    retrieval.attributes.extend([
                        attr("openinference.span.kind", "RETRIEVER"),
                        attr("retrieval.documents.0.document.id", f"KB-{rng.randint(1, 5)}"),
                    ])  # fmt: skip
    return request.SerializeToString()


def seed_metrics(ctx) -> None:
    org = ctx.organization
    po = ctx.users.get("product_owner")
    if org is None or po is None:
        return
    actor = Actor.for_member(user=po, organization=org, role="product_owner")
    today = timezone.now().date()
    rng = random.Random(11)  # noqa: S311 - demo data, not a secret
    sent = False
    refund = UseCase.objects.for_org(org).filter(title=REFUND).first()
    if refund is not None and not TelemetryEvent.objects.for_org(org).filter(use_case=refund):
        _online_scoring(actor, refund)
        events = _refund_events(refund, today, rng)
        for start in range(0, len(events), ingest.MAX_EVENTS):
            ingest.ingest(org.pk, events[start : start + ingest.MAX_EVENTS])
        ctx.log.append(f"{len(events):,} telemetry events of {refund.key}, through the API's code")
        sent = True
    summaries = UseCase.objects.for_org(org).filter(title=SUMMARIES).first()
    if summaries is not None and not TelemetryEvent.objects.for_org(org).filter(use_case=summaries):
        body = _summary_spans(summaries, today, rng)
        result = otlp.ingest_traces(org.pk, otlp.decode(body, "application/x-protobuf"))
        ctx.log.append(f"{result.events:,} traces of {summaries.key}, as OpenTelemetry spans")
        sent = True
    if not sent:
        return
    online.score_organization(org.pk)
    rollups.rollup_organization(org.pk)
    services.assumptions_save(actor=actor, data={
        "currency": "EUR", "loaded_hourly_cost": 38, "minutes_saved_per_success": 3,
        "other_value_per_month": 0, "sme_hourly_cost": 75, "sme_minutes_per_answer": 20,
    })  # fmt: skip
    if refund is not None:
        _readings(actor, refund, today)
        _rules(actor, refund)


def _online_scoring(actor, use_case) -> None:
    plan = next(
        (p for p in eval_selectors.plans_of(actor.organization, use_case=use_case)
         if online.online_specs(p.scorers)),
        None,
    )  # fmt: skip
    if plan is not None:
        services.online_scoring_set(
            actor=actor, use_case=use_case, plan=plan, sample_percent=20, enabled=True
        )
        # The demo's history is scored too, not only what arrives from now on.
        from metrics.models import OnlineScoring

        OnlineScoring.objects.for_org(use_case.organization_id).filter(use_case=use_case).update(
            scored_until=None
        )


def _readings(actor, use_case, today) -> None:
    """Weekly handling time of refund tickets: 11.5 minutes at launch, near 8 now."""
    if BusinessMetricReading.objects.for_org(use_case.organization_id).filter(use_case=use_case):
        return
    for week in range(DAYS // 7, -1, -1):
        value = 11.5 - 3.4 * (1 - week / (DAYS // 7)) + (0.2 if week % 2 else -0.1)
        services.reading_record(actor=actor, use_case=use_case, data={
            "measured_on": today - timedelta(days=7 * week), "value": round(value, 2),
            "note": "From the help desk's weekly report",
        })  # fmt: skip


def _rules(actor, use_case) -> None:
    if AlertRule.objects.for_org(use_case.organization_id).exists():
        return
    services.rule_save(actor=actor, data={
        "use_case": use_case, "metric": "escalation_rate", "condition": "above",
        "threshold": 12, "window_hours": 24, "min_interactions": 50, "action": "notify",
        "enabled": True,
    })  # fmt: skip
    services.rule_save(actor=actor, data={
        "use_case": use_case, "metric": "error_rate", "condition": "rises_by", "threshold": 2,
        "window_hours": 168, "min_interactions": 100, "action": "incident", "enabled": True,
    })  # fmt: skip
