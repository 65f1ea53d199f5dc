"""Telemetry ingestion: a batch of events checked one by one, the valid ones written in one
bulk statement per batch (PostgreSQL COPY, or multi-row inserts on SQLite), the invalid
ones reported by index with the reason. `event_id` is the idempotency key: an event sent
again (in a re-sent batch, or twice in one) is stored once and counted once.

Both the telemetry API and the OpenTelemetry endpoint write through `ingest`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from genai_po import inputs
from genai_po.inputs import digits_only
from metrics import ingest_sql
from metrics.models import EventSource, EventType, OnlineScoring, Outcome, TelemetryEvent
from usecases.models import UseCase

MAX_EVENTS = 5_000
MAX_BYTES = 5 * 1024 * 1024
MAX_TEXT = 20_000  # characters of input or output
MAX_METADATA_BYTES = 4_096
MAX_METADATA_KEYS = 50
MAX_KNOWLEDGE = 50
MAX_USER_REF = 128  # characters of a stored user reference (longer ones are hashed)
FUTURE_SKEW = timedelta(minutes=5)
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)

FLAGS = ("hallucination", "unsafe", "unsupported_claim")
FIELDS = {
    "event_id", "use_case", "occurred_at", "user", "session_id", "type", "outcome", "flags",
    "latency_ms", "tokens_in", "tokens_out", "cost", "minutes_saved", "model", "input",
    "output", "knowledge_ids", "metadata",
}  # fmt: skip
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
TYPES = frozenset(EventType.values)
OUTCOMES = frozenset(Outcome.values)


class BatchRefused(ValueError):
    """The whole batch is refused (not a list, too many events, too large)."""


@dataclass
class IngestResult:
    accepted: int = 0  # stored now
    duplicates: int = 0  # already stored (or twice in this batch): counted once
    rejected: list[dict] = field(default_factory=list)  # {"index", "event_id", "reason"}

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


def parse(body: bytes):
    """The JSON body. Each event is checked on its own later (a NUL or a huge number in one
    event rejects that event, not the batch); only what cannot be parsed at all refuses
    the whole body."""
    try:
        text = body.decode() if isinstance(body, bytes) else body  # UTF-8 only, as JSON says
        return json.loads(text, parse_int=_int_or_out_of_range)
    except RecursionError:
        raise BatchRefused(inputs.DEPTH_MESSAGE) from None
    except (ValueError, UnicodeDecodeError):
        raise BatchRefused("The body is not JSON.") from None


def _int_or_out_of_range(text: str) -> int:
    """An integer of the body; one too long to be any field's value becomes one just out of
    64-bit range, which the event's own checks refuse (Python refuses to parse integers of
    over 4,300 digits, which would refuse the whole batch)."""
    if len(text.lstrip("-")) > 19:
        return inputs.MIN_INT - 1 if text.startswith("-") else inputs.MAX_INT + 1
    return int(text)


def pseudonym(user: str) -> str:
    """A user reference as stored: an email is replaced by its SHA-256 (lower-cased first,
    so the same person stays the same reference); anything else is kept."""
    user = user.strip()
    if EMAIL.fullmatch(user):
        return "sha256:" + hashlib.sha256(user.lower().encode()).hexdigest()[:40]
    if len(user) > MAX_USER_REF:  # too long to store: its hash keeps two users apart
        return "sha256:" + hashlib.sha256(user.encode()).hexdigest()[:40]
    return user


def _text(event: dict, key: str, limit: int) -> str:
    value = event.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    if len(value) > limit:
        raise ValueError(f"{key} is {len(value):,} characters; at most {limit:,}")
    _storable(key, value)
    return value


def _storable(key: str, value: str) -> None:
    """Text PostgreSQL can hold: no NUL, no lone surrogate."""
    if "\x00" in value:
        raise ValueError(f"{key} cannot contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError(f"{key} cannot contain lone surrogate characters") from None


def _int(event: dict, key: str, top: int) -> int | None:
    value = event.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise ValueError(f"{key} must be a whole number from 0 to {top:,}")
    return value


def _number(event: dict, key: str, top: float) -> float | None:
    value = event.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= top
    ):
        raise ValueError(f"{key} must be a number from 0 to {top:,}")
    return float(value)


def _occurred_at(value, now: datetime) -> datetime:
    # Python reads an ISO date up to a NUL and ignores the rest: refuse it before.
    if not isinstance(value, str) or len(value) > 40 or "\x00" in value:
        raise ValueError("occurred_at must be an ISO 8601 date and time")
    try:
        parsed = datetime.fromisoformat(value)  # ISO 8601, "Z" included (Python 3.11)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError("occurred_at must be an ISO 8601 date and time, e.g. 2026-12-01T09:30:00Z")
    if parsed.tzinfo is None:
        raise ValueError("occurred_at needs a time zone (Z or +01:00)")
    if parsed > now + FUTURE_SKEW:
        raise ValueError("occurred_at is in the future")
    if parsed < OLDEST:
        raise ValueError("occurred_at is before 2000")
    return parsed.astimezone(UTC)


def _flags(value) -> dict[str, bool]:
    if value is None:
        return dict.fromkeys(FLAGS, False)
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise ValueError(f"flags must be a list of {', '.join(FLAGS)}")
    unknown = [f for f in value if f not in FLAGS]
    if unknown:
        raise ValueError(f"unknown flag {unknown[0][:40]!r}; flags are {', '.join(FLAGS)}")
    return {f: f in value for f in FLAGS}


def _knowledge(value) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_KNOWLEDGE:
        raise ValueError(f"knowledge_ids must be a list of at most {MAX_KNOWLEDGE} KB keys")
    numbers = []
    for ref in value:
        if isinstance(ref, int) and not isinstance(ref, bool) and 0 < ref < 2**31:
            numbers.append(ref)
        elif (
            isinstance(ref, str)
            and ref.upper().startswith("KB-")
            and digits_only(ref[3:])
            and (len(ref) < 14)
        ):
            numbers.append(int(ref[3:]))
        else:
            raise ValueError("knowledge_ids are KB keys (KB-12) or their numbers")
    return sorted(set(numbers))


def _metadata(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("metadata must be an object")
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"metadata holds at most {MAX_METADATA_KEYS} keys")
    try:
        inputs.check_value(value, max_depth=4)
    except inputs.InputRefused as exc:
        raise ValueError(f"metadata: {exc}") from None
    size = len(json.dumps(value, ensure_ascii=False))
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {size:,} bytes as JSON; at most {MAX_METADATA_BYTES:,}")
    return value


def _use_case_ref(value) -> str:
    if isinstance(value, bool):
        raise ValueError("use_case must be a use case's key (UC-3) or id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        _storable("use_case", value)
        return value.strip().upper()[:24]
    raise ValueError("use_case must be a use case's key (UC-3) or id")


def _use_cases(organization_id: int, refs: set[str]) -> dict[str, int]:
    """The organization's use cases by the references used in the batch (one query)."""
    numbers = {
        int(r[3:]) for r in refs if r.startswith("UC-") and digits_only(r[3:]) and len(r) < 14
    }
    ids = {int(r) for r in refs if digits_only(r) and len(r) < 19}
    found: dict[str, int] = {}
    if not numbers and not ids:
        return found
    from django.db.models import Q

    rows = UseCase.objects.for_org(organization_id).filter(
        Q(number__in=numbers) | Q(pk__in=ids)
    ).values_list("pk", "number")  # fmt: skip
    for pk, number in rows:
        if number in numbers:
            found[f"UC-{number}"] = pk
        if pk in ids:
            found[str(pk)] = pk
    return found


