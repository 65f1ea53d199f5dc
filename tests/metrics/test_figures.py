"""Each formula against figures computed by hand, and the user windows (weekly and monthly
active users, new and returning users, the launch cohort) of the day rollups."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from metrics import dashboard, figures, ingest, rollups
from metrics.models import MetricRollup, ValueAssumptions
from tests.factories.usecases import UseCaseFactory

TOTALS = dict.fromkeys(dashboard.SUMMED, 0) | {
    "interactions": 200, "successes": 150, "failures": 20, "escalations": 20, "abandoned": 10,
    "errors": 10, "hallucinations": 6, "online_scored": 40, "online_failures": 8,
    "online_hallucinations": 2, "latency_ms_sum": 90_000, "latency_count": 120, "cost": 6.0,
    "minutes_saved": 300.0, "successes_without_minutes": 50,
}  # fmt: skip


def test_rates_match_the_hand_computed_figures():
    assert figures.task_success_rate(TOTALS) == 150 / 200  # 150 of 200 with an outcome
    assert figures.error_rate(TOTALS) == 10 / 210
    assert figures.hallucination_rate(TOTALS) == 6 / 200
    assert figures.online_failure_rate(TOTALS) == 8 / 40
    assert figures.online_hallucination_rate(TOTALS) == 2 / 40
    assert figures.escalation_rate(TOTALS) == 20 / 200
    assert figures.latency(TOTALS) == 750
    assert figures.cost_per_success(TOTALS) == 6.0 / 150


def test_a_rate_with_nothing_to_divide_by_is_no_data_not_zero():
    empty = dict.fromkeys(dashboard.SUMMED, 0)
    assert all(rate(empty) is None for rate in figures.RATES.values())
    assert figures.latency(empty) is None and figures.cost_per_success(empty) is None


def test_roi_counts_time_saved_other_value_ai_cost_and_sme_time():
    assumptions = ValueAssumptions(
        loaded_hourly_cost=Decimal(60), minutes_saved_per_success=Decimal(3),
        other_value_per_month=Decimal(500), sme_hourly_cost=Decimal(90),
        sme_minutes_per_answer=Decimal(20),
    )  # fmt: skip
    roi = figures.roi(TOTALS, assumptions, months=2, sme_answers=6)
    # (300 reported + 50 successes × 3 default) minutes = 450 min = 7.5 h × 60 = 450
    assert roi.hours_saved == 7.5 and roi.time_value == 450
    assert roi.other_value == 1000  # 500 a month × 2
    assert roi.ai_cost == 6.0
    assert roi.sme_cost == 6 * 20 / 60 * 90  # 180
    assert roi.net == 1450 - 186
    assert roi.ratio == pytest.approx((1450 - 186) / 186)


def test_the_portfolio_values_each_use_case_with_its_own_assumptions():
    org = ValueAssumptions(
        loaded_hourly_cost=Decimal(60), minutes_saved_per_success=Decimal(3),
        other_value_per_month=Decimal(500), sme_hourly_cost=Decimal(90),
        sme_minutes_per_answer=Decimal(20),
    )  # fmt: skip
    own = ValueAssumptions(
        use_case_id=7, loaded_hourly_cost=Decimal(30), minutes_saved_per_success=Decimal(6),
        other_value_per_month=Decimal(100),
    )  # fmt: skip
    roi = figures.portfolio_roi([(TOTALS, org), (TOTALS, own)], org, months=2, sme_answers=6)
    # First: 7.5 h × 60 = 450. Second: (300 + 50 × 6) min = 10 h × 30 = 300.
    assert roi.hours_saved == 17.5 and roi.time_value == 750
    assert roi.other_value == 500 * 2 + 100 * 2  # the organization's once, the own one
    assert roi.ai_cost == 12.0 and roi.sme_cost == 180 and not roi.mixed
    dollars = ValueAssumptions(use_case_id=8, currency="USD")
    mixed = figures.portfolio_roi([(TOTALS, org), (TOTALS, dollars)], org, months=1,
                                  sme_answers=0)  # fmt: skip
    assert mixed.mixed and mixed.currencies == ("EUR", "USD")


def test_every_metric_has_a_definition_with_a_formula():
    keys = {d.key for d in figures.DEFINITIONS}
    assert set(figures.RATES) <= keys
    wanted = {"dau", "wau", "mau", "cohort_retention", "roi", "context_coverage", "sme_response",
              "eval_pass_rate", "business_metric", "cost_per_success"}  # fmt: skip
    assert wanted <= keys
    assert all(d.formula and d.why for d in figures.DEFINITIONS)


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _active(uc, days_and_users):
    return [
        {"event_id": f"w-{day}-{user}", "use_case": uc.key, "type": "interaction",
         "outcome": "success", "user": user,
         "occurred_at": (NOW - timedelta(days=day)).isoformat()}
        for day, users in days_and_users
        for user in users
    ]  # fmt: skip


@pytest.mark.django_db
def test_day_rollups_hold_weekly_monthly_new_returning_and_cohort_users(org_a):
    uc = UseCaseFactory(organization=org_a)
    # Day -20 (launch): u1 u2 u3. Day -16: u1 (inside the launch week). Day -10: u4.
    # Day -3: u1 u4 u5. Today: u1 u5 u6.
    pattern = [(20, ["u1", "u2", "u3"]), (16, ["u1"]), (10, ["u4"]), (3, ["u1", "u4", "u5"]),
               (0, ["u1", "u5", "u6"])]  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        ingest.ingest(org_a.pk, _active(uc, pattern))
        rollups.rollup_organization(org_a.pk)
    day = {
        r.bucket.date(): r
        for r in MetricRollup.objects.for_org(org_a).filter(granularity="day", use_case=uc)
    }
    today = day[NOW.date()]
    assert today.users == 3
    assert today.users_7d == 4  # days -6 to 0: u1 u4 u5 (day -3), u1 u5 u6 (today)
    assert today.users_30d == 6  # everyone
    assert (today.new_users, today.returning_users) == (1, 2)  # u6 new; u1, u5 back
    assert today.cohort_7d == 1  # of the launch cohort (u1 u2 u3), only u1 in the last week
    three_ago = day[(NOW - timedelta(days=3)).date()]
    assert (three_ago.users_7d, three_ago.new_users, three_ago.returning_users) == (3, 1, 2)
    assert rollups.launch_day(org_a.pk, uc.pk) == (NOW - timedelta(days=20)).date()
    assert rollups.launch_cohort(org_a.pk, uc.pk) == {"u1", "u2", "u3"}


@pytest.mark.django_db
def test_a_late_event_updates_the_user_windows_of_the_following_days(org_a):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(NOW, tick=False):
        ingest.ingest(org_a.pk, _active(uc, [(0, ["u1"])]))
        rollups.rollup_organization(org_a.pk)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        ingest.ingest(org_a.pk, _active(uc, [(2, ["u9"])]))  # two days ago, sent late
        rollups.rollup_organization(org_a.pk)
    today = MetricRollup.objects.for_org(org_a).get(
        granularity="day", use_case=uc, bucket__date=NOW.date()
    )
    assert (today.users_7d, today.users_30d) == (2, 2)


def test_the_range_filter_parses_presets_and_dates_and_refuses_the_rest():
    now = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
    span = dashboard.parse_range({}, now=now)
    assert (span.preset, span.granularity, span.days) == ("30d", "day", 30)
    assert span.last_day == date(2026, 11, 20)
    hourly = dashboard.parse_range({"range": "24h"}, now=now)
    assert hourly.granularity == "hour" and hourly.days == 1
    custom = dashboard.parse_range({"start": "2026-11-01", "end": "2026-11-10"}, now=now)
    assert (custom.first_day, custom.last_day, custom.days) == (
        date(2026, 11, 1),
        date(2026, 11, 10),
        10,
    )
    for params, message in [
        ({"range": "5y"}, "Pick a range"),
        ({"start": "2026-11-01"}, "both a start and an end"),
        ({"start": "2026-11-10", "end": "2026-11-01"}, "before the start"),
        ({"start": "2020-01-01", "end": "2026-11-01"}, "at most 400 days"),
        ({"start": "yesterday", "end": "2026-11-01"}, "like 2026-05-31"),
        ({"start": "2026-11-01", "end": "2027-11-01"}, "today"),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "2000"),
    ]:
        with pytest.raises(dashboard.RangeError, match=message):
            dashboard.parse_range(params, now=now)


@pytest.mark.django_db
def test_retrieved_knowledge_of_ours_feeds_production_context_coverage(org_a, org_b):
    from tests.factories.context import make_knowledge

    ours, theirs = make_knowledge(org_a), make_knowledge(org_b, title="Other")
    uc = UseCaseFactory(organization=org_a)
    rows = [[f"KB-{ours.number}"], [f"KB-{ours.number}", "KB-999"], ["KB-999"], [],
            [theirs.number + 1000]]  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        ingest.ingest(org_a.pk, [
            {"event_id": f"k-{n}", "use_case": uc.key, "type": "interaction",
             "occurred_at": (NOW - timedelta(minutes=1)).isoformat(), "knowledge_ids": ids}
            for n, ids in enumerate(rows)
        ])  # fmt: skip
        rollups.rollup_organization(org_a.pk)
    day = MetricRollup.objects.for_org(org_a).get(granularity="day", use_case=uc)
    assert day.knowledge_retrieved == 2  # the first two: an item of ours among them
    totals = dashboard.totals(org_a, [uc.pk], dashboard.parse_range({}, now=NOW))
    assert figures.production_context_coverage(totals) == 2 / 5
