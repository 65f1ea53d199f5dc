"""Plotly figures of the dashboards, built in Python as JSON-ready dicts, each with the
table of its data points (the CSV download of the chart is that table).

Colours are the Okabe-Ito palette (readable with colour-blindness); a target or threshold
is a dashed line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder

from metrics import figures

BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, YELLOW, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999",
)  # fmt: skip


@dataclass
class Chart:
    key: str
    title: str
    definitions: list[str]
    figure: dict
    columns: list[str]
    rows: list[list] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rows

    @property
    def formulas(self) -> list[figures.Definition]:
        return [figures.BY_KEY[key] for key in self.definitions]

    @property
    def json(self) -> str:
        """The figure for `data-plotly-json` (an attribute: it survives htmx swaps)."""
        return json.dumps(self.figure, cls=DjangoJSONEncoder, separators=(",", ":"))


def _layout(y_title: str, *, percent: bool = False, height: int = 280, **extra) -> dict:
    layout = {
        "height": height, "margin": {"l": 55, "r": 10, "t": 10, "b": 40},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "xaxis": {"type": "date"},
        "legend": {"orientation": "h", "y": -0.25},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "hovermode": "x unified",
    }  # fmt: skip
    if percent:
        layout["yaxis"]["ticksuffix"] = "%"
    layout.update(extra)
    return layout


def _figure(data: list, layout: dict) -> dict:
    return {"data": data, "layout": layout, "config": {"displayModeBar": False, "responsive": True}}


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def _line(
    name: str, xs: list, ys: list, color: str, *, dash: str = "", mode: str = "lines+markers"
):
    trace = {"type": "scatter", "mode": mode, "name": name, "x": xs, "y": ys,
             "line": {"color": color}, "connectgaps": False}  # fmt: skip
    if dash:
        trace["line"]["dash"] = dash
    return trace


def _flat(name: str, xs: list, value: float, color: str) -> dict:
    """A horizontal dashed line across the chart: a target, a baseline or a threshold."""
    ends = [xs[0], xs[-1]] if xs else []
    return _line(name, ends, [value] * len(ends), color, dash="dash", mode="lines")


def _x(bucket, hourly: bool) -> str:
    return bucket.start.strftime("%Y-%m-%d %H:%M" if hourly else "%Y-%m-%d")


def outcomes(board) -> Chart:
    """Events by outcome per bucket (stacked), errors on top."""
    hourly = board.hourly
    xs = [_x(b, hourly) for b in board.buckets]
    series = [
        ("Successful", "successes", GREEN), ("Failed", "failures", VERMILION),
        ("Escalated", "escalations", ORANGE), ("Abandoned", "abandoned", GREY),
        ("Errors", "errors", PURPLE),
    ]  # fmt: skip
    data = [
        {"type": "bar", "name": name, "x": xs, "y": [b.values[f] for b in board.buckets],
         "marker": {"color": color}}
        for name, f, color in series
    ]  # fmt: skip
    rows = [
        [x, b.values["interactions"], *(b.values[f] for _, f, _ in series)]
        for x, b in zip(xs, board.buckets, strict=True)
    ]
    return Chart(
        "outcomes", "Interactions by outcome", ["task_success_rate", "error_rate"],
        _figure(data, _layout("Events", barmode="stack")),
        ["bucket", "interactions", *(f for _, f, _ in series)], rows,
    )  # fmt: skip


def quality(board) -> Chart:
    """The rates over time, each alert threshold drawn as a dashed line."""
    hourly = board.hourly
    xs = [_x(b, hourly) for b in board.buckets]
    keys = [
        ("task_success_rate", GREEN), ("error_rate", PURPLE), ("escalation_rate", ORANGE),
        ("hallucination_rate", VERMILION), ("online_failure_rate", BLUE),
    ]  # fmt: skip
    values = {k: [_pct(figures.RATES[k](b.values)) for b in board.buckets] for k, _ in keys}
    data = [_line(figures.BY_KEY[k].name, xs, values[k], color) for k, color in keys]
    for rule in board.thresholds:
        data.append(_flat(rule["label"], xs, rule["value"], rule["color"]))
    rows = [[x, *(values[k][i] for k, _ in keys)] for i, x in enumerate(xs)]
    return Chart(
        "quality", "Quality in production", [k for k, _ in keys],
        _figure(data, _layout("Rate", percent=True)), ["bucket", *(k for k, _ in keys)], rows,
    )  # fmt: skip


def adoption(board) -> Chart:
    xs = [_x(b, board.hourly) for b in board.buckets]
    series = [("Daily active", "users", BLUE), ("Weekly active", "users_7d", ORANGE),
              ("Monthly active", "users_30d", GREEN)]  # fmt: skip
    if board.hourly:
        series = [("Active users in the hour", "users", BLUE)]
    data = [_line(name, xs, [getattr(b, f) for b in board.buckets], c) for name, f, c in series]
    if board.target_users:
        data.append(_flat("Target users", xs, board.target_users, GREY))
    rows = [
        [x, *(getattr(b, f) for _, f, _ in series), b.new_users, b.returning_users]
        for x, b in zip(xs, board.buckets, strict=True)
    ]
    return Chart(
        "adoption", "Adoption", ["dau", "wau", "mau", "returning_share"],
        _figure(data, _layout("Users")),
        ["bucket", *(f for _, f, _ in series), "new_users", "returning_users"], rows,
    )  # fmt: skip


def funnel(board) -> Chart:
    """From the target users to today's: how far the use case has reached."""
    last = board.buckets[-1] if board.buckets else None
    stages = [
        ("Target users", board.target_users),
        ("Ever active", board.users_ever),
        ("Active in the last 30 days", last.users_30d if last and not board.hourly else None),
        ("Active in the last 7 days", last.users_7d if last and not board.hourly else None),
        ("Active on the last day", last.users if last else None),
    ]
    stages = [(name, value) for name, value in stages if value]
    data = [{
        "type": "funnel", "y": [s[0] for s in stages], "x": [s[1] for s in stages],
        "textinfo": "value+percent initial", "marker": {"color": BLUE},
    }]  # fmt: skip
    layout = _layout("", height=260)
    layout["xaxis"] = {}
    layout["yaxis"] = {"automargin": True}
    layout["margin"] = {"l": 170, "r": 10, "t": 10, "b": 20}
    return Chart(
        "funnel", "Adoption funnel", ["dau", "wau", "mau"], _figure(data, layout),
        ["stage", "users"], [list(s) for s in stages] if board.users_ever else [],
    )  # fmt: skip