def _checked(event, now: datetime) -> dict:
    """One event as a row, or ValueError with the reason."""
    if not isinstance(event, dict):
        raise ValueError("an event is an object")
    unknown = sorted(k for k in event if k not in FIELDS)
    if unknown:
        raise ValueError(f"unknown field {str(unknown[0])[:40]!r}")
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 128:
        raise ValueError("event_id is required: text of at most 128 characters")
    _storable("event_id", event_id)
    kind = event.get("type")
    if kind not in TYPES:
        raise ValueError(f"type must be one of {', '.join(EventType.values)}")
    outcome = event.get("outcome") or ""
    if outcome and outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(Outcome.values)}")
    if "use_case" not in event:
        raise ValueError("use_case is required: a use case's key (UC-3) or id")
    user = _text(event, "user", 256)
    return {
        "event_id": event_id.strip(),
        "use_case_ref": _use_case_ref(event["use_case"]),
        "occurred_at": _occurred_at(event.get("occurred_at"), now),
        "user_ref": pseudonym(user) if user else "",
        "session_id": _text(event, "session_id", 128),
        "event_type": kind,
        "outcome": outcome,
        **_flags(event.get("flags")),
        "latency_ms": _int(event, "latency_ms", 3_600_000),
        "tokens_in": _int(event, "tokens_in", 2_000_000_000),
        "tokens_out": _int(event, "tokens_out", 2_000_000_000),
        "cost": _number(event, "cost", 1_000_000),
        "minutes_saved": _number(event, "minutes_saved", 1_440),
        "model": _text(event, "model", 120),
        "input_text": _text(event, "input", MAX_TEXT),
        "output_text": _text(event, "output", MAX_TEXT),
        "knowledge_numbers": _knowledge(event.get("knowledge_ids")),
        "metadata": _metadata(event.get("metadata")),
    }


