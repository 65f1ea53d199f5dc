"""What the dashboards read: rollups over a date range, never raw events.

Every read here is bounded by the number of buckets in the range (and of use cases), not by
the number of events: a use case with ten million events costs what one with ten thousand
does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from metrics import figures, rollups
from metrics.models import (
    BusinessMetricReading,
    Granularity,
    MetricRollup,
    UserFirstSeen,
    ValueAssumptions,
)

SUMMED = (
    "events", "interactions", "successes", "failures", "escalations", "abandoned", "errors",
    "feedback", "hallucinations", "unsafe", "unsupported_claims", "latency_ms_sum",
    "latency_count", "tokens_in", "tokens_out", "cost", "minutes_saved",
    "successes_without_minutes", "knowledge_retrieved", "online_scored", "online_failures",
    "online_hallucinations",
)  # fmt: skip
PRESETS = {"24h": 1, "7d": 7, "30d": 30, "90d": 90}
DEFAULT_PRESET = "30d"
MAX_DAYS = 400


class RangeError(ValueError):
    """A date range that cannot be shown; the message says why."""


@dataclass(frozen=True)
class Range:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive
    granularity: str
    preset: str = ""

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    @property
    def months(self) -> float:
        return self.days / (365.25 / 12)

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()

    def query(self) -> str:
        if self.preset:
            return f"range={self.preset}"
        return f"start={self.first_day:%Y-%m-%d}&end={self.last_day:%Y-%m-%d}"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RangeError(f"The {name} date must be a date like 2026-05-31.") from None


def parse_range(params, *, now: datetime | None = None) -> Range:
    """The range a dashboard shows: `range=24h|7d|30d|90d`, or `start` and `end` dates
    (both included). Raises RangeError for a range that cannot be shown."""
    now = now or timezone.now()
    start_text, end_text = (params.get("start") or "").strip(), (params.get("end") or "").strip()
    if start_text or end_text:
        if not (start_text and end_text):
            raise RangeError("Give both a start and an end date, or pick a range.")
        first, last = _day(start_text, "start"), _day(end_text, "end")
        if last < first:
            raise RangeError("The end date is before the start date.")
        if (last - first).days + 1 > MAX_DAYS:
            raise RangeError(f"A range covers at most {MAX_DAYS} days.")
        if first.year < 2000 or last > now.date() + timedelta(days=1):
            raise RangeError("The range must lie between the year 2000 and today.")
        return Range(_midnight(first), _midnight(last + timedelta(days=1)), Granularity.DAY)
    preset = params.get("range") or DEFAULT_PRESET
    if preset not in PRESETS:
        raise RangeError("Pick a range of 24 hours, 7, 30 or 90 days.")
    if preset == "24h":
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return Range(end - timedelta(hours=24), end, Granularity.HOUR, preset)
    end = _midnight(now.date() + timedelta(days=1))
    return Range(end - timedelta(days=PRESETS[preset]), end, Granularity.DAY, preset)


def _rollups(organization, use_case_ids, span: Range):
    rows = MetricRollup.objects.for_org(organization).filter(
        granularity=span.granularity, bucket__gte=span.start, bucket__lt=span.end
    )
    if use_case_ids is not None:
        rows = rows.filter(use_case_id__in=use_case_ids)
    return rows


def _zeroes() -> dict:
    return dict.fromkeys(SUMMED, 0)


def totals(organization, use_case_ids, span: Range) -> dict:
    """The sums of the range's rollups."""
    sums = _rollups(organization, use_case_ids, span).aggregate(**{f: Sum(f) for f in SUMMED})
    return {k: (v or 0) for k, v in sums.items()}


@dataclass
class Bucket:
    start: datetime
    values: dict = field(default_factory=_zeroes)
    users: int = 0
    users_7d: int = 0
    users_30d: int = 0
    new_users: int = 0
    returning_users: int = 0
    cohort_7d: int = 0


def buckets(organization, use_case_ids, span: Range) -> list[Bucket]:
    """One entry per hour or day of the range that has telemetry, oldest first; across use
    cases the values are summed (users too: a person using two use cases counts twice)."""
    user_fields = ("users", "users_7d", "users_30d", "new_users", "returning_users", "cohort_7d")
    rows = (
        _rollups(organization, use_case_ids, span)
        .values("bucket")
        .annotate(**{f: Sum(f) for f in (*SUMMED, *user_fields)})
        .order_by("bucket")
    )
    result = []
    for row in rows:
        bucket = Bucket(start=row["bucket"], values={f: row[f] or 0 for f in SUMMED})
        for name in user_fields:
            setattr(bucket, name, row[name] or 0)
        result.append(bucket)
    return result