def retention(board) -> Chart:
    cohort = board.cohort
    xs = [f"{d:%Y-%m-%d}" for d, _ in cohort.points]
    ys = [round(v * 100, 1) for _, v in cohort.points]
    data = [_line(f"Launch cohort ({cohort.size} users)", xs, ys, BLUE)]
    return Chart(
        "retention", "Launch-cohort retention", ["cohort_retention"],
        _figure(data, _layout("Active over 7 days", percent=True)),
        ["week_ending", "retained_percent"], [[x, y] for x, y in zip(xs, ys, strict=True)],
    )  # fmt: skip


def cost(board) -> Chart:
    xs = [_x(b, board.hourly) for b in board.buckets]
    per_success = [
        None if (v := figures.cost_per_success(b.values)) is None else round(v, 4)
        for b in board.buckets
    ]
    spend = [round(b.values["cost"], 4) for b in board.buckets]
    data = [
        {"type": "bar", "name": "AI running cost", "x": xs, "y": spend,
         "marker": {"color": SKY}},
        {**_line("Cost per successful task", xs, per_success, VERMILION), "yaxis": "y2"},
    ]  # fmt: skip
    layout = _layout(f"Cost ({board.currency})")
    layout["yaxis2"] = {"title": {"text": "Per success"}, "overlaying": "y", "side": "right",
                        "rangemode": "tozero"}  # fmt: skip
    layout["margin"]["r"] = 55
    rows = [[x, s, p] for x, s, p in zip(xs, spend, per_success, strict=True)]
    return Chart(
        "cost", "Cost", ["cost_per_success", "roi"], _figure(data, layout),
        ["bucket", "cost", "cost_per_success"], rows,
    )  # fmt: skip


