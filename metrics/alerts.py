"""Alerts: thresholds on a use case's metrics, checked by Celery after each rollup.

A rule is breached when its metric, over its window of hour rollups, crosses the threshold
(or, for "rises by", when the last 7 days' value is at least `threshold` times the 7 days'
before). A breach fires one alert, which stays open while the rule is breached: however
many rollups run meanwhile, it is not fired again (a partial unique index holds one open
alert per rule, so two workers cannot both fire it). Once the metric is back within the
threshold the alert is resolved, and a later breach is a new alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from genai_po.actors import Actor
from genai_po.audit import audit_record
from metrics import figures
from metrics.models import (
    ActiveUserDay,
    Alert,
    AlertAction,
    AlertCondition,
    AlertMetric,
    AlertRule,
    Granularity,
    MetricRollup,
)

logger = logging.getLogger(__name__)
WEEK = timedelta(days=7)


def threshold_text(rule) -> str:
    """The rule's threshold as people read it: 5% for a rate, ×2 for a rise."""
    number = f"{rule.threshold.normalize():f}" if rule.threshold is not None else "—"
    if rule.condition == AlertCondition.RISES_BY:
        return f"×{number} week over week"
    return f"{number}%" if rule.metric in PERCENT_METRICS else number


PERCENT_METRICS = {
    AlertMetric.ERROR_RATE, AlertMetric.ESCALATION_RATE, AlertMetric.HALLUCINATION_RATE,
    AlertMetric.TASK_SUCCESS_RATE, AlertMetric.ONLINE_FAILURE_RATE,
}  # fmt: skip


@dataclass(frozen=True)
class Reading:
    value: float | None  # None: not enough data to judge
    interactions: int
    start: datetime
    end: datetime


def _sums(rule: AlertRule, start: datetime, end: datetime) -> dict:
    from metrics.dashboard import SUMMED

    rows = MetricRollup.objects.for_org(rule.organization_id).filter(
        use_case_id=rule.use_case_id,
        granularity=Granularity.HOUR,
        bucket__gte=start,
        bucket__lt=end,
    )
    return {k: (v or 0) for k, v in rows.aggregate(**{f: Sum(f) for f in SUMMED}).items()}


def metric_value(rule: AlertRule, start: datetime, end: datetime) -> Reading:
    """The rule's metric over [start, end), in the unit its threshold is written in."""
    sums = _sums(rule, start, end)
    metric = rule.metric
    if metric == AlertMetric.ACTIVE_USERS:
        value = float(
            ActiveUserDay.objects.for_org(rule.organization_id)
            .filter(use_case_id=rule.use_case_id, day__gte=start.date(), day__lt=end.date())
            .values("user_ref")
            .distinct()
            .count()
        )
    elif metric == AlertMetric.LATENCY:
        value = figures.latency(sums)
    elif metric == AlertMetric.COST_PER_SUCCESS:
        value = figures.cost_per_success(sums)
    else:
        rate = figures.RATES[metric](sums)
        value = None if rate is None else rate * 100
    return Reading(value, sums["interactions"], start, end)


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def check(rule: AlertRule, now: datetime) -> tuple[bool | None, Reading, str]:
    """(breached, what was read, a sentence); breached is None when there is too little
    data to say (fewer interactions than the rule's minimum)."""
    end = _hour(now)  # the current hour included: what has arrived of it
    threshold = float(rule.threshold)
    name = rule.get_metric_display().lower()
    unit = "%" if rule.metric in PERCENT_METRICS else ""
    if rule.condition == AlertCondition.RISES_BY:
        current = metric_value(rule, end - WEEK, end)
        previous = metric_value(rule, end - 2 * WEEK, end - WEEK)
        if (
            current.value is None
            or not previous.value
            or current.interactions < rule.min_interactions
        ):
            return None, current, "not enough data this week or last"
        factor = current.value / previous.value
        text = (
            f"{rule.use_case.key}: {name} {current.value:.3g}{unit} over the last 7 days, "
            f"{factor:.2f}× the {previous.value:.3g}{unit} of the week before "
            f"(alert at {threshold:g}×)"
        )
        return factor >= threshold, current, text
    reading = metric_value(rule, end - timedelta(hours=rule.window_hours), end)
    if reading.value is None or reading.interactions < rule.min_interactions:
        return None, reading, f"fewer than {rule.min_interactions} interactions in the window"
    above = rule.condition == AlertCondition.ABOVE
    breached = reading.value > threshold if above else reading.value < threshold
    text = (
        f"{rule.use_case.key}: {name} {reading.value:.3g}{unit} over the last "
        f"{rule.window_hours} h, {'above' if above else 'below'} {threshold:g}{unit}"
    )
    return breached, reading, text


