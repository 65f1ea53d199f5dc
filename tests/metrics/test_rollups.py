"""Rollups: hourly and daily aggregates from a watermark, late events re-aggregating only
their own buckets, idempotent, against hand-computed figures."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from metrics import ingest, rollups
from metrics.models import ActiveUserDay, MetricRollup
from metrics.tasks import rollups_update
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def events(uc, prefix, rows):
    """rows: (minutes before NOW, outcome, user, latency, flags)."""
    return [
        {
            "event_id": f"{prefix}-{n}", "use_case": uc.key, "type": "interaction",
            "occurred_at": (NOW - timedelta(minutes=minutes)).isoformat(), "outcome": outcome,
            "user": user, "latency_ms": latency, "flags": flags, "tokens_in": 100,
            "cost": 0.5, "minutes_saved": 2,
        }
        for n, (minutes, outcome, user, latency, flags) in enumerate(rows)
    ]  # fmt: skip


def rollup(org, granularity, bucket):
    return MetricRollup.objects.for_org(org).get(granularity=granularity, bucket=bucket)


def test_hour_and_day_rollups_match_the_hand_count_and_a_second_run_changes_nothing(org_a):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(NOW, tick=False):
        ingest.ingest(org_a.pk, events(uc, "a", [
            (10, "success", "u1", 800, []),          # 11:50
            (20, "escalated", "u2", 1200, ["hallucination"]),  # 11:40
            (30, "failure", "u1", None, ["unsafe"]),  # 11:30
            (70, "success", "u3", 400, []),           # 10:50
        ]))  # fmt: skip
        first = rollups.rollup_organization(org_a.pk)
    assert (first.hours, first.days) == (2, 1)
    eleven = rollup(org_a, "hour", NOW.replace(hour=11))
    assert (eleven.events, eleven.successes, eleven.escalations, eleven.failures) == (3, 1, 1, 1)
    assert (eleven.hallucinations, eleven.unsafe, eleven.users) == (1, 1, 2)
    assert (eleven.latency_ms_sum, eleven.latency_count) == (2000, 2)
    assert (eleven.tokens_in, eleven.cost, eleven.minutes_saved) == (300, 1.5, 6)
    day = rollup(org_a, "day", NOW.replace(hour=0))
    assert (day.events, day.users) == (4, 3)
    assert ActiveUserDay.objects.for_org(org_a).count() == 3
    snapshot = list(MetricRollup.objects.for_org(org_a).order_by("pk").values())
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        rollups.rollup_organization(org_a.pk)
    assert [
        {k: v for k, v in r.items() if k != "id"}
        for r in MetricRollup.objects.for_org(org_a).order_by("bucket", "granularity").values()
    ] == [
        {k: v for k, v in r.items() if k != "id"}
        for r in sorted(snapshot, key=lambda r: (r["bucket"], r["granularity"]))
    ]


def test_a_late_event_re_aggregates_only_its_own_buckets(org_a):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(NOW, tick=False):
        ingest.ingest(org_a.pk, events(uc, "a", [(10, "success", "u1", 1, []),
                                                 (60 * 30, "success", "u2", 1, [])]))  # fmt: skip
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):  # past the overlap
        rollups.rollup_organization(org_a.pk)
    old_day = NOW.replace(hour=0) - timedelta(days=1)
    today = rollup(org_a, "day", NOW.replace(hour=0))
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        # An event from yesterday arrives late.
        ingest.ingest(org_a.pk, events(uc, "late", [(60 * 30 + 5, "failure", "u9", 1, [])]))
        run = rollups.rollup_organization(org_a.pk)
    assert (run.hours, run.days) == (1, 1)
    yesterday = rollup(org_a, "day", old_day)
    assert (yesterday.events, yesterday.failures, yesterday.users) == (2, 1, 2)
    assert rollup(org_a, "day", NOW.replace(hour=0)).pk == today.pk  # untouched


def test_the_beat_task_rolls_up_each_organization_with_new_events(org_a, org_b):
    uc_a, uc_b = UseCaseFactory(organization=org_a), UseCaseFactory(organization=org_b)
    with time_machine.travel(NOW, tick=False):
        ingest.ingest(org_a.pk, events(uc_a, "a", [(5, "success", "u1", 1, [])]))
        ingest.ingest(org_b.pk, events(uc_b, "b", [(5, "failure", "u1", 1, [])]))
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        assert rollups_update() == 2
        assert MetricRollup.objects.for_org(org_b).get(granularity="hour").failures == 1
        assert MetricRollup.objects.for_org(org_a).get(granularity="hour").failures == 0
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
        assert rollups_update() == 0  # nothing new past the overlap
