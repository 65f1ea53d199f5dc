"""Plotly figures of the use-case area, built here so templates only embed them.

The portfolio bubble chart places each ranked use case by value (mean of the
VALUE_CRITERIA scores) against feasibility (mean of the FEASIBILITY_CRITERIA
scores); the bubble's area follows its number of users, or its volume score when
the number of users is unknown (drawn hollow and said so in the hover); the
colour is its risk tier. Figures are plain dicts of JSON types, ready for
`json_script` and `static/js/charts.js`.
"""

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from math import sqrt
from typing import NamedTuple

from django.utils.html import escape

from usecases.models import FEASIBILITY_CRITERIA, VALUE_CRITERIA, RiskTier

# Okabe-Ito colours: told apart by colour-blind readers, in order of severity.
RISK_COLORS = {
    RiskTier.MINIMAL: "#009E73",
    RiskTier.LIMITED: "#0072B2",
    RiskTier.HIGH: "#E69F00",
    RiskTier.UNACCEPTABLE: "#D55E00",
}
RISK_LABELS = {tier.value: tier.label for tier in RiskTier}
MIN_DIAMETER = 10.0  # px
MAX_DIAMETER = 46.0
SIZE_NOTE = (
    "Bubble area: number of users. Hollow bubble: no user count, "
    "sized by its volume score (1-5) instead."
)
_VALUE_FIELDS = tuple(f"score_{c.value}" for c in VALUE_CRITERIA)
_FEASIBILITY_FIELDS = tuple(f"score_{c.value}" for c in FEASIBILITY_CRITERIA)


def _mean(scores: Mapping[str, int | None], criteria) -> float | None:
    values = [scores.get(c.value) for c in criteria]
    if any(v is None for v in values):
        return None
    return sum(values) / len(values)  # halves and quarters: exact in binary


def value_of(scores: Mapping[str, int | None]) -> float | None:
    """Mean of the value criteria (volume, reuse); None until they are all scored."""
    return _mean(scores, VALUE_CRITERIA)


def feasibility_of(scores: Mapping[str, int | None]) -> float | None:
    """Mean of the feasibility criteria (owner, observable, risk, context)."""
    return _mean(scores, FEASIBILITY_CRITERIA)


def use_case_key(number: int) -> str:
    """As UseCase.key, without building a model instance for each of a thousand rows."""
    return f"UC-{number}"


class ChartPoint(NamedTuple):
    """One ranked use case on the portfolio chart."""

    key: str
    title: str
    risk_tier: str
    value: float
    feasibility: float
    priority_score: Decimal
    rank: int
    user_count: int | None
    volume: int
    diameter: float

    @property
    def risk_label(self) -> str:
        return RISK_LABELS[self.risk_tier]

    @property
    def sized_by_users(self) -> bool:
        return self.user_count is not None

    @property
    def size_label(self) -> str:
        if self.user_count is not None:
            return f"{self.user_count:,} user{'' if self.user_count == 1 else 's'}"
        return f"no user count; volume score {self.volume}/5"


def _diameter(share: float) -> float:
    """Pixel diameter whose area grows with `share` (0-1)."""
    share = min(max(share, 0.0), 1.0)
    return round(MIN_DIAMETER + (MAX_DIAMETER - MIN_DIAMETER) * sqrt(share), 1)


def portfolio_points(rows: Iterable, rank_of: Callable[[Decimal], int]) -> list[ChartPoint]:
    """The chart's points: one per ranked row (all six criteria scored), in the rows' order.

    A row has the attributes `number`, `title`, `risk_tier`, `user_count`,
    `priority_score` and `score_<criterion>` (a values_list(named=True) row); rows
    without a priority score are left out: they are not ranked yet. `rank_of` gives
    the rank of a priority score.
    """
    ranked = [r for r in rows if r.priority_score is not None]
    most_users = max((r.user_count or 0 for r in ranked), default=0)
    points = []
    for r in ranked:
        volume = r.score_volume
        if r.user_count is not None:
            share = r.user_count / most_users if most_users else 0.0
        else:
            share = volume / 5
        points.append(
            ChartPoint(
                key=use_case_key(r.number),
                title=r.title,
                risk_tier=r.risk_tier,
                value=sum(getattr(r, f) for f in _VALUE_FIELDS) / len(_VALUE_FIELDS),
                feasibility=sum(getattr(r, f) for f in _FEASIBILITY_FIELDS)
                / len(_FEASIBILITY_FIELDS),
                priority_score=r.priority_score,
                rank=rank_of(r.priority_score),
                user_count=r.user_count,
                volume=volume,
                diameter=_diameter(share),
            )
        )
    return points


# Plotly reads hover text as a small subset of HTML: user text is escaped first. No
# <b>/<i>: Plotly draws them with style attributes, which the CSP blocks.
_HOVER = (
    "%{customdata[0]} %{customdata[1]}<br>"
    "Priority %{customdata[2]} / 5 · rank %{customdata[3]}<br>"
    "Value %{x:.2f} · feasibility %{y:.2f}<br>"
    "Bubble: %{customdata[4]}"
    "<extra>%{fullData.name}</extra>"
)