def _recipients(rule: AlertRule) -> list[str]:
    from genai_po.models import Membership
    from genai_po.roles import Role

    owner = rule.use_case.owner
    if owner is not None and owner.is_active:
        return [owner.email]
    return sorted(
        Membership.objects.for_org(rule.organization_id)
        .filter(role__in=(Role.OWNER, Role.ADMIN), user__is_active=True)
        .values_list("user__email", flat=True)
    )


def _notify(alert: Alert) -> list[str]:
    rule = alert.rule
    recipients = _recipients(rule)
    if not recipients:
        logger.warning("%s fired with no one to notify", alert.key)
        return []
    link = settings.SITE_URL + reverse("alert_list", args=[rule.organization.slug])
    send_mail(
        subject=f"[{rule.organization.name}] Alert {rule.key}: {alert.summary}"[:250],
        message=render_to_string(
            "metrics/email/alert.txt",
            {
                "alert": alert,
                "link": link,
                "threshold": threshold_text(rule),
                "window_end": min(alert.window_end, alert.fired_at),
            },
        ),  # fmt: skip
        from_email=None,
        recipient_list=recipients,
    )
    return recipients


def _open_incident(alert: Alert, actor: Actor) -> int | None:
    from governance.services import incidents

    rule = alert.rule
    kind = {
        AlertMetric.HALLUCINATION_RATE: "confabulation",
        AlertMetric.ONLINE_FAILURE_RATE: "confabulation",
        AlertMetric.ERROR_RATE: "performance",
        AlertMetric.LATENCY: "performance",
    }.get(rule.metric, "other")
    incident = incidents.incident_create(
        actor=actor,
        data={
            "title": f"Alert {rule.key}: {rule.get_metric_display()} on {rule.use_case.key}",
            "summary": f"{alert.summary}. Opened by alert {rule.key} as a draft: review its "
            "type and severity, and say what happened.",
            "channel": "eval_monitor",
            "reporter_label": f"Alert rule {rule.key}",
            "incident_type": kind,
            "severity": 3,
            "use_case": rule.use_case,
            "occurred_at": alert.window_start,
            "discovered_at": alert.fired_at,
            "aware_at": alert.fired_at,
        },
    )
    return incident.number


def _fire(rule: AlertRule, reading: Reading, summary: str, now: datetime) -> Alert | None:
    actor = Actor.system(organization=rule.organization, label=f"alert rule {rule.key}")
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                organization_id=rule.organization_id, rule=rule, use_case_id=rule.use_case_id,
                value=reading.value, threshold=float(rule.threshold), summary=summary[:400],
                window_start=reading.start, window_end=reading.end, fired_at=now,
            )  # fmt: skip
            if rule.action == AlertAction.INCIDENT:
                try:
                    with transaction.atomic():
                        alert.incident_number = _open_incident(alert, actor)
                except ValidationError as exc:  # the alert fires all the same
                    logger.warning("%s: no incident opened: %s", rule.key, exc.messages)
            audit_record(
                actor=actor, action="alert.fired", obj=alert,
                after={"rule": rule.key, "summary": alert.summary, "value": alert.value,
                       "incident": alert.incident_number},
            )  # fmt: skip
            alert.save(update_fields=["incident_number"])
    except IntegrityError:
        return None  # another worker fired this breach first
    alert.notified = _notify(alert)
    Alert.objects.for_org(rule.organization_id).filter(pk=alert.pk).update(notified=alert.notified)
    return alert


def evaluate_rule(rule: AlertRule, now: datetime) -> Alert | None:
    """Check one rule: fire a new breach, resolve an open one that has ended."""
    breached, reading, summary = check(rule, now)
    open_alert = Alert.objects.for_org(rule.organization_id).filter(
        rule=rule, resolved_at__isnull=True
    )
    if breached:
        if open_alert.exists():
            return None  # the same breach, still going: already told
        return _fire(rule, reading, summary, now)
    if breached is False:
        open_alert.update(resolved_at=now)
    return None


def organizations_with_rules() -> list[int]:
    return sorted(
        set(
            AlertRule.objects.across_orgs()
            .filter(enabled=True)
            .values_list("organization_id", flat=True)
        )
    )


def evaluate_organization(organization_id: int, *, now: datetime | None = None) -> list[Alert]:
    """After a rollup: every enabled rule of the organization checked; the new alerts."""
    now = now or timezone.now()
    fired = []
    rules = (
        AlertRule.objects.for_org(organization_id)
        .filter(enabled=True)
        .select_related("use_case", "use_case__owner", "organization")
        .order_by("number")
    )
    for rule in rules:
        alert = evaluate_rule(rule, now)
        if alert is not None:
            fired.append(alert)
    return fired