def ingest(
    organization_id: int, events, *, source: str = EventSource.API, now: datetime | None = None
) -> IngestResult:
    """Check and store a batch; returns what was stored, what was there already, and each
    rejected event with its index and reason. Raises BatchRefused for a batch that is not
    a list of at most MAX_EVENTS events."""
    if not isinstance(events, list):
        raise BatchRefused('Send {"events": [...]}: a list of events.')
    if len(events) > MAX_EVENTS:
        raise BatchRefused(f"A batch holds at most {MAX_EVENTS:,} events ({len(events):,} sent).")
    now = now or timezone.now()
    result = IngestResult()
    rows: list[dict] = []
    indexes: list[int] = []
    for index, event in enumerate(events):
        try:
            rows.append(_checked(event, now))
            indexes.append(index)
        except ValueError as exc:
            result.rejected.append({"index": index, "event_id": _id_of(event), "reason": str(exc)})
    use_cases = _use_cases(organization_id, {r["use_case_ref"] for r in rows})
    kept, seen = [], set()
    for index, row in zip(indexes, rows, strict=True):
        use_case_id = use_cases.get(row.pop("use_case_ref"))
        if use_case_id is None:
            result.rejected.append({
                "index": index, "event_id": row["event_id"],
                "reason": "use_case is not a use case of this organization",
            })  # fmt: skip
            continue
        if row["event_id"] in seen:
            result.duplicates += 1
            continue
        seen.add(row["event_id"])
        row["use_case_id"] = use_case_id
        row["received_at"] = now
        row["source"] = source
        kept.append(row)
    result.rejected.sort(key=lambda r: r["index"])
    _match_knowledge(organization_id, kept)
    if kept:
        stored = _store(organization_id, kept)
        result.accepted = stored
        result.duplicates += len(kept) - stored
        if stored:
            _score_soon(organization_id)
    return result


def _match_knowledge(organization_id: int, rows: list[dict]) -> None:
    """Mark the rows that retrieved at least one of the organization's published knowledge
    items (production context coverage); the numbers sent are kept as they are."""
    wanted = {n for row in rows for n in row["knowledge_numbers"]}
    published = set()
    if wanted:
        from context.selectors import knowledge_of

        published = set(
            knowledge_of(organization_id).filter(number__in=wanted).values_list("number", flat=True)
        )
    for row in rows:
        row["knowledge_matched"] = not published.isdisjoint(row["knowledge_numbers"])


def _score_soon(organization_id: int) -> None:
    """Online scoring, if the organization has it on, picks the new interactions up."""
    from metrics.tasks import score_online

    if OnlineScoring.objects.for_org(organization_id).filter(enabled=True).exists():
        transaction.on_commit(lambda: score_online.delay(organization_id))


def _id_of(event) -> str | None:
    """The event's id, to name it in the answer (when it can be shown at all)."""
    value = event.get("event_id") if isinstance(event, dict) else None
    if not isinstance(value, str):
        return None
    try:
        _storable("event_id", value)
    except ValueError:
        return None
    return value[:128]


def _not_stored(organization_id: int, rows: list[dict]) -> list[dict]:
    existing = set(
        TelemetryEvent.objects.for_org(organization_id)
        .filter(event_id__in=[r["event_id"] for r in rows])
        .values_list("event_id", flat=True)
    )
    return [r for r in rows if r["event_id"] not in existing]


def _store(organization_id: int, rows: list[dict]) -> int:
    """Write the rows not stored yet; the number written."""
    if ingest_sql.available():
        # COPY first: a new batch (the usual case) is one statement; one that holds events
        # stored before goes through ON CONFLICT, which counts what it wrote.
        return ingest_sql.copy_rows(organization_id, rows)
    # SQLite takes its write lock when the transaction begins (IMMEDIATE): the check and
    # the insert see no other writer in between.
    with transaction.atomic():
        fresh = _not_stored(organization_id, rows)
        TelemetryEvent.objects.bulk_create(
            [TelemetryEvent(organization_id=organization_id, **r) for r in fresh],
            batch_size=500,
        )
        return len(fresh)
