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
from django.db.models import Count, Min, Q, Sum
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
    UserFirstSeen,
)

OVERLAP = timedelta(minutes=2)  # longer than any ingest transaction
BUCKETS_PER_STEP = 500  # buckets recomputed per query round

# Filters come first: a later key shadows the field of its name (minutes_saved, cost…).
AGGREGATES = {
    "successes_without_minutes": Count(
        "pk", filter=Q(outcome=Outcome.SUCCESS, minutes_saved__isnull=True)
    ),
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
    "knowledge_retrieved": Count("pk", filter=Q(knowledge_matched=True)),
    "online_scored": Count("pk", filter=Q(online_passed__isnull=False)),
    "online_failures": Count("pk", filter=Q(online_passed=False)),
    "online_hallucinations": Count("pk", filter=Q(online_hallucination=True)),
}
WINDOWS = {"users_7d": 7, "users_30d": 30}  # day rollups: active users over N days


@dataclass
class RollupRun:
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


def _first_seen(organization_id: int, use_case_id: int, days: set) -> None:
    """Each user active on these days: the first day they were ever active."""
    dates = {d.date() for d in days}
    active = ActiveUserDay.objects.for_org(organization_id).filter(use_case_id=use_case_id)
    users = sorted(set(active.filter(day__in=dates).values_list("user_ref", flat=True)))
    for start in range(0, len(users), 2000):
        chunk = users[start : start + 2000]
        rows = [
            UserFirstSeen(
                organization_id=organization_id, use_case_id=use_case_id, user_ref=user,
                first_day=first,
            )
            for user, first in active.filter(user_ref__in=chunk)
            .values("user_ref").annotate(first=Min("day")).values_list("user_ref", "first")
        ]  # fmt: skip
        UserFirstSeen.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["organization", "use_case", "user_ref"],
            update_fields=["first_day"],
        )


def _user_windows(organization_id: int, use_case_id: int, days: set, today) -> None:
    """Active users over 7 and 30 days, new and returning users, on the day rollups these
    days change: each day touched and the 29 after it (up to today)."""
    dates = {d.date() for d in days}
    affected = sorted(
        {d + timedelta(days=k) for d in dates for k in range(30) if d + timedelta(days=k) <= today}
    )
    if not affected:
        return
    rollups = {
        r.bucket.date(): r
        for r in MetricRollup.objects.for_org(organization_id).filter(
            use_case_id=use_case_id,
            granularity=Granularity.DAY,
            bucket__date__gte=affected[0],
            bucket__date__lte=affected[-1],
        )
    }
    affected = [d for d in affected if d in rollups]
    if not affected:
        return
    by_day: dict = defaultdict(set)
    for day, user in (
        ActiveUserDay.objects.for_org(organization_id)
        .filter(
            use_case_id=use_case_id,
            day__gte=affected[0] - timedelta(days=29),
            day__lte=affected[-1],
        )
        .values_list("day", "user_ref")
    ):
        by_day[day].add(user)
    new_by_day = dict(
        UserFirstSeen.objects.for_org(organization_id)
        .filter(use_case_id=use_case_id, first_day__in=affected)
        .values("first_day")
        .annotate(n=Count("pk"))
        .values_list("first_day", "n")
    )
    cohort = launch_cohort(organization_id, use_case_id)
    changed = []
    for day in affected:
        row = rollups[day]
        week: set = set()
        for field, span in WINDOWS.items():
            users: set = set()
            for k in range(span):
                users |= by_day.get(day - timedelta(days=k), set())
            setattr(row, field, len(users))
            week = users if span == 7 else week
        row.cohort_7d = len(week & cohort)
        row.new_users = new_by_day.get(day, 0)
        row.returning_users = max(0, len(by_day.get(day, ())) - row.new_users)
        changed.append(row)
    MetricRollup.objects.for_org(organization_id).bulk_update(
        changed,
        ["users_7d", "users_30d", "new_users", "returning_users", "cohort_7d"],
        batch_size=1000,
    )


LAUNCH_WEEK = 7  # days: the users first seen in them are the launch cohort


def launch_day(organization_id: int, use_case_id: int):
    """The first day the use case had an active user (None before any)."""
    return (
        UserFirstSeen.objects.for_org(organization_id)
        .filter(use_case_id=use_case_id)
        .aggregate(first=Min("first_day"))["first"]
    )


def launch_cohort(organization_id: int, use_case_id: int) -> set[str]:
    """The users first seen in the use case's first week of telemetry."""
    first = launch_day(organization_id, use_case_id)
    if first is None:
        return set()
    return set(
        UserFirstSeen.objects.for_org(organization_id)
        .filter(use_case_id=use_case_id, first_day__lt=first + timedelta(days=LAUNCH_WEEK))
        .values_list("user_ref", flat=True)
    )


def _apply(organization_id: int, touched: dict, now: datetime) -> RollupRun:
    """Recompute the touched hours of each use case, their days and the days' users (the
    caller holds the organization's watermark lock)."""
    run = RollupRun()
    for use_case_id, hours in touched.items():
        days = {h.replace(hour=0) for h in hours}
        _recompute(organization_id, use_case_id, Granularity.HOUR, hours)
        _recompute(organization_id, use_case_id, Granularity.DAY, days)
        _active_users(organization_id, use_case_id, days)
        _first_seen(organization_id, use_case_id, days)
        _user_windows(organization_id, use_case_id, days, now.date())
        run.hours += len(hours)
        run.days += len(days)
    return run


def _locked_watermark(organization_id: int) -> RollupWatermark:
    RollupWatermark.objects.bulk_create(
        [RollupWatermark(organization_id=organization_id)], ignore_conflicts=True
    )
    # One run per organization at a time; a second one waits, then finds nothing new.
    return RollupWatermark.objects.for_org(organization_id).select_for_update().get()


def rollup_organization(organization_id: int, *, now: datetime | None = None) -> RollupRun:
    """Bring the organization's rollups up to the events received until now."""
    now = now or timezone.now()
    with transaction.atomic():
        mark = _locked_watermark(organization_id)
        since = mark.received_until - OVERLAP if mark.received_until else None
        touched = _touched(organization_id, since, now)
        run = _apply(organization_id, touched, now)
        RollupWatermark.objects.for_org(organization_id).filter(pk=mark.pk).update(
            received_until=now
        )
    transaction.on_commit(lambda: _rolled_up(organization_id, now))
    return run


def recompute_hours(organization_id: int, touched: dict, *, now: datetime | None = None) -> None:
    """Recompute these {use case id: hour starts} (events changed in place, as online
    scoring does), under the same lock as the beat's rollups."""
    now = now or timezone.now()
    with transaction.atomic():
        _locked_watermark(organization_id)
        _apply(organization_id, touched, now)


def _rolled_up(organization_id: int, now: datetime) -> None:
    """What reads the rollups goes on from here: the alerts are checked."""
    from metrics import alerts

    alerts.evaluate_organization(organization_id, now=now)


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