@dataclass(frozen=True)
class Cohort:
    launch: date | None
    size: int
    points: list[tuple[date, float]]  # (day, share of the cohort active over 7 days)


def launch_cohort(organization, use_case, days: list[Bucket]) -> Cohort:
    """The launch cohort's retention, one point a week after launch, from the day rollups."""
    org_id = getattr(organization, "pk", organization)
    launch = rollups.launch_day(org_id, use_case.pk)
    if launch is None:
        return Cohort(None, 0, [])
    size = (
        UserFirstSeen.objects.for_org(org_id)
        .filter(use_case=use_case, first_day__lt=launch + timedelta(days=rollups.LAUNCH_WEEK))
        .count()
    )
    points = []
    for bucket in days:
        day = bucket.start.date()
        if size and day >= launch + timedelta(days=6) and (day - launch).days % 7 == 6:
            points.append((day, bucket.cohort_7d / size))
    return Cohort(launch, size, points)


def users_ever(organization, use_case_ids) -> int:
    rows = UserFirstSeen.objects.for_org(organization)
    if use_case_ids is not None:
        rows = rows.filter(use_case_id__in=use_case_ids)
    return rows.count()


def assumptions_for(organization, use_case=None) -> ValueAssumptions:
    """The use case's own value assumptions, else the organization's, else the defaults
    (unsaved: what the ROI uses until someone edits them)."""
    org_id = getattr(organization, "pk", organization)
    wanted = Q(use_case__isnull=True)
    if use_case is not None:
        wanted |= Q(use_case=use_case)
    rows = {row.use_case_id: row for row in ValueAssumptions.objects.for_org(org_id).filter(wanted)}
    if use_case is not None and use_case.pk in rows:
        return rows[use_case.pk]
    return rows.get(None) or ValueAssumptions(organization_id=org_id)


def readings_of(organization, use_case, span: Range | None = None):
    rows = BusinessMetricReading.objects.for_org(organization).filter(use_case=use_case)
    if span is not None:
        rows = rows.filter(measured_on__gte=span.first_day, measured_on__lte=span.last_day)
    return rows.order_by("measured_on")


def use_cases_with_telemetry(organization) -> dict[int, int]:
    """{use case id: day rollups} of the use cases that have any telemetry."""
    return dict(
        MetricRollup.objects.for_org(organization)
        .filter(granularity=Granularity.DAY)
        .values("use_case_id")
        .annotate(n=Count("pk"))
        .values_list("use_case_id", "n")
    )


def rates(t: dict) -> dict:
    return {key: fn(t) for key, fn in figures.RATES.items()}


@dataclass
class Board:
    """Everything one dashboard shows, read from rollups and the other areas' selectors."""

    organization: object
    use_case: object | None
    span: Range
    buckets: list[Bucket]
    totals: dict
    assumptions: ValueAssumptions
    roi: figures.Roi
    sme_answers: int
    loop: object
    users_ever: int = 0
    cohort: Cohort | None = None
    readings: list = field(default_factory=list)
    eval_trends: list = field(default_factory=list)
    per_use_case: list = field(default_factory=list)
    thresholds: list = field(default_factory=list)
    summaries: list = field(default_factory=list)

    @property
    def hourly(self) -> bool:
        return self.span.granularity == Granularity.HOUR

    @property
    def currency(self) -> str:
        return self.assumptions.currency

    @property
    def target_users(self) -> int | None:
        return getattr(self.use_case, "user_count", None)

    @property
    def rates(self) -> dict:
        return rates(self.totals)

    @property
    def latency(self) -> float | None:
        return figures.latency(self.totals)

    @property
    def cost_per_success(self) -> float | None:
        return figures.cost_per_success(self.totals)

    @property
    def latest(self) -> Bucket | None:
        return self.buckets[-1] if self.buckets else None

    @property
    def has_telemetry(self) -> bool:
        return bool(self.totals["events"])


