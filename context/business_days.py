"""Business days: Monday to Friday, counted in the organization's time zone (the
server's, TIME_ZONE). An SLA of N business days from a moment ends at the same time of
day N working days later; a gap routed on a Saturday counts from Monday morning."""

from datetime import datetime, time, timedelta

from django.utils import timezone


def is_business_day(day) -> bool:
    return day.weekday() < 5


def add_business_days(start: datetime, days: int) -> datetime:
    """The moment `days` business days after `start` (aware, in the current time zone).

    From a weekend moment, counting starts at the next Monday 00:00, so the deadline is
    that many full working days later.
    """
    if days < 0:
        raise ValueError("days must be 0 or more")
    local = timezone.localtime(start)
    if not is_business_day(local.date()):
        day = local.date()
        while not is_business_day(day):
            day += timedelta(days=1)
        local = timezone.make_aware(datetime.combine(day, time.min), local.tzinfo)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return timezone.make_aware(datetime.combine(day, local.time()), local.tzinfo)


def business_days_between(start: datetime, end: datetime) -> float:
    """Working time from `start` to `end`, in business days (weekends do not count)."""
    if end <= start:
        return 0.0
    start, end = timezone.localtime(start), timezone.localtime(end)
    total = timedelta()
    cursor = start
    while cursor < end:
        next_midnight = timezone.make_aware(
            datetime.combine(cursor.date() + timedelta(days=1), time.min), cursor.tzinfo
        )
        stop = min(next_midnight, end)
        if is_business_day(cursor.date()):
            total += stop - cursor
        cursor = stop
    return total / timedelta(days=1)
