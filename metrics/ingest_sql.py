"""The PostgreSQL write path of telemetry: COPY, which has no ORM form.

Every row carries the organization the service resolved, and its use case was looked up
within that organization: nothing here reads or crosses another organization's rows.
"""

from __future__ import annotations

import json

from django.db import IntegrityError, connection, transaction
from psycopg import errors as pg_errors

TABLE = "metrics_telemetryevent"
COLUMNS = (
    "organization_id", "use_case_id", "event_id", "occurred_at", "received_at", "user_ref",
    "session_id", "event_type", "outcome", "hallucination", "unsafe", "unsupported_claim",
    "latency_ms", "tokens_in", "tokens_out", "cost", "minutes_saved", "model", "input_text",
    "output_text", "knowledge_numbers", "knowledge_matched", "metadata", "source",
)  # fmt: skip
_COPY = f"COPY {{table}} ({', '.join(COLUMNS)}) FROM STDIN"
_JSON = {"knowledge_numbers", "metadata"}


def available() -> bool:
    """COPY is PostgreSQL's; SQLite takes the ORM's multi-row inserts."""
    return connection.vendor == "postgresql"


def _record(organization_id: int, row: dict) -> tuple:
    values = {**row, "organization_id": organization_id}
    return tuple(
        json.dumps(values[c], ensure_ascii=False) if c in _JSON else values[c] for c in COLUMNS
    )


def _copy(cursor, table: str, organization_id: int, rows: list[dict]) -> None:
    with cursor.copy(_COPY.format(table=table)) as copy:
        for row in rows:
            copy.write_row(_record(organization_id, row))


def copy_rows(organization_id: int, rows: list[dict]) -> int:
    """COPY the rows straight into the table; if some of these events are stored already
    (a re-sent batch, or another request meanwhile: the unique key refuses the COPY), go
    through a temporary table and keep only the new ones. The number of rows written."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _copy(cursor, TABLE, organization_id, rows)
        return len(rows)
    except (IntegrityError, pg_errors.UniqueViolation):  # COPY's own error is psycopg's
        pass
    columns = ", ".join(COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE telemetry_incoming ON COMMIT DROP AS "
            f"SELECT {columns} FROM {TABLE} WITH NO DATA"  # noqa: S608 - fixed names
        )
        _copy(cursor, "telemetry_incoming", organization_id, rows)
        cursor.execute(
            f"INSERT INTO {TABLE} ({columns}) SELECT {columns} FROM telemetry_incoming "  # noqa: S608 - fixed names
            "ON CONFLICT (organization_id, event_id) DO NOTHING"
        )
        return cursor.rowcount