LABELLED_UP_TO = 40  # more bubbles than this, and keys on each would hide the chart


def _trace(tier: RiskTier, points: list[ChartPoint], *, labelled: bool = False) -> dict:
    """The bubbles of one risk tier, each with its key when the chart has room; its legend
    entry is a separate key trace."""
    color = RISK_COLORS[tier]
    labels = {"text": [p.key for p in points], "textposition": "top center",
              "textfont": {"size": 11}} if labelled else {}  # fmt: skip
    return {
        "type": "scatter",
        "mode": "markers+text" if labelled else "markers",
        **labels,
        "name": f"{tier.label} risk",
        "legendgroup": tier.value,
        "showlegend": False,
        "x": [p.value for p in points],
        "y": [p.feasibility for p in points],
        # Keys and size labels are ours; titles are the users'.
        "customdata": [
            [p.key, escape(p.title), str(p.priority_score), p.rank, p.size_label] for p in points
        ],
        "hovertemplate": _HOVER,
        "marker": {
            "color": color,
            "size": [p.diameter for p in points],
            "sizemode": "diameter",
            "symbol": ["circle" if p.sized_by_users else "circle-open" for p in points],
            "opacity": 0.75,
            "line": {"color": color, "width": 2},
        },
    }


def _legend_key(name: str, group: str, color: str, symbol: str = "circle") -> dict:
    """A legend entry drawn with a fixed marker: a trace's own entry would copy the
    symbol of its first bubble, which may be hollow."""
    return {
        "type": "scatter", "mode": "markers", "name": name, "legendgroup": group,
        "x": [None], "y": [None], "hoverinfo": "skip",
        "marker": {"color": color, "size": 12, "symbol": symbol, "line": {"width": 2}},
    }  # fmt: skip


def _quadrant_label(x: float, y: float, text: str, xanchor: str) -> dict:
    return {
        "x": x, "y": y, "xref": "x", "yref": "y", "text": text, "showarrow": False,
        "xanchor": xanchor, "font": {"size": 11}, "opacity": 0.7,
    }  # fmt: skip


def portfolio_figure(points: list[ChartPoint]) -> dict | None:
    """Value against feasibility: the bubbles of each risk tier, then its legend key;
    None when nothing is ranked."""
    if not points:
        return None
    traces = []
    for tier in RiskTier:
        of_tier = [p for p in points if p.risk_tier == tier.value]
        if of_tier:
            traces.append(_trace(tier, of_tier, labelled=len(points) <= LABELLED_UP_TO))
            traces.append(_legend_key(f"{tier.label} risk", tier.value, RISK_COLORS[tier]))
    if any(not p.sized_by_users for p in points):
        traces.append(_legend_key("Hollow: no user count", "no-users", "#888888", "circle-open"))
    axis = {
        "range": [0.5, 5.5],
        "dtick": 1,
        "zeroline": False,
        "fixedrange": False,
        "type": "linear",
        "gridcolor": "rgba(128, 128, 128, 0.25)",
    }
    midline = {"type": "line", "line": {"dash": "dot", "width": 1, "color": "rgba(128,128,128,.6)"}}
    return {
        "data": traces,
        "layout": {
            "height": 480,
            "margin": {"l": 64, "r": 16, "t": 40, "b": 96},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
            "hovermode": "closest",
            "modebar": {"bgcolor": "rgba(0,0,0,0)", "color": "rgba(128,128,128,.8)"},
            "xaxis": {**axis, "title": {"text": "Value (mean of volume and reuse scores)"}},
            "yaxis": {
                **axis,
                "title": {"text": "Feasibility (mean of owner, observable, risk, context)"},
            },
            "legend": {"title": {"text": "Risk tier"}, "itemsizing": "constant"},
            "shapes": [
                {**midline, "x0": 3, "x1": 3, "y0": 0.5, "y1": 5.5},
                {**midline, "x0": 0.5, "x1": 5.5, "y0": 3, "y1": 3},
            ],
            "annotations": [
                _quadrant_label(5.45, 5.4, "Do first: valuable and feasible", "right"),
                _quadrant_label(0.55, 5.4, "Feasible, less value", "left"),
                _quadrant_label(5.45, 0.6, "Valuable, hard: de-risk first", "right"),
                _quadrant_label(0.55, 0.6, "Park", "left"),
                {
                    "text": SIZE_NOTE,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0,
                    "y": -0.2,
                    "xanchor": "left",
                    "yanchor": "top",
                    "showarrow": False,
                    "font": {"size": 11},
                },  # fmt: skip
            ],
        },
        "config": {
            "responsive": True,
            "displaylogo": False,
            "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
        },
    }
