"""Plotly figures of the evals area, as plain JSON-ready dicts (see static/js/charts.js)."""

from __future__ import annotations

from django.urls import reverse

RATE_COLOR = "#0072B2"
BASELINE_COLOR = "#E69F00"
THRESHOLD_COLOR = "#D55E00"


def pass_rate_trend(points: list[dict], plan) -> dict:
    """Pass rate (%) of the plan's completed runs, the baseline marked, the threshold drawn."""
    xs = [f"#{p['number']}" for p in points]
    ys = [round(p["pass_rate"] * 100, 1) for p in points]
    hover = [
        f"Run #{p['number']}{' (baseline)' if p['is_baseline'] else ''}"
        f"{' · ' + p['label'] if p['label'] else ''}<br>{y}% passed"
        for p, y in zip(points, ys, strict=True)
    ]
    threshold = float(plan.pass_threshold)
    data = [
        {
            "type": "scatter", "mode": "lines+markers", "name": "Pass rate",
            "x": xs, "y": ys, "text": hover, "hoverinfo": "text",
            "line": {"color": RATE_COLOR}, "marker": {"size": 8},
            "customdata": [
                reverse("run_detail", args=[plan.organization.slug, p["pk"]]) for p in points
            ],
        },
        {
            "type": "scatter", "mode": "lines", "name": f"Threshold {threshold:g}%",
            "x": xs, "y": [threshold] * len(xs), "hoverinfo": "skip",
            "line": {"color": THRESHOLD_COLOR, "dash": "dash"},
        },
    ]  # fmt: skip
    baseline = [(x, y) for p, x, y in zip(points, xs, ys, strict=True) if p["is_baseline"]]
    if baseline:
        data.append({
            "type": "scatter", "mode": "markers", "name": "Baseline",
            "x": [b[0] for b in baseline], "y": [b[1] for b in baseline], "hoverinfo": "skip",
            "marker": {"size": 14, "symbol": "star", "color": BASELINE_COLOR},
        })  # fmt: skip
    return {
        "data": data,
        "layout": {
            "height": 260, "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
            "xaxis": {"title": {"text": "Run"}, "type": "category"},
            "yaxis": {"title": {"text": "Pass rate (%)"}, "range": [0, 105]},
            "legend": {"orientation": "h", "y": -0.3},
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        },
        "config": {"displayModeBar": False, "responsive": True},
    }  # fmt: skip
