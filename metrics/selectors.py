"""Reads of the metrics area, organization first."""

from __future__ import annotations

from django.db.models import Q

from metrics.models import EventType, TelemetryEvent

FLAGGED = Q(hallucination=True) | Q(unsafe=True) | Q(unsupported_claim=True)


def interactions_of(organization, use_case, *, outcome: str = "", flagged: bool = False):
    """A use case's production interactions (and errors), newest first."""
    rows = (
        TelemetryEvent.objects.for_org(organization)
        .filter(use_case=use_case, event_type__in=(EventType.INTERACTION, EventType.ERROR))
        .defer("input_text", "output_text", "metadata")
        .order_by("-occurred_at", "-pk")
    )
    if outcome:
        rows = rows.filter(outcome=outcome)
    if flagged:
        rows = rows.filter(FLAGGED)
    return rows
