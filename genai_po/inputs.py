"""Limits on what a request may hold, in one place: JSON depth, integer range, NUL
characters, text lengths. Each check answers with a sentence a user can act on.

PostgreSQL cannot store NUL (`\\u0000`) in text or jsonb, integers beyond 64 bits overflow
every column and every driver, and JSON nested deeper than Python's recursion limit
crashes the parser: all three are refused at the edge, before anything is written.
"""

import json
import math
from typing import Any

from django.core.exceptions import FieldDoesNotExist

MAX_JSON_DEPTH = 32
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
NUL = "\x00"

NUL_MESSAGE = "Text cannot contain NUL characters (\\u0000)."
DEPTH_MESSAGE = f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted."
RANGE_MESSAGE = "Numbers must fit in 64 bits (at most 9,223,372,036,854,775,807)."
SURROGATE_MESSAGE = "Text cannot contain lone surrogate characters (such as \\ud800)."


class InputRefused(ValueError):
    """Input that no field may hold; the message says why."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:  # cheaper than converting a 10,000-digit number
        raise InputRefused(RANGE_MESSAGE)
    value = int(text)
    if not MIN_INT <= value <= MAX_INT:
        raise InputRefused(RANGE_MESSAGE)
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InputRefused("Numbers must be finite.")
    return value


def _parse_constant(name: str):
    raise InputRefused(f"{name} is not a number JSON accepts.")


def loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads, refusing what nothing downstream can hold: raises InputRefused (or
    ValueError for text that is not JSON at all)."""
    try:
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except RecursionError:
        raise InputRefused(DEPTH_MESSAGE) from None
    check_value(value, max_depth=max_depth)
    return value


def _check_text(text: str) -> None:
    if NUL in text:
        raise InputRefused(NUL_MESSAGE)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800"): no database stores it
            raise InputRefused(SURROGATE_MESSAGE) from None


def check_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise InputRefused if a parsed JSON value is too deep, holds a NUL, a lone surrogate
    or an integer beyond 64 bits, in a value or a key (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > max_depth:
                raise InputRefused(
                    DEPTH_MESSAGE if max_depth == MAX_JSON_DEPTH
                    else f"JSON nested deeper than {max_depth} levels is not accepted here."
                )  # fmt: skip
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str):
                    _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(node, str):
            _check_text(node)
        elif isinstance(node, int) and not isinstance(node, bool):
            if not MIN_INT <= node <= MAX_INT:
                raise InputRefused(RANGE_MESSAGE)
        elif isinstance(node, float) and not math.isfinite(node):
            raise InputRefused("Numbers must be finite.")


def id_or_none(text) -> int | None:
    """A positive id from a query parameter or URL part, or None when it is not one (or
    is too large to be any row's id)."""
    text = str(text or "").strip()
    if not digits_only(text) or len(text) > 18:
        return None
    return int(text)


def digits_only(text: str) -> bool:
    """Only the ASCII digits 0-9: `str.isdigit()` also takes "²" and "①", which `int()`
    refuses."""
    return text.isascii() and text.isdigit()


def text_limit(model, field: str) -> int:
    """The longest text a model's field takes (its max_length: the one place limits live)."""
    return model._meta.get_field(field).max_length


def check_text(model, field: str, value: str) -> str | None:
    """Why `value` does not fit the field, or None."""
    limit = text_limit(model, field)
    if NUL in value:
        return NUL_MESSAGE
    if limit is not None and len(value) > limit:
        return f"Keep it under {limit:,} characters (this is {len(value):,})."
    return None


def text_errors(model, values: dict) -> dict[str, str]:
    """{field: why} for each text value that does not fit its model field."""
    errors = {}
    for field, value in values.items():
        if not isinstance(value, str):
            continue
        try:
            problem = check_text(model, field, value)
        except FieldDoesNotExist:  # e.g. requirement_keys: not a column
            continue
        if problem:
            errors[field] = problem
    return errors
