"""Builders the metrics tests share: telemetry of given outcomes, and an alert rule."""

from datetime import UTC, datetime, timedelta

from genai_po.actors import Actor
from metrics import ingest, services

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


def send_outcomes(org, uc, prefix, *, errors, ok, at=NOW, escalated=0):
    """`errors` errors, `ok` successes and `escalated` escalations, ten minutes before `at`."""
    rows = (
        [("error", "failure")] * errors + [("interaction", "success")] * ok
        + [("interaction", "escalated")] * escalated
    )  # fmt: skip
    ingest.ingest(org.pk, [
        {"event_id": f"{prefix}-{n}", "use_case": uc.key, "type": kind, "outcome": outcome,
         "occurred_at": (at - timedelta(minutes=10)).isoformat()}
        for n, (kind, outcome) in enumerate(rows)
    ])  # fmt: skip


def alert_rule(org, uc, **data):
    """An error-rate rule (above 5% over 24 h, at least 10 interactions) unless `data` says."""
    return services.rule_save(
        actor=Actor.system(organization=org, label="test"),
        data={"use_case": uc, "metric": "error_rate", "condition": "above", "threshold": 5,
              "window_hours": 24, "min_interactions": 10} | data,
    )  # fmt: skip