def evals(board) -> Chart:
    """Each plan's pass rate per completed full run, over time, its threshold dashed."""
    from datetime import timedelta

    data, rows = [], []
    colors = [BLUE, ORANGE, GREEN, PURPLE, SKY]
    times = [p["finished_at"] for _plan, points in board.eval_trends for p in points]
    # The axis spans a day at least: one run alone is a dot with its threshold across.
    first = min(times, default=None)
    last = max(times, default=None)
    if first is not None and last - first < timedelta(days=1):
        first, last = first - timedelta(hours=12), last + timedelta(hours=12)
    ends = [f"{t:%Y-%m-%d %H:%M}" for t in (first, last)] if first is not None else []
    for index, (plan, points) in enumerate(board.eval_trends):
        color = colors[index % len(colors)]
        xs = [p["finished_at"].strftime("%Y-%m-%d %H:%M") for p in points]
        ys = [round(p["pass_rate"] * 100, 1) for p in points]
        data.append(_line(plan.name, xs, ys, color))
        if xs:
            data.append(_flat(f"{plan.name}: threshold", ends, float(plan.pass_threshold), color))
        rows += [
            [plan.name, f"#{p['number']}", x, y] for p, x, y in zip(points, xs, ys, strict=True)
        ]
    layout = _layout("Pass rate", percent=True)
    if ends:
        layout["xaxis"]["range"] = ends
    return Chart(
        "evals", "Eval pass rate (full runs)", ["eval_pass_rate"],
        _figure(data, layout),
        ["plan", "run", "finished_at", "pass_rate_percent"], rows,
    )  # fmt: skip


def business(board) -> Chart:
    use_case = board.use_case
    readings = board.readings
    xs = [f"{r.measured_on:%Y-%m-%d}" for r in readings]
    ys = [float(r.value) for r in readings]
    name = use_case.metric_name or "Business metric"
    data = [_line(name, xs, ys, BLUE)]
    for label, value, color in (("Baseline", use_case.metric_baseline, GREY),
                                ("Target", use_case.metric_target, GREEN)):  # fmt: skip
        if value is not None:
            data.append(_flat(f"{label} {value:g}", xs, float(value), color))
    unit = f" ({use_case.metric_unit})" if use_case.metric_unit else ""
    return Chart(
        "business", name, ["business_metric"], _figure(data, _layout(f"{name}{unit}")),
        ["measured_on", "value", "baseline", "target"],
        [[x, y, use_case.metric_baseline, use_case.metric_target] for x, y in zip(xs, ys,
                                                                                  strict=True)],
    )  # fmt: skip


def portfolio(board) -> Chart:
    """Interactions per use case over the range, stacked."""
    data, rows = [], []
    colors = [BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILION, YELLOW, GREY]
    for index, (use_case, points) in enumerate(board.per_use_case):
        xs = [_x(b, board.hourly) for b in points]
        ys = [b.values["interactions"] for b in points]
        data.append({"type": "bar", "name": use_case.key, "x": xs, "y": ys,
                     "marker": {"color": colors[index % len(colors)]}})  # fmt: skip
        rows += [[use_case.key, x, y] for x, y in zip(xs, ys, strict=True)]
    return Chart(
        "portfolio", "Interactions per use case", [],
        _figure(data, _layout("Interactions", barmode="stack")),
        ["use_case", "bucket", "interactions"], rows,
    )  # fmt: skip


USE_CASE_CHARTS = {
    "outcomes": outcomes, "quality": quality, "adoption": adoption, "funnel": funnel,
    "retention": retention, "cost": cost, "evals": evals, "business": business,
}  # fmt: skip
PORTFOLIO_CHARTS = {"portfolio": portfolio, "outcomes": outcomes, "quality": quality,
                    "cost": cost}  # fmt: skip
