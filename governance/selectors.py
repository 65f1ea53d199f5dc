"""Reads of governance data, organization first."""

from datetime import datetime, time

from django.apps import apps
from django.utils import timezone

from genai_po.models import AuditEvent, Organization
from genai_po.roles import Role


def audit_events_filtered(
    *,
    organization: Organization,
    action: str = "",
    actor: str = "",
    object_type: str = "",
    since=None,
    until=None,
):
    """Audit events of one organization, newest first, narrowed by the page's filters."""
    events = AuditEvent.objects.for_org(organization).order_by("-seq")
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if object_type:
        events = events.filter(object_type=object_type)
    if since:
        events = events.filter(
            created_at__gte=timezone.make_aware(datetime.combine(since, time.min))
        )
    if until:
        events = events.filter(
            created_at__lte=timezone.make_aware(datetime.combine(until, time.max))
        )
    return events


def audit_filter_choices(*, organization: Organization) -> dict[str, list[str]]:
    """Distinct actions and object types, for the filter drop-downs."""
    events = AuditEvent.objects.for_org(organization)
    return {
        "actions": list(events.order_by("action").values_list("action", flat=True).distinct()),
        "object_types": list(
            events.order_by("object_type").values_list("object_type", flat=True).distinct()
        ),
    }


def _object_label(object_type: str, object_id: str) -> str:
    try:
        name = apps.get_model(object_type)._meta.verbose_name
    except (LookupError, ValueError):
        name = object_type
    return f"{str(name)[:1].upper()}{str(name)[1:]} #{object_id}" if object_id else str(name)


SHOWN_CHARS = 300  # of each value on the page; the CSV export and the API keep all of it


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


def _changes(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return " · ".join(f"{key}: {_short(value[key])}" for key in sorted(value))
    return _short(value)


def audit_event_rows(events) -> list[dict]:
    """Events shaped for the audit page: readable role, object and changes."""
    roles = dict(Role.choices)
    return [
        {
            "event": e,
            "role": roles.get(e.actor_role, e.actor_role.replace("_", " ").capitalize()),
            "object": _object_label(e.object_type, e.object_id),
            "before": _changes(e.before),
            "after": _changes(e.after),
        }
        for e in events
    ]