def _number(value) -> str:
    """A Decimal without its trailing zeros: 12, 2.5."""
    return f"{value.normalize():f}"


def _thresholds(organization, use_case) -> list[dict]:
    from metrics.models import AlertCondition, AlertRule

    rules = AlertRule.objects.for_org(organization).filter(
        use_case=use_case, enabled=True, condition__in=(AlertCondition.ABOVE, AlertCondition.BELOW)
    )
    lines = []
    for rule in rules.order_by("number"):
        if rule.metric in figures.RATES:
            lines.append({
                "label": f"{rule.key}: {rule.get_metric_display()} {rule.get_condition_display()} "
                f"{_number(rule.threshold)}%",
                "value": float(rule.threshold), "color": "#D55E00",
            })  # fmt: skip
    return lines


def board_for(organization, use_case, span: Range) -> Board:
    """The dashboard of one use case, or of the portfolio when use_case is None."""
    from context import selectors as context_selectors

    ids = [use_case.pk] if use_case is not None else None
    sums = totals(organization, ids, span)
    assumptions = assumptions_for(organization, use_case)
    sme = context_selectors.sme_answers_between(
        organization, start=span.start, end=span.end, use_case=use_case
    )
    board = Board(
        organization=organization, use_case=use_case, span=span,
        buckets=buckets(organization, ids, span), totals=sums, assumptions=assumptions,
        roi=figures.roi(sums, assumptions, months=span.months, sme_answers=sme),
        sme_answers=sme, loop=context_selectors.loop_metrics(organization, use_case=use_case),
        users_ever=users_ever(organization, ids),
    )  # fmt: skip
    if use_case is None:
        board.per_use_case = _per_use_case(organization, span)
        board.roi = _portfolio_roi(organization, span, assumptions, sme)
        return board
    from evals import selectors as eval_selectors

    board.cohort = launch_cohort(organization, use_case, board.buckets if not board.hourly else [])
    board.readings = list(readings_of(organization, use_case, span))
    board.eval_trends = [
        (plan, [p for p in eval_selectors.trend_points(plan) if p["finished_at"]])
        for plan in eval_selectors.plans_of(organization, use_case=use_case)
    ]
    board.thresholds = _thresholds(organization, use_case)
    return board


def _portfolio_roi(organization, span: Range, org_assumptions, sme: int) -> figures.Roi:
    """The portfolio's ROI with each use case's own assumptions (two queries)."""
    own = {
        row.use_case_id: row
        for row in ValueAssumptions.objects.for_org(organization).filter(use_case__isnull=False)
    }
    parts = [(row["totals"], own.get(row["use_case"].pk, org_assumptions))
             for row in portfolio_rows(organization, span)]  # fmt: skip
    return figures.portfolio_roi(parts, org_assumptions, months=span.months, sme_answers=sme)


def _per_use_case(organization, span: Range) -> list:
    """[(use case, [Bucket])] of the use cases with telemetry in the range."""
    from usecases.models import UseCase

    rows = (
        _rollups(organization, None, span)
        .values("use_case_id", "bucket")
        .annotate(**{f: Sum(f) for f in SUMMED})
        .order_by("use_case_id", "bucket")
    )
    points: dict[int, list[Bucket]] = {}
    for row in rows:
        points.setdefault(row["use_case_id"], []).append(
            Bucket(start=row["bucket"], values={f: row[f] or 0 for f in SUMMED})
        )
    use_cases = UseCase.objects.for_org(organization).filter(pk__in=points).order_by("number")
    return [(uc, points[uc.pk]) for uc in use_cases]


def portfolio_rows(organization, span: Range) -> list[dict]:
    """Per use case with telemetry in the range: its totals and rates (one query)."""
    from usecases.models import UseCase

    sums = {
        row.pop("use_case_id"): {k: (v or 0) for k, v in row.items()}
        for row in _rollups(organization, None, span)
        .values("use_case_id")
        .annotate(**{f: Sum(f) for f in SUMMED})
        .order_by()
    }
    use_cases = UseCase.objects.for_org(organization).filter(pk__in=sums).order_by("number")
    return [
        {"use_case": uc, "totals": sums[uc.pk], "rates": rates(sums[uc.pk]),
         "cost_per_success": figures.cost_per_success(sums[uc.pk])}
        for uc in use_cases
    ]  # fmt: skip
