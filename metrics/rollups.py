"""Hourly and daily rollups of telemetry, computed incrementally by beat.

Each run reads only the events received since the organization's watermark (less a short
overlap, for transactions that committed late), finds the (use case, hour) buckets they
fall in, whatever their age, and recomputes those buckets, and their days, wholly from the
events: so a late event re-aggregates only the buckets it touches, an event seen twice by
the overlap is not counted twice, and running the task again changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from metrics.models import (
    ActiveUserDay,
    EventType,
    Granularity,
    MetricRollup,
    Outcome,
    RollupWatermark,
    TelemetryEvent,
)

OVERLAP = timedelta(minutes=2)  # longer than any ingest transaction
BUCKETS_PER_STEP = 500  # buckets recomputed per query round

AGGREGATES = {
    "events": Count("pk"),
    "interactions": Count("pk", filter=Q(event_type=EventType.INTERACTION)),
    "successes": Count("pk", filter=Q(outcome=Outcome.SUCCESS)),
    "failures": Count("pk", filter=Q(outcome=Outcome.FAILURE)),
    "escalations": Count(
        "pk", filter=Q(outcome=Outcome.ESCALATED) | Q(event_type=EventType.ESCALATION)
    ),
    "abandoned": Count("pk", filter=Q(outcome=Outcome.ABANDONED)),
    "errors": Count("pk", filter=Q(event_type=EventType.ERROR)),
    "feedback": Count("pk", filter=Q(event_type=EventType.FEEDBACK)),
    "hallucinations": Count("pk", filter=Q(hallucination=True)),
    "unsafe": Count("pk", filter=Q(unsafe=True)),
    "unsupported_claims": Count("pk", filter=Q(unsupported_claim=True)),
    "users": Count("user_ref", distinct=True, filter=~Q(user_ref="")),
    "latency_ms_sum": Sum("latency_ms"),
    "latency_count": Count("latency_ms"),
    "tokens_in": Sum("tokens_in"),
    "tokens_out": Sum("tokens_out"),
    "cost": Sum("cost"),
    "minutes_saved": Sum("minutes_saved"),
}


@dataclass
class RollupRun:
    events_read: int = 0
    hours: int = 0
    days: int = 0


def _touched(organization_id: int, since: datetime | None, until: datetime) -> dict:
    """{use case id: set of hour starts} of the events received in (since, until]."""
    rows = TelemetryEvent.objects.for_org(organization_id).filter(received_at__lte=until)
    if since is not None:
        rows = rows.filter(received_at__gt=since)
    touched: dict[int, set[datetime]] = defaultdict(set)
    for use_case_id, hour in (
        rows.annotate(hour=TruncHour("occurred_at")).values_list("use_case_id", "hour").distinct()
    ):
        touched[use_case_id].add(hour)
    return touched


def _recompute(organization_id: int, use_case_id: int, granularity: str, buckets: set) -> None:
    """Each bucket's rollup, from all of its events (a bucket without events is removed)."""
    trunc = TruncHour if granularity == Granularity.HOUR else TruncDay
    step = timedelta(hours=1) if granularity == Granularity.HOUR else timedelta(days=1)
    ordered = sorted(buckets)
    for start in range(0, len(ordered), BUCKETS_PER_STEP):
        chunk = ordered[start : start + BUCKETS_PER_STEP]
        wanted = set(chunk)
        events = TelemetryEvent.objects.for_org(organization_id).filter(
            use_case_id=use_case_id, occurred_at__gte=chunk[0], occurred_at__lt=chunk[-1] + step
        )
        computed = {
            row.pop("bucket"): row
            for row in events.annotate(bucket=trunc("occurred_at"))
            .values("bucket")
            .annotate(**AGGREGATES)
            .order_by()
            if row["bucket"] in wanted
        }
        rows = [
            MetricRollup(
                organization_id=organization_id, use_case_id=use_case_id,
                granularity=granularity, bucket=bucket,
                **{k: (v or 0) for k, v in values.items()},
            )
            for bucket, values in computed.items()
        ]  # fmt: skip
        with transaction.atomic():
            MetricRollup.objects.for_org(organization_id).filter(
                use_case_id=use_case_id, granularity=granularity, bucket__in=chunk
            ).delete()
            MetricRollup.objects.bulk_create(rows, batch_size=1000)


def _active_users(organization_id: int, use_case_id: int, days: set) -> None:
    """The users active on each of these days, from the events."""
    ordered = sorted(days)
    for start in range(0, len(ordered), BUCKETS_PER_STEP):
        chunk = ordered[start : start + BUCKETS_PER_STEP]
        dates = {d.date() for d in chunk}
        pairs = (
            TelemetryEvent.objects.for_org(organization_id)
            .filter(
                use_case_id=use_case_id,
                occurred_at__gte=chunk[0],
                occurred_at__lt=chunk[-1] + timedelta(days=1),
            )
            .exclude(user_ref="")
            .annotate(day=TruncDay("occurred_at"))
            .values_list("day", "user_ref")
            .distinct()
        )
        rows = [
            ActiveUserDay(
                organization_id=organization_id, use_case_id=use_case_id, day=day.date(),
                user_ref=user,
            )
            for day, user in pairs
            if day.date() in dates
        ]  # fmt: skip
        with transaction.atomic():
            ActiveUserDay.objects.for_org(organization_id).filter(
                use_case_id=use_case_id, day__in=dates
            ).delete()
            ActiveUserDay.objects.bulk_create(rows, batch_size=2000)


def rollup_organization(organization_id: int, *, now: datetime | None = None) -> RollupRun:
    """Bring the organization's rollups up to the events received until now."""
    now = now or timezone.now()
    RollupWatermark.objects.bulk_create(
        [RollupWatermark(organization_id=organization_id)], ignore_conflicts=True
    )
    with transaction.atomic():
        # One run per organization at a time; a second one waits, then finds nothing new.
        mark = RollupWatermark.objects.for_org(organization_id).select_for_update().get()
        since = mark.received_until - OVERLAP if mark.received_until else None
        touched = _touched(organization_id, since, now)
        run = RollupRun()
        for use_case_id, hours in touched.items():
            days = {h.replace(hour=0) for h in hours}
            _recompute(organization_id, use_case_id, Granularity.HOUR, hours)
            _recompute(organization_id, use_case_id, Granularity.DAY, days)
            _active_users(organization_id, use_case_id, days)
            run.hours += len(hours)
            run.days += len(days)
        RollupWatermark.objects.for_org(organization_id).filter(pk=mark.pk).update(
            received_until=now
        )
    return run


def organizations_with_new_events(now: datetime | None = None) -> list[int]:
    """Organizations that received events since their watermark (for the beat task)."""
    from genai_po.models import Organization

    now = now or timezone.now()
    marks = dict(
        RollupWatermark.objects.across_orgs().values_list("organization_id", "received_until")
    )
    due = []
    for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        since = marks.get(org_id)
        rows = TelemetryEvent.objects.for_org(org_id)
        if since is not None:
            rows = rows.filter(received_at__gt=since - OVERLAP)
        if rows.filter(received_at__lte=now).exists():
            due.append(org_id)
    return due
