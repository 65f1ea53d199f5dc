"""Writes of the metrics area that people make (ingestion is `metrics.ingest`)."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError

from evals.models import CaseOrigin, EvalCase, EvalPlan
from evals.services.cases import case_add
from genai_po.actors import Actor
from genai_po.roles import Action
from metrics.alerts import PERCENT_METRICS as _PERCENT
from metrics.models import (
    Alert,
    AlertRule,
    BusinessMetricReading,
    OnlineScoring,
    TelemetryEvent,
    ValueAssumptions,
)


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


# --------------------------------------------------------------------------- settings


def _full_clean(obj, exclude=("organization",)) -> None:
    """Model validation as a ValidationError keyed by field (for forms and the API)."""
    obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)


def online_scoring_set(
    *, actor: Actor, use_case, plan: EvalPlan | None, sample_percent, enabled: bool
) -> OnlineScoring:
    """Turn online scoring of a use case's production answers on (with a plan and a share)
    or off. Turned on, it starts with the interactions received from an hour ago."""
    from decimal import Decimal, InvalidOperation

    from django.db import transaction
    from django.utils import timezone

    from genai_po.audit import audit_record
    from metrics import online

    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    errors = {}
    if enabled:
        if (
            plan is None
            or plan.organization_id != use_case.organization_id
            or (plan.use_case_id != use_case.pk)
        ):
            errors["plan"] = "Choose an eval plan of this use case."
        elif plan.archived_at is not None:
            errors["plan"] = "This plan is archived."
        elif not online.online_specs(plan.scorers):
            errors["plan"] = (
                "This plan has no scorer that can grade an answer without an expected one "
                "(must-not-contain, regex, JSON schema, refusal, escalation, citation, length): "
                "add one to the plan first."
            )
    try:
        percent = Decimal(str(sample_percent)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError):
        percent = None
    if percent is None or not Decimal("0.01") <= percent <= 100:
        errors["sample_percent"] = "The sample is a share between 0.01 and 100 (%)."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        config = (
            OnlineScoring.objects.for_org(use_case.organization_id)
            .select_for_update()
            .filter(use_case=use_case)
            .first()
        )
        before = _scoring_snapshot(config)
        now = timezone.now()
        if config is None:
            if not enabled:
                raise ValidationError({"plan": "Online scoring is off already."})
            config = OnlineScoring(
                organization_id=use_case.organization_id, use_case=use_case,
                scored_until=online.start_after(now),
            )  # fmt: skip
        elif enabled and not config.enabled:
            config.scored_until = online.start_after(now)
        if plan is not None:
            config.plan = plan
        config.sample_percent = percent
        config.enabled = enabled
        config.save()
        audit_record(
            actor=actor, action="metrics.online_scoring_set", obj=config, before=before,
            after=_scoring_snapshot(config),
        )  # fmt: skip
    return config


def _scoring_snapshot(config) -> dict | None:
    if config is None:
        return None
    return {"use_case": config.use_case.key, "plan": config.plan.name,
            "sample_percent": str(config.sample_percent), "enabled": config.enabled}  # fmt: skip


ASSUMPTION_FIELDS = (
    "currency", "loaded_hourly_cost", "minutes_saved_per_success", "other_value_per_month",
    "sme_hourly_cost", "sme_minutes_per_answer",
)  # fmt: skip


def assumptions_save(*, actor: Actor, use_case=None, data: dict) -> ValueAssumptions:
    """Save the organization's value assumptions (no use case) or one use case's own."""
    from django.db import transaction

    from genai_po.audit import audit_record

    actor.require(Action.EDIT_PRODUCT)
    org_id = actor.organization.pk
    if use_case is not None:
        actor.require_same_org(use_case)
    with transaction.atomic():
        # The parent row (the use case, or the organization for its defaults) is the lock:
        # the first save of a row has no row of its own to lock yet.
        _lock_parent(org_id, use_case)
        rows = ValueAssumptions.objects.for_org(org_id).select_for_update()
        row = rows.filter(use_case=use_case).first()
        if row is None:
            row = ValueAssumptions(organization_id=org_id, use_case=use_case)
            inherited = rows.filter(use_case=None).first() if use_case is not None else None
            for name in ASSUMPTION_FIELDS if inherited else ():
                # A use case's first own figures start from what it inherited: a field left
                # out keeps the organization's value, not the model's default.
                setattr(row, name, getattr(inherited, name))
        before = {f: str(getattr(row, f)) for f in ASSUMPTION_FIELDS} if row.pk else None
        for name in ASSUMPTION_FIELDS:
            if name in data:
                setattr(row, name, data[name])
        row.currency = (row.currency or "").strip().upper()
        _full_clean(row, exclude=("organization", "use_case"))
        errors = {
            f: "Give a number of 0 or more." for f in ASSUMPTION_FIELDS[1:] if getattr(row, f) < 0
        }
        if len(row.currency) != 3 or not (row.currency.isascii() and row.currency.isalpha()):
            errors["currency"] = "A currency is three letters, like EUR or USD."
        if errors:
            raise ValidationError(errors)
        row.updated_by_label = actor.label[:254]
        row.save()
        audit_record(
            actor=actor, action="metrics.assumptions_saved", obj=row, before=before,
            after={f: str(getattr(row, f)) for f in ASSUMPTION_FIELDS}
            | {"use_case": use_case.key if use_case else None},
        )  # fmt: skip
    return row


def _lock_parent(org_id: int, use_case) -> None:
    """Lock the use case's row, or the organization's when there is none."""
    from genai_po.models import Organization
    from usecases.models import UseCase

    if use_case is not None:
        list(UseCase.objects.for_org(org_id).select_for_update().filter(pk=use_case.pk)
             .values_list("pk"))  # fmt: skip
    else:
        list(Organization.objects.select_for_update().filter(pk=org_id).values_list("pk"))


def reading_record(*, actor: Actor, use_case, data: dict) -> BusinessMetricReading:
    """A measurement of the use case's business metric; one per day (a second one for the
    same day replaces the value)."""
    from django.db import transaction

    from genai_po.audit import audit_record

    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(use_case)
    if not use_case.metric_name:
        raise ValidationError(
            {"value": "Name the use case's business metric (on its brief) before recording it."}
        )
    value = data.get("value")
    if isinstance(value, float):  # JSON numbers: their shortest text, not the binary float
        value = str(value)
    reading = BusinessMetricReading(
        organization_id=use_case.organization_id, use_case=use_case,
        measured_on=data.get("measured_on"), value=value,
        note=(data.get("note") or "").strip(), recorded_by_label=actor.label[:254],
    )  # fmt: skip
    _full_clean(reading, exclude=("organization", "use_case", "recorded_by_label"))
    from django.utils import timezone

    if reading.measured_on > timezone.localdate() + timedelta(days=1):
        raise ValidationError({"measured_on": "A measurement cannot be dated in the future."})
    if reading.measured_on.year < 2000:
        raise ValidationError({"measured_on": "Date a measurement in 2000 or later."})
    with transaction.atomic():
        _lock_parent(use_case.organization_id, use_case)  # one first reading of a day at once
        existing = (
            BusinessMetricReading.objects.for_org(use_case.organization_id)
            .select_for_update()
            .filter(use_case=use_case, measured_on=reading.measured_on)
            .first()
        )
        before = None
        if existing is not None:
            before = {"value": str(existing.value), "note": existing.note}
            existing.value, existing.note = reading.value, reading.note
            existing.recorded_by_label = reading.recorded_by_label
            reading = existing
        reading.save()
        audit_record(
            actor=actor, action="metrics.reading_recorded", obj=reading, before=before,
            after={"use_case": use_case.key, "measured_on": str(reading.measured_on),
                   "value": str(reading.value), "note": reading.note},
        )  # fmt: skip
    return reading


# --------------------------------------------------------------------------- alerts

RULE_FIELDS = ("use_case", "metric", "condition", "threshold", "window_hours",
               "min_interactions", "action", "enabled")  # fmt: skip


def _rule_snapshot(rule: AlertRule) -> dict:
    return {
        "use_case": rule.use_case.key, "metric": rule.metric, "condition": rule.condition,
        "threshold": str(rule.threshold), "window_hours": rule.window_hours,
        "min_interactions": rule.min_interactions, "action": rule.action,
        "enabled": rule.enabled,
    }  # fmt: skip


def _check_rule(rule: AlertRule) -> None:
    from metrics.models import AlertCondition, AlertMetric

    _full_clean(rule, exclude=("organization", "use_case", "number", "created_by_label"))
    errors = {}
    if rule.threshold < 0:
        errors["threshold"] = "A threshold is 0 or more."
    elif rule.condition == AlertCondition.RISES_BY and rule.threshold <= 1:
        errors["threshold"] = "A rise is a factor above 1: 2 is a doubling."
    elif (
        rule.metric in _PERCENT
        and rule.condition != AlertCondition.RISES_BY
        and (rule.threshold > 100)
    ):
        errors["threshold"] = "A rate threshold is a percentage, 0 to 100."
    if not 1 <= rule.window_hours <= 24 * 30:
        errors["window_hours"] = "A window is 1 hour to 30 days (720 hours)."
    if rule.metric == AlertMetric.ACTIVE_USERS and rule.window_hours % 24:
        errors["window_hours"] = "Active users are counted by day: a window of whole days."
    if errors:
        raise ValidationError(errors)


def rule_save(*, actor: Actor, rule: AlertRule | None = None, data: dict) -> AlertRule:
    """Create an alert rule (AR-n) or change one."""
    from django.db import IntegrityError, transaction
    from django.db.models import Max

    from genai_po.audit import audit_record
    from usecases.models import UseCase

    actor.require(Action.EDIT_PRODUCT)
    org_id = actor.organization.pk
    creating = rule is None
    if creating:
        rule = AlertRule(organization_id=org_id, created_by_label=actor.label[:254])
    else:
        actor.require_same_org(rule)
    before = None if creating else _rule_snapshot(rule)
    use_case = data.get("use_case", getattr(rule, "use_case", None) if not creating else None)
    if not isinstance(use_case, UseCase) or use_case.organization_id != org_id:
        raise ValidationError({"use_case": "Choose a use case of this organization."})
    rule.use_case = use_case
    for name in RULE_FIELDS[1:]:
        if name in data:
            setattr(rule, name, data[name])
    _check_rule(rule)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                if creating:
                    _lock_parent(org_id, None)  # numbers are handed out one after another
                    top = AlertRule.objects.for_org(org_id).aggregate(n=Max("number"))["n"]
                    rule.number = (top or 0) + 1
                rule.save()
                audit_record(
                    actor=actor, action="alert_rule.created" if creating else "alert_rule.updated",
                    obj=rule, before=before, after=_rule_snapshot(rule),
                )  # fmt: skip
            return rule
        except IntegrityError:
            if not creating:
                raise
            rule.pk = None  # another rule took the number: take the next
    raise ValidationError({"metric": "Too many rules created at once: try again."})


def rule_delete(*, actor: Actor, rule: AlertRule) -> None:
    from django.db import transaction

    from genai_po.audit import audit_record

    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(rule)
    if rule.alerts.exists():
        # Its alerts are the history of what happened: they go only with the organization.
        raise ValidationError(
            {"enabled": f"{rule.key} has fired alerts, and deleting it would delete their "
             "history: turn it off instead (untick On)."}
        )  # fmt: skip
    with transaction.atomic():
        audit_record(actor=actor, action="alert_rule.deleted", obj=rule,
                     before=_rule_snapshot(rule))  # fmt: skip
        rule.delete()


def alert_acknowledge(*, actor: Actor, alert: Alert, note: str = "") -> Alert:
    """Someone has seen the alert and says what is being done; once."""
    from django.db import transaction
    from django.utils import timezone

    from genai_po.audit import audit_record

    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(alert)
    note = (note or "").strip()
    if len(note) > 1000:
        raise ValidationError({"note": "A note is at most 1,000 characters."})
    with transaction.atomic():
        alert = Alert.objects.for_org(alert.organization_id).select_for_update().get(pk=alert.pk)
        if alert.acknowledged_at is not None:
            raise ValidationError(
                {"note": f"Acknowledged already by {alert.acknowledged_by_label}."}
            )
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by_label = actor.label[:254]
        alert.acknowledgment_note = note
        alert.save(update_fields=["acknowledged_at", "acknowledged_by_label",
                                  "acknowledgment_note"])  # fmt: skip
        audit_record(actor=actor, action="alert.acknowledged", obj=alert,
                     after={"note": note})  # fmt: skip
    return alert
