"""The metrics area's panel at the top of a viewer's home page (registered in
`MetricsConfig.ready()`): how each use case was used over the last 30 days."""

from metrics import dashboard


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def portfolio_use(request) -> dict:
    span = dashboard.parse_range({"range": "30d"})
    rows = [
        {
            "use_case": row["use_case"],
            "interactions": row["totals"]["interactions"],
            "success": _percent(row["rates"].get("task_success_rate")),
            "errors": _percent(row["rates"].get("error_rate")),
            "escalations": _percent(row["rates"].get("escalation_rate")),
        }
        for row in dashboard.portfolio_rows(request.organization, span)
    ]
    return {"use_rows": rows}
