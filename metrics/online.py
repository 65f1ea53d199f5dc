"""Online scoring: the eval plan's scorers that need no expected answer, run by Celery on a
sample of a use case's production interactions soon after they are ingested.

The sample is stable: an interaction is in it when the hash of its `event_id` falls under
the sampled share, so scoring again (a retry, a second worker) picks the same events, and
an event already scored is never scored twice. Each event read is marked (`scored_at`);
its hour and day rollups are then recomputed so that the failures feed the dashboards'
error and hallucination rates, next to what users flagged.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models.functions import TruncHour
from django.utils import timezone

from evals import scorers
from metrics import rollups
from metrics.models import EventType, OnlineScoring, Outcome, TelemetryEvent

# Scorers that grade an answer on its own; `contains`/`equals` only with their own values.
ONLINE_TYPES = (
    "not_contains", "regex", "json_schema", "is_json", "refusal", "escalation", "citation",
    "length", "starts_with", "latency",
)  # fmt: skip
WITH_OWN_VALUE = {"contains": "values", "equals": "value"}
# A failure of these says the answer made something up or said what it must not.
HALLUCINATION_TYPES = {"citation", "not_contains"}
OVERLAP = rollups.OVERLAP
CHUNK = 500


def online_specs(specs) -> list[dict]:
    """The plan's scorers that can grade a production answer without an expected one."""
    usable = []
    for spec in specs or []:
        if not isinstance(spec, dict):
            continue
        kind = spec.get("type")
        if kind in ONLINE_TYPES or (
            kind in WITH_OWN_VALUE and spec.get(WITH_OWN_VALUE[kind]) is not None
        ):
            usable.append(spec)
    return usable


def in_sample(event_id: str, percent: Decimal | float) -> bool:
    """Whether the event is in a `percent` sample: stable, from its id alone."""
    bucket = int.from_bytes(hashlib.sha256(event_id.encode()).digest()[:4], "big") % 10_000
    return bucket < float(percent) * 100


def score_answer(specs: list[dict], plan: scorers.PlanContext, event) -> dict:
    """The online verdict of one interaction: every scorer must pass."""
    escalated = event.outcome == Outcome.ESCALATED
    case = scorers.CaseView(must_escalate=escalated)
    observation = scorers.Observation(output=event.output_text, latency_ms=event.latency_ms)
    failures = []
    for spec in specs:
        try:
            result = scorers.score(spec, case, observation, plan)
        except (scorers.ScorerSpecError, scorers.NeedsJudge):
            continue
        if result.weight > 0 and not result.passed:
            failures.append({"type": result.type, "label": result.label, "reason": result.reason})
    return {
        "online_passed": not failures,
        "online_failures": failures,
        "online_hallucination": any(f["type"] in HALLUCINATION_TYPES for f in failures),
    }


def _plan_context(plan) -> scorers.PlanContext:
    return scorers.PlanContext(
        forbidden_phrases=tuple(p for p in plan.forbidden_phrases or () if isinstance(p, str)),
        approved_sources=tuple(s for s in plan.approved_sources or () if isinstance(s, str)),
    )


def _score_config(config: OnlineScoring, now: datetime) -> tuple[int, dict]:
    """Score the config's new sampled interactions: how many, and {use case id: hours}."""
    org_id = config.organization_id
    specs = online_specs(config.plan.scorers)
    since = config.scored_until - OVERLAP if config.scored_until else None
    candidates = TelemetryEvent.objects.for_org(org_id).filter(
        use_case_id=config.use_case_id,
        event_type=EventType.INTERACTION,
        received_at__lte=now,
        scored_at__isnull=True,
    )
    if since is not None:
        candidates = candidates.filter(received_at__gt=since)
    chosen = [
        pk
        for pk, event_id in candidates.exclude(output_text="").values_list("pk", "event_id")
        if in_sample(event_id, config.sample_percent)
    ]
    touched: dict[int, set] = defaultdict(set)
    scored = 0
    if not specs:
        return scored, touched
    plan = _plan_context(config.plan)
    for start in range(0, len(chosen), CHUNK):
        rows = list(
            TelemetryEvent.objects.for_org(org_id)
            .filter(pk__in=chosen[start : start + CHUNK], scored_at__isnull=True)
            .only("pk", "output_text", "latency_ms", "outcome", "occurred_at", "use_case_id")
            .annotate(hour=TruncHour("occurred_at"))
        )
        for row in rows:
            for field, value in score_answer(specs, plan, row).items():
                setattr(row, field, value)
            row.scored_at = now
            touched[row.use_case_id].add(row.hour)
        scored += len(rows)
        TelemetryEvent.objects.for_org(org_id).bulk_update(
            rows,
            ["scored_at", "online_passed", "online_failures", "online_hallucination"],
            batch_size=CHUNK,
        )
    return scored, touched


def score_organization(organization_id: int, *, now: datetime | None = None) -> int:
    """Score every enabled use case's new sampled interactions, then recompute the rollups
    they are in. Returns the number of interactions scored."""
    now = now or timezone.now()
    touched: dict[int, set] = defaultdict(set)
    scored = 0
    configs = OnlineScoring.objects.for_org(organization_id).filter(enabled=True)
    for config_id in configs.values_list("pk", flat=True):
        with transaction.atomic():
            # One scorer per use case at a time: a second one waits, then finds nothing new.
            config = (
                OnlineScoring.objects.for_org(organization_id)
                .select_for_update(of=("self",))
                .select_related("plan")
                .filter(pk=config_id, enabled=True)
                .first()
            )
            if config is None or config.plan.archived_at is not None:
                continue
            count, hours_of = _score_config(config, now)
            scored += count
            for use_case_id, hours in hours_of.items():
                touched[use_case_id] |= hours
            OnlineScoring.objects.for_org(organization_id).filter(pk=config.pk).update(
                scored_until=now
            )
    if touched:
        rollups.recompute_hours(organization_id, dict(touched), now=now)
    return scored


def organizations_scoring() -> list[int]:
    """Organizations with online scoring enabled on at least one use case."""
    return sorted(
        set(
            OnlineScoring.objects.across_orgs()
            .filter(enabled=True)
            .values_list("organization_id", flat=True)
        )
    )


def start_after(received_at: datetime) -> datetime:
    """Where a newly enabled config starts: with the interactions received from now on (an
    hour back, so that a test batch just sent is scored too)."""
    return received_at - timedelta(hours=1)
