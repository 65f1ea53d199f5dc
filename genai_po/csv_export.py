"""Streamed CSV downloads, safe to open in a spreadsheet."""

import csv

from django.http import StreamingHttpResponse


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value):
        return value


def safe_cell(value) -> str:
    """A cell that a spreadsheet will not run as a formula (=, +, -, @, tab, CR)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(rows, *, header: list[str], filename: str) -> StreamingHttpResponse:
    """Stream `header` then `rows` (iterables of cells) as an attachment."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
