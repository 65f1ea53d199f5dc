"""The SLA's business days: Monday to Friday, weekends skipped, in the server time zone."""

from datetime import datetime

import pytest
from django.utils import timezone

from context.business_days import add_business_days, business_days_between


def at(text: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(text))


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        ("2026-12-07 10:00", 3, "2026-12-10 10:00"),  # Monday -> Thursday
        ("2026-12-10 15:30", 3, "2026-12-15 15:30"),  # Thursday -> Tuesday, over a weekend
        ("2026-12-11 09:00", 1, "2026-12-14 09:00"),  # Friday -> Monday
        ("2026-12-12 14:00", 1, "2026-12-15 00:00"),  # Saturday counts from Monday 00:00
        ("2026-12-13 23:59", 2, "2026-12-16 00:00"),  # Sunday too
        ("2026-12-07 10:00", 10, "2026-12-21 10:00"),  # two weeks
        ("2026-12-07 10:00", 0, "2026-12-07 10:00"),
    ],
)
def test_a_due_date_skips_weekends(start, days, due):
    assert add_business_days(at(start), days) == at(due)


def test_negative_days_are_refused():
    with pytest.raises(ValueError):
        add_business_days(at("2026-12-07 10:00"), -1)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2026-12-07 10:00", "2026-12-07 22:00", 0.5),
        ("2026-12-11 12:00", "2026-12-14 12:00", 1.0),  # Friday noon -> Monday noon
        ("2026-12-12 08:00", "2026-12-13 20:00", 0.0),  # all weekend
        ("2026-12-07 00:00", "2026-12-14 00:00", 5.0),
        ("2026-12-08 00:00", "2026-12-07 00:00", 0.0),
    ],
)
def test_working_time_between_two_moments(start, end, days):
    assert business_days_between(at(start), at(end)) == pytest.approx(days)
