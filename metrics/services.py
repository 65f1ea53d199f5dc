"""Writes of the metrics area that people make (ingestion is `metrics.ingest`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from evals.models import CaseOrigin, EvalCase, EvalPlan
from evals.services.cases import case_add
from genai_po.actors import Actor
from genai_po.roles import Action
from metrics.models import TelemetryEvent


def trace_ref(event: TelemetryEvent) -> str:
    return f"telemetry:{event.event_id}"[:200]


def case_of(event: TelemetryEvent) -> EvalCase | None:
    """The current eval case made from this interaction, if any."""
    from evals.selectors import current_cases

    for plan in EvalPlan.objects.for_org(event.organization_id).filter(
        use_case_id=event.use_case_id
    ):
        case = current_cases(plan).filter(origin_ref=trace_ref(event)).first()
        if case is not None:
            return case
    return None


def case_from_interaction(
    *, actor: Actor, event: TelemetryEvent, plan: EvalPlan, good: bool, expected_behavior: str = ""
) -> EvalCase:
    """A production interaction as an eval case (origin "production trace"): a good example
    keeps its output as the expected answer; a bad one says what should have happened."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(event)
    if plan.organization_id != event.organization_id or plan.use_case_id != event.use_case_id:
        raise ValidationError({"plan": "Choose an eval plan of this interaction's use case."})
    if plan.archived_at is not None:
        raise ValidationError({"plan": "This plan is archived."})
    if not event.input_text.strip():
        raise ValidationError({"plan": "This interaction was sent without its input: there is "
                               "nothing to replay."})  # fmt: skip
    expected_behavior = (expected_behavior or "").strip()
    if not good and not expected_behavior:
        raise ValidationError(
            {"expected_behavior": "Say what the AI system should have done instead."}
        )
    existing = case_of(event)
    if existing is not None:
        raise ValidationError({"plan": f"This interaction is already {existing.key}."})
    data = {
        "name": f"Production {event.occurred_at:%Y-%m-%d %H:%M}: {event.input_text[:120]}"[:200],
        "prompt": event.input_text,
        "tags": ["production", "good-example" if good else "bad-example"],
        "origin": CaseOrigin.PRODUCTION_TRACE,
        "origin_ref": trace_ref(event),
    }
    if good:
        data["expected"] = event.output_text
        data["expected_behavior"] = expected_behavior or "Answer as it did in production."
    else:
        data["expected_behavior"] = expected_behavior
    return case_add(actor=actor, plan=plan, data=data)
