"""Logging filters: a refused request is one line, not a traceback."""

import logging


class ClientErrorsInOneLine(logging.Filter):
    """4xx answers (403, 404, a disallowed host) are the client's doing: log them without
    the traceback of the exception that produced them. 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        client_error = (status is not None and status < 500) or record.name.startswith(
            "django.security"
        )
        if client_error and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True
