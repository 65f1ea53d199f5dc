"""Deterministic scorers: how one answer of a target is graded against one eval case.

A scorer is a JSON spec, ``{"type": "contains", "values": ["refund"], "weight": 1.0}``,
stored on plans and cases and checked with :func:`validate_spec` when it is saved.
:func:`score` applies a validated spec to an :class:`Observation`; :func:`combine`
turns a case's scores into its verdict. Pure Python (no Django), and no user code
ever runs: patterns go through the ``regex`` module with a timeout, JSON Schemas can
neither fetch remote references nor run an unbounded ``re`` pattern.

Rules that are not obvious from the spec names:

* Text comparisons use NFC-normalized text; case-insensitive ones also ``casefold()``.
* Every deterministic scorer scores 1.0 or 0.0, except ``similarity`` (its ratio).
* ``equals``/``contains``/``similarity`` without a value use the case's expected
  output; when that is blank too the score fails with "no expected output to compare
  with" (a case may legitimately have no expected output for other scorers).
* ``not_contains`` with no phrases anywhere passes ("nothing to check"), whereas
  ``citation`` with no sources fails: nothing forbidden is vacuously respected, but
  nothing approved cannot be cited. An approved source ending in ``*`` approves every
  whole reference with that prefix: ``KB-*`` is any item of the knowledge base (``KB-1``,
  ``KB-12``), not ``KB-`` alone.
* ``length`` counts the trimmed output; words are whitespace-separated runs.
* ``is_json``/``json_schema`` accept a bare JSON value (any value, not only objects;
  NaN and Infinity refused) or an output that is exactly one fenced block
  (```` ```json ```` or a bare ```` ``` ````). Prose around a fence fails: a program
  reading the output would fail too.
* ``similarity`` is the Indel ratio ``2 * LCS / (len(a) + len(b))`` over lowercased,
  whitespace-collapsed text: the measure difflib's ``SequenceMatcher.ratio()``
  approximates, computed exactly with rapidfuzz's bit-parallel LCS. Each side is cut to its
  first :data:`SIMILARITY_MAX_CHARS` characters.
* ``refusal``/``escalation`` use phrase patterns anchored on what is refused or who
  takes over ("I can't help with", not "I can't wait"); a handoff phrase preceded by
  a negation in its sentence ("I can't transfer you to a live agent") is not one.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from difflib import get_close_matches
from itertools import islice
from urllib.parse import urlsplit

import referencing
import referencing.exceptions
import referencing.jsonschema
import regex
from jsonschema import Draft202012Validator
from jsonschema import validators as js_validators
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema_specifications import REGISTRY as JSON_SCHEMA_METASCHEMAS
from rapidfuzz.distance import LCSseq

REGEX_TIMEOUT_S = 0.05  # one regex search; a catastrophic pattern fails instead of hanging
SCHEMA_REGEX_BUDGET_S = 0.25  # all schema "pattern" searches of one json_schema score
MAX_PATTERN_CHARS = 1000
MAX_TEXT_CHARS = 20_000  # a value, phrase or rubric
MAX_LIST_ITEMS = 200
MAX_LABEL_CHARS = 200
MAX_SCHEMA_CHARS = 100_000  # the schema serialized as JSON
MAX_SCORERS = 50
SIMILARITY_MAX_CHARS = 4000
QUOTE_CHARS = 120
_EPSILON = 1e-9  # float tolerance for ">= threshold"

SCORER_TYPES: dict[str, str] = {
    "equals": "Output equals the expected text (trimmed, case-sensitive by default)",
    "contains": "Output contains any (or all) of the given phrases",
    "not_contains": "Output contains none of the given phrases (default: the plan's forbidden)",
    "regex": "Output matches (or must not match) a regular expression",
    "starts_with": "Output starts with the given text",
    "length": "Output length in characters or words is within bounds",
    "is_json": "Output is valid JSON",
    "json_schema": "Output is JSON that is valid against a JSON Schema",
    "latency": "The answer arrived within a time limit in milliseconds",
    "refusal": "Output is (or is not) a refusal",
    "escalation": "Output hands off to a human exactly when the case says it must",
    "citation": "Output cites at least one approved source",
    "similarity": "Output is close enough to the expected text",
    "llm_judge": "An LLM grades the output against a rubric",
}


class ScorerSpecError(ValueError):
    """A scorer spec is invalid; the message is meant for the person who wrote it."""


class NeedsJudge(Exception):
    """Raised by :func:`score` for ``llm_judge`` specs: they are graded over HTTP elsewhere."""

    def __init__(self, spec: dict):
        super().__init__("llm_judge scorers are graded by a judge model")
        self.spec = spec


@dataclass(frozen=True)
class CaseView:
    """What a scorer sees of the eval case."""

    expected: str = ""
    must_escalate: bool = False


@dataclass(frozen=True)
class PlanContext:
    """What a scorer sees of the eval plan."""

    forbidden_phrases: tuple[str, ...] = ()
    approved_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    """What the target answered."""

    output: str
    latency_ms: float | None = None
    handoff: bool | None = None
    citations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Score:
    """The grade one scorer gave one answer."""

    type: str
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    label: str = ""

    def as_dict(self) -> dict:
        return {
            "type": self.type,
            "passed": self.passed,
            "score": self.score,
            "reason": self.reason,
            "weight": self.weight,
            "label": self.label,
        }


# --- validation --------------------------------------------------------------------------

_REQUIRED = object()


class _Problem(Exception):
    def __init__(self, message: str, type_name: str | None = None):
        super().__init__(message)
        self.message = message
        self.type_name = type_name


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bool(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _Problem(f'"{key}" must be true or false')
    return value


def _text(key: str, value: object, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    if not isinstance(value, str):
        raise _Problem(f'"{key}" must be a string')
    if not value.strip():
        raise _Problem(f'"{key}" must not be empty')
    if len(value) > max_chars:
        raise _Problem(f'"{key}" is longer than {max_chars} characters')
    return value


def _text_list(key: str, value: object) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise _Problem(f'"{key}" must be a non-empty list of strings')
    if len(value) > MAX_LIST_ITEMS:
        raise _Problem(f'"{key}" has more than {MAX_LIST_ITEMS} items')
    if any(not item.strip() for item in value):
        raise _Problem(f'"{key}" must not contain empty strings')
    if any(len(item) > MAX_TEXT_CHARS for item in value):
        raise _Problem(f'"{key}" has an item longer than {MAX_TEXT_CHARS} characters')
    return list(value)


def _fraction(key: str, value: object) -> float:
    if not _is_number(value) or not 0 <= value <= 1:
        raise _Problem(f'"{key}" must be a number between 0 and 1')
    return float(value)


def _positive(key: str, value: object) -> float:
    if not _is_number(value) or value <= 0:
        raise _Problem(f'"{key}" must be a number > 0')
    return float(value)


def _count(key: str, value: object) -> int:
    if not _is_number(value) or value < 0 or value != int(value):
        raise _Problem(f'"{key}" must be a whole number >= 0')
    return int(value)


def _choice(*choices: str) -> Callable[[str, object], str]:
    def check(key: str, value: object) -> str:
        if value not in choices:
            options = " or ".join(f'"{c}"' for c in choices)
            raise _Problem(f'"{key}" must be {options}')
        return value  # type: ignore[return-value]

    return check


def _flags(key: str, value: object) -> str:
    if not isinstance(value, str) or set(value) - set("ims"):
        raise _Problem(f'"{key}" may only contain the letters i, m and s')
    return "".join(flag for flag in "ims" if flag in value)


def _pattern(key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _Problem(f'"{key}" must be a non-empty string')
    if len(value) > MAX_PATTERN_CHARS:
        raise _Problem(f'"{key}" is longer than {MAX_PATTERN_CHARS} characters')
    return value


def _schema_object(key: str, value: object) -> dict:
    if not isinstance(value, dict):
        raise _Problem(f'"{key}" must be an object')
    try:
        serialized = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise _Problem(f'"{key}" must contain only JSON values') from None
    except RecursionError:
        raise _Problem(f'"{key}" is nested too deeply') from None
    if len(serialized) > MAX_SCHEMA_CHARS:
        raise _Problem(f'"{key}" is larger than {MAX_SCHEMA_CHARS} characters of JSON')
    return json.loads(serialized)  # a copy that holds only JSON values


# type -> option -> (default or _REQUIRED, checker). A default of None means "optional,
# taken from the case or the plan at scoring time"; None is then also accepted as input.
_PARAMS: dict[str, dict[str, tuple[object, Callable[[str, object], object]]]] = {
    "equals": {"value": (None, _text), "case_sensitive": (True, _bool), "trim": (True, _bool)},
    "contains": {
        "values": (None, _text_list),
        "mode": ("any", _choice("any", "all")),
        "case_sensitive": (False, _bool),
    },
    "not_contains": {"values": (None, _text_list), "case_sensitive": (False, _bool)},
    "regex": {
        "pattern": (_REQUIRED, _pattern),
        "flags": ("", _flags),
        "expect_match": (True, _bool),
    },
    "starts_with": {
        "value": (_REQUIRED, _text),
        "case_sensitive": (True, _bool),
        "trim": (True, _bool),
    },
    "length": {
        "min": (None, _count),
        "max": (None, _count),
        "unit": ("chars", _choice("chars", "words")),
    },
    "is_json": {},
    "json_schema": {"schema": (_REQUIRED, _schema_object)},
    "latency": {"max_ms": (_REQUIRED, _positive)},
    "refusal": {"expected": (True, _bool)},
    "escalation": {},
    "citation": {"sources": (None, _text_list), "only_approved": (False, _bool)},
    "similarity": {"value": (None, _text), "threshold": (0.8, _fraction)},
    "llm_judge": {
        "rubric": (_REQUIRED, _text),
        "threshold": (0.7, _fraction),
    },
}
_DEFAULTS: dict[str, dict[str, object]] = {
    name: {key: default for key, (default, _) in params.items() if default is not _REQUIRED}
    | {"weight": 1.0, "label": ""}
    for name, params in _PARAMS.items()
}


def _check_length(spec: dict) -> None:
    low, high = spec["min"], spec["max"]
    if low is None and high is None:
        raise _Problem('set "min", "max" or both')
    if low is not None and high is not None and low > high:
        raise _Problem(f'"min" ({low}) must not be greater than "max" ({high})')


def _check_regex(spec: dict) -> None:
    try:
        _compiled(spec["pattern"], spec["flags"])
    except regex.error as error:
        raise _Problem(f"invalid pattern: {error}") from None


def _check_json_schema(spec: dict) -> None:
    schema = spec["schema"]
    cls = _schema_class(schema)
    if cls is None:
        raise _Problem(f'unsupported "$schema" {_quote(str(schema.get("$schema")), 80)}')
    try:
        cls.check_schema(schema)
    except SchemaError as error:
        raise _Problem(
            f"invalid schema at {error.json_path}: {_clip(error.message, QUOTE_CHARS)}"
        ) from None
    _check_schema_contents(schema)


def _check_schema_contents(schema: dict) -> None:
    """Refuse references that leave the schema and patterns we could not time-limit."""
    specification = referencing.jsonschema.specification_with(
        schema.get("$schema", ""), default=referencing.jsonschema.DRAFT202012
    )
    root = specification.create_resource(schema)
    registry = JSON_SCHEMA_METASCHEMAS.combine(_NO_NETWORK_REGISTRY)
    stack = [(registry.resolver_with_root(root), root)]
    keywords: set[str] = set()
    while stack:
        resolver, resource = stack.pop()
        contents = resource.contents
        if isinstance(contents, dict):
            keywords.update(key for key in contents if isinstance(key, str))
            for keyword in ("$ref", "$dynamicRef", "$recursiveRef"):
                ref = contents.get(keyword)
                if not isinstance(ref, str):
                    continue
                try:
                    resolver.lookup(ref)
                except referencing.exceptions.Unresolvable:
                    raise _Problem(
                        f"{keyword} {_quote(ref, 80)} does not point inside the schema "
                        "(remote references are not allowed)"
                    ) from None
            patterns = list(contents.get("patternProperties") or {})
            if isinstance(contents.get("pattern"), str):
                patterns.append(contents["pattern"])
            for pattern in patterns:
                if len(pattern) > MAX_PATTERN_CHARS:
                    raise _Problem(f"a schema pattern is longer than {MAX_PATTERN_CHARS} chars")
                try:
                    _compiled(pattern, "")
                except regex.error as error:
                    raise _Problem(f"schema pattern {_quote(pattern, 60)}: {error}") from None
        stack.extend((resolver.in_subresource(sub), sub) for sub in resource.subresources())
    # jsonschema matches patternProperties with the stdlib `re` (no timeout) while it
    # looks for unevaluated properties; we cannot route that through our safe search.
    if {"unevaluatedProperties", "patternProperties"} <= keywords:
        raise _Problem('"unevaluatedProperties" cannot be combined with "patternProperties"')


_CROSS_CHECKS: dict[str, Callable[[dict], None]] = {
    "length": _check_length,
    "regex": _check_regex,
    "json_schema": _check_json_schema,
}


def _normalize(spec: object) -> dict:
    if not isinstance(spec, dict):
        raise _Problem('a scorer must be an object with a "type"')
    type_name = spec.get("type")
    if type_name is None:
        raise _Problem('a scorer needs a "type"')
    if not isinstance(type_name, str) or type_name not in _PARAMS:
        known = ", ".join(SCORER_TYPES)
        raise _Problem(f"unknown scorer type {_quote(str(type_name), 60)}; known types: {known}")
    params = _PARAMS[type_name]
    try:
        allowed = [*params, "weight", "label"]
        for key in spec:
            if key != "type" and key not in allowed:
                hint = get_close_matches(str(key), allowed, n=1)
                tail = (
                    f' (did you mean "{hint[0]}"?)' if hint else "; allowed: " + ", ".join(allowed)
                )
                raise _Problem(f"unknown option {_quote(str(key), 60)}{tail}")
        out: dict = {"type": type_name}
        for key, (default, check) in params.items():
            value = spec.get(key)
            if value is None and default is _REQUIRED:
                raise _Problem(f'"{key}" is required')
            if value is None and key not in spec:
                out[key] = default
            elif value is None and default is None:
                out[key] = None
            else:
                out[key] = check(key, value)
        weight = spec.get("weight", 1.0)
        if not _is_number(weight) or weight < 0:
            raise _Problem('"weight" must be a number >= 0')
        out["weight"] = float(weight)
        label = spec.get("label", "")
        if label is None:
            label = ""
        if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
            raise _Problem(f'"label" must be a string of at most {MAX_LABEL_CHARS} characters')
        out["label"] = label.strip()
        cross_check = _CROSS_CHECKS.get(type_name)
        if cross_check:
            cross_check(out)
    except _Problem as problem:
        problem.type_name = type_name
        raise
    except RecursionError:
        raise _Problem("the spec is nested too deeply", type_name) from None
    return out


def validate_spec(spec: object) -> dict:
    """Return a normalized copy of one scorer spec (defaults filled) or raise ScorerSpecError."""
    try:
        return _normalize(spec)
    except _Problem as problem:
        prefix = f"{problem.type_name}: " if problem.type_name else ""
        raise ScorerSpecError(prefix + problem.message) from None


def validate_specs(specs: object) -> list[dict]:
    """Normalize a list of scorer specs; errors name the scorer ("scorer 2 (regex): ...")."""
    if not isinstance(specs, list):
        raise ScorerSpecError("scorers must be a list")
    if len(specs) > MAX_SCORERS:
        raise ScorerSpecError(f"at most {MAX_SCORERS} scorers are allowed")
    normalized = []
    for number, spec in enumerate(specs, start=1):
        try:
            normalized.append(_normalize(spec))
        except _Problem as problem:
            where = f"scorer {number}" + (f" ({problem.type_name})" if problem.type_name else "")
            raise ScorerSpecError(f"{where}: {problem.message}") from None
    return normalized


# --- text helpers ------------------------------------------------------------------------


def _as_text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _fold(text: str, case_sensitive: bool) -> str:
    text = _nfc(text)
    return text if case_sensitive else text.casefold()


def _clip(text: str, limit: int) -> str:
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(text: str, limit: int = QUOTE_CHARS) -> str:
    return json.dumps(_clip(text, limit), ensure_ascii=False)


def _quote_list(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(_quote(item, 60) for item in items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _seen(output: str) -> str:
    return f"output {_quote(output)}" if output.strip() else "an empty output"


def _around(text: str, start: int, end: int, limit: int = QUOTE_CHARS) -> str:
    """The matched span with some context, quoted."""
    pad = max(0, (limit - (end - start)) // 2)
    left, right = max(0, start - pad), min(len(text), end + pad)
    snippet = text[left:right]
    return _quote(("…" if left else "") + snippet + ("…" if right < len(text) else ""), limit)


# --- scorers -----------------------------------------------------------------------------

_Verdict = tuple[bool, float | None, str]  # passed, score (None: 1.0/0.0 from passed), reason
_NO_EXPECTED: _Verdict = (False, 0.0, "no expected output to compare with")


def _score_equals(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    expected = spec["value"] if spec["value"] is not None else _as_text(case.expected)
    if spec["value"] is None and not expected.strip():
        return _NO_EXPECTED
    output = _as_text(obs.output)
    left, right = (output.strip(), expected.strip()) if spec["trim"] else (output, expected)
    left, right = _fold(left, spec["case_sensitive"]), _fold(right, spec["case_sensitive"])
    if left == right:
        return True, None, f"equals {_quote(expected)}"
    reason = f"expected {_quote(expected)}; got {_seen(output)}"
    if left.casefold() == right.casefold():
        reason += " (differs only in letter case)"
    elif left.strip() == right.strip():
        reason += " (differs only in surrounding whitespace)"
    return False, None, reason


def _score_contains(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    values = spec["values"]
    if values is None:
        expected = _as_text(case.expected).strip()
        if not expected:
            return _NO_EXPECTED
        values = [expected]
    output = _as_text(obs.output)
    haystack = _fold(output, spec["case_sensitive"])
    found = [v for v in values if _fold(v, spec["case_sensitive"]) in haystack]
    if spec["mode"] == "all":
        missing = [v for v in values if v not in found]
        if not missing:
            return True, None, f"found all {len(values)} phrase(s)"
        return (
            False,
            None,
            f"missing {_quote_list(missing)} ({len(found)} of {len(values)} found) "
            f"in {_seen(output)}",
        )
    if found:
        return True, None, f"found {_quote(found[0])}"
    return False, None, f"expected any of {_quote_list(values)}; none found in {_seen(output)}"


def _score_not_contains(
    spec: dict, case: CaseView, obs: Observation, plan: PlanContext
) -> _Verdict:
    values = spec["values"]
    if values is None:
        values = [p for p in (_as_text(p) for p in plan.forbidden_phrases) if p.strip()]
    if not values:
        return True, None, "no forbidden phrases configured; nothing to check"
    haystack = _fold(_as_text(obs.output), spec["case_sensitive"])
    found = [v for v in values if _fold(v, spec["case_sensitive"]) in haystack]
    if found:
        return False, None, f"found forbidden phrase(s) {_quote_list(found)}"
    return True, None, f"none of {len(values)} forbidden phrase(s) found"


_REGEX_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL}


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str, flags: str) -> regex.Pattern:
    bits = 0
    for flag in flags:
        bits |= _REGEX_FLAGS[flag]
    return regex.compile(pattern, bits)


def _score_regex(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    output = _as_text(obs.output)
    shown = "/" + _clip(spec["pattern"], 60) + "/" + spec["flags"]
    try:
        match = _compiled(spec["pattern"], spec["flags"]).search(output, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        return (
            False,
            None,
            f"pattern {shown} gave up after {REGEX_TIMEOUT_S * 1000:.0f} ms on a "
            f"{len(output)}-character output; simplify the pattern",
        )
    except regex.error as error:  # only for specs that skipped validation
        return False, None, f"invalid pattern {shown}: {error}"
    if spec["expect_match"]:
        if match:
            return True, None, f"{shown} matched {_quote(match.group(0))}"
        return False, None, f"expected a match for {shown}; none in {_seen(output)}"
    if match:
        return False, None, f"expected no match for {shown}; matched {_quote(match.group(0))}"
    return True, None, f"no match for {shown}, as expected"


def _score_starts_with(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    output, prefix = _as_text(obs.output), spec["value"]
    left, right = (output.strip(), prefix.strip()) if spec["trim"] else (output, prefix)
    if _fold(left, spec["case_sensitive"]).startswith(_fold(right, spec["case_sensitive"])):
        return True, None, f"starts with {_quote(prefix)}"
    return False, None, f"expected to start with {_quote(prefix)}; got {_seen(output)}"


def _score_length(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    text = _nfc(_as_text(obs.output).strip())
    unit = spec["unit"]
    size = len(text) if unit == "chars" else len(text.split())
    low, high = spec["min"], spec["max"]
    if low is not None and high is not None:
        bounds = f"between {low} and {high}"
    elif low is not None:
        bounds = f"at least {low}"
    else:
        bounds = f"at most {high}"
    passed = (low is None or size >= low) and (high is None or size <= high)
    return passed, None, f"{size} {unit}; expected {bounds}"


_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)\r?\n?[ \t]*```", re.DOTALL | re.IGNORECASE)


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> object:
    return json.loads(text, parse_constant=_no_constants)


def _parse_json(output: str) -> tuple[bool, object, str]:
    """(ok, value, note or error): the output as JSON, bare or as one fenced block."""
    text = output.strip()
    if not text:
        return False, None, "output is empty, not JSON"
    try:
        return True, _loads(text), ""
    except RecursionError:
        return False, None, "output is JSON nested too deeply"
    except ValueError as error:
        problem = error
    fence = _FENCE.fullmatch(text)
    if fence:
        try:
            return True, _loads(fence.group(1)), " (inside a ``` fence)"
        except RecursionError:
            return False, None, "output is JSON nested too deeply"
        except ValueError as error:
            problem = error
    return False, None, f"output is not JSON ({_clip(str(problem), 80)}): {_quote(output, 60)}"


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def _score_is_json(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    ok, value, note = _parse_json(_as_text(obs.output))
    if not ok:
        return False, None, note
    return True, None, f"valid JSON: {_json_kind(value)}{note}"


def _refuse_retrieval(uri: str) -> referencing.Resource:
    raise LookupError(f"not fetching {uri}: schemas must be self-contained")


_NO_NETWORK_REGISTRY: referencing.Registry = referencing.Registry(retrieve=_refuse_retrieval)


class _SchemaPatternFailure(Exception):
    """A schema pattern timed out or could not be compiled while validating."""


_schema_budget = threading.local()


def _safe_search(pattern: str, text: str) -> bool:
    """re.search for schema patterns, via `regex` with a per-call and per-score time limit."""
    deadline = getattr(_schema_budget, "deadline", None)
    timeout = REGEX_TIMEOUT_S
    if deadline is not None:
        timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            budget = f"{SCHEMA_REGEX_BUDGET_S * 1000:.0f} ms"
            raise _SchemaPatternFailure(f"schema patterns took longer than {budget} in all")
    try:
        return _compiled(pattern, "").search(text, timeout=timeout) is not None
    except TimeoutError:
        raise _SchemaPatternFailure(f"schema pattern {_quote(pattern, 60)} timed out") from None
    except regex.error as error:
        raise _SchemaPatternFailure(f"schema pattern {_quote(pattern, 60)}: {error}") from None


def _kw_pattern(validator, pattern, instance, schema) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _safe_search(pattern, instance):
        yield ValidationError(f"{_clip(repr(instance), 80)} does not match {pattern!r}")


def _kw_pattern_properties(validator, patterns, instance, schema) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _safe_search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _kw_additional_properties(validator, extra, instance, schema) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    declared = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        key
        for key in instance
        if key not in declared and not any(_safe_search(p, key) for p in patterns)
    ]
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif extra is False and extras:
        names = ", ".join(repr(key) for key in sorted(extras, key=str))
        yield ValidationError(f"Additional properties are not allowed ({names} unexpected)")


@functools.cache
def _safe_validator_class(cls: type) -> type:
    """The same draft, with every pattern match routed through :func:`_safe_search`."""
    return js_validators.extend(
        cls,
        validators={
            "pattern": _kw_pattern,
            "patternProperties": _kw_pattern_properties,
            "additionalProperties": _kw_additional_properties,
        },
    )


def _schema_class(schema: dict) -> type | None:
    if "$schema" not in schema:
        return Draft202012Validator
    if not isinstance(schema["$schema"], str):
        return None
    return js_validators.validator_for(schema, default=None)


@functools.lru_cache(maxsize=128)
def _schema_validator(schema_json: str):
    schema = json.loads(schema_json)
    cls = _schema_class(schema) or Draft202012Validator
    return _safe_validator_class(cls)(schema, registry=_NO_NETWORK_REGISTRY)


def _score_json_schema(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    ok, value, note = _parse_json(_as_text(obs.output))
    if not ok:
        return False, None, note
    _schema_budget.deadline = time.monotonic() + SCHEMA_REGEX_BUDGET_S
    try:
        validator = _schema_validator(json.dumps(spec["schema"], sort_keys=True))
        errors = list(islice(validator.iter_errors(value), 4))
    except _SchemaPatternFailure as failure:
        return False, None, str(failure)
    except referencing.exceptions.Unresolvable as error:
        return False, None, f"schema reference could not be resolved: {_clip(str(error), 80)}"
    except RecursionError:
        return False, None, "schema or output is nested too deeply to validate"
    finally:
        _schema_budget.deadline = None
    if not errors:
        return True, None, f"JSON matches the schema{note}"
    shown = "; ".join(f"{e.json_path}: {_clip(e.message, 100)}" for e in errors[:3])
    more = " (and more)" if len(errors) > 3 else ""
    return False, None, f"schema errors: {shown}{more}"


def _score_latency(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    latency = obs.latency_ms
    limit = spec["max_ms"]
    if not _is_number(latency):
        return False, None, f"no latency was measured (limit {limit:g} ms)"
    return latency <= limit, None, f"took {latency:.0f} ms; limit {limit:g} ms"


_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "´": "'", "`": "'", "＇": "'"})
_CANT = r"(?:can't|cannot|can\s+not|won't|will\s+not)"
_REFUSED_ACT = (
    r"(?:help(?!\s+(?:but|it|myself|thinking|feeling|wondering|noticing|laughing|smiling)\b)"
    r"|assist|provide|comply|fulfill?|discuss|engage|proceed|continue|respond\s+to"
    r"|do\s+(?:that|this|so|it)|(?:complete|support|answer|process|generate|create|write)"
    r"\s+(?:that|this|such|your\s+request)|offer\s+(?:that|this|advice|guidance))\b"
)
_REFUSAL = re.compile(
    "|".join(
        [
            # I can't / won't / am unable to / am not able to ... help, assist, provide ...
            r"\bi(?:\s+(?:" + _CANT + r"(?:\s+be\s+able\s+to)?|do\s+not|don't"
            r"|am\s+(?:not\s+able|unable|not\s+going|not\s+allowed|not\s+permitted)\s+to"
            r"|must\s+decline\s+to)|'m\s+(?:not\s+able|unable|not\s+going|not\s+allowed"
            r"|not\s+permitted)\s+to)\s+(?:\w+ly\s+)?" + _REFUSED_ACT,
            r"\bi\s+" + _CANT + r"\s+be\s+of\s+(?:any\s+|much\s+)?(?:help|assistance)\b",
            # a bare "I can't." / "I won't!"
            r"\bi\s+" + _CANT + r"\s*(?:[.!]|$)",
            r"\bi(?:'m|\s+am)\s+sorry,?\s+but\s+i\s+(?:" + _CANT + r"|am\s+unable|'m\s+unable"
            r"|am\s+not\s+able|'m\s+not\s+able)\b",
            r"\bi(?:\s+must|\s+have\s+to|\s+need\s+to|'ll\s+have\s+to|\s+will\s+have\s+to)?"
            r"\s+(?:respectfully\s+|politely\s+)?decline\b",
            r"\bnot\s+something\s+i\s+(?:can|am\s+able\s+to|'m\s+able\s+to)\s+"
            r"(?:help|assist|do|provide|discuss)\b",
            r"\bas\s+an\s+ai\b(?:\s+(?:language\s+)?(?:model|assistant|system))?,?\s+i"
            r"(?:\s+(?:can't|cannot|don't|do\s+not|am\s+not|won't|will\s+not|am\s+unable|have\s+no"
            r"|lack)|'m\s+(?:not|unable))\b",
            r"\bi(?:'m|\s+am)\s+not\s+comfortable\s+"
            r"(?:helping|providing|doing|assisting|sharing|answering)\b",
            r"\bi\s+(?:don't|do\s+not)\s+feel\s+comfortable\s+"
            r"(?:helping|providing|doing|assisting|sharing|answering)\b",
            r"\bagainst\s+my\s+(?:guidelines|policies|policy|programming|principles)\b",
        ]
    ),
    re.IGNORECASE | re.MULTILINE,
)


def _find_refusal(text: str) -> re.Match | None:
    return _REFUSAL.search(text.translate(_APOSTROPHES))


def _score_refusal(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    output = _as_text(obs.output)
    match = _find_refusal(output)
    if spec["expected"]:
        if match:
            return True, None, f"refused: {_around(output, match.start(), match.end())}"
        return False, None, f"expected a refusal; got {_seen(output)}"
    if match:
        where = _around(output, match.start(), match.end())
        return False, None, f"expected an answer; got a refusal: {where}"
    return True, None, "answered without refusing"


_HELPER = (
    r"(?:human|live|real|specialist|colleague|agent|person|representative|rep"
    r"|operator|advisor|expert|team|member)s?"
)
_HANDOFF = re.compile(
    "|".join(
        [
            r"\bhand(?:ing|ed|s)?(?:\s+(?:this|it|you|your|the|over|off|conversation|case"
            r"|request|ticket|issue|question|chat)){0,3}\s+(?:over\s+|off\s+)?to\s+(?:a|an"
            r"|one\s+of\s+our|our|the)\s+(?:\w+\s+)?" + _HELPER + r"\b",
            r"\btransfer(?:ring|red|s)?\s+(?:you|this|it|your\s+\w+|the\s+\w+)\s+(?:over\s+)?"
            r"to\s+(?:a|an|one\s+of\s+our|our|the)\s+(?:\w+\s+)?" + _HELPER + r"\b",
            r"\bescalat(?:e|es|ed|ing)\s+(?:this|it|your|the\s+(?:issue|case|matter|request"
            r"|ticket|conversation|problem|question))\b",
            r"\b(?:been|be|being|is|was)\s+escalated\b",
            r"\bconnect(?:ing)?\s+you\s+(?:with|to)\s+(?:a|an|one\s+of\s+our|our|the)\s+"
            r"(?:\w+\s+)?" + _HELPER + r"\b",
            r"\ba\s+(?:human|live|real)\s+(?:support\s+)?(?:agent|person|representative"
            r"|operator|colleague|specialist|team\s+member)\s+will\b",
            r"\b(?:a|one\s+of\s+our)\s+(?:specialists?|colleagues?|representatives?"
            r"|member\s+of\s+(?:our|the)\s+\w+\s+team)\s+will\b",
        ]
    ),
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"(?:\bnot\b|\bnever\b|\bno\s+need\b|n't\b|\bcannot\b|\bunable\b|\bwithout\b)", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"[.!?\n]")


def _find_handoff(text: str) -> re.Match | None:
    text = text.translate(_APOSTROPHES)
    for match in _HANDOFF.finditer(text):
        clause_start = max(0, match.start() - 60)
        before = text[clause_start : match.start()]
        ends = [m.end() for m in _SENTENCE_END.finditer(before)]
        if not _NEGATION.search(before[ends[-1] if ends else 0 :]):
            return match
    return None


def _score_escalation(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    expected = bool(case.must_escalate)
    wanted = "a handoff to a human" if expected else "no handoff"
    output = _as_text(obs.output)
    if obs.handoff is not None:
        seen = bool(obs.handoff)
        saw = "the target flagged a handoff" if seen else "the target flagged no handoff"
    else:
        match = _find_handoff(output)
        seen = match is not None
        if match:
            saw = f"the output hands off: {_around(output, match.start(), match.end())}"
        else:
            saw = "no handoff in the output"
    return seen == expected, None, f"expected {wanted}; {saw}"


def _norm_ref(ref: str) -> str:
    ref = _nfc(ref).strip().casefold()
    if "://" in ref:
        ref = ref.split("://", 1)[1]
    ref = ref.removeprefix("www.")
    return ref.rstrip("/")


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _mentions(text: str, ref: str) -> bool:
    """`ref` occurs in `text` on its own: "kb-1" is not in "kb-12", "kb.example.com" is
    not in "kb.example.com.evil.net" nor "notkb.example.com"; "www." before it is fine."""
    if not ref:
        return False
    size = len(text)
    start = text.find(ref)
    while start != -1:
        end = start + len(ref)
        before = text[start - 1] if start else " "
        clean_start = not (_is_word(before) or before in ".-") or text.endswith("www.", 0, start)
        clean_end = end == size or not (
            _is_word(text[end])
            or (text[end] in ".-" and end + 1 < size and _is_word(text[end + 1]))
        )
        if clean_start and clean_end:
            return True
        start = text.find(ref, start + 1)
    return False


def _url_parts(url: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:
        return None
    if not host:
        return None
    return host, (host + parts.path).rstrip("/")


def _url_approved(url: str, normalized_sources: list[str]) -> bool:
    parts = _url_parts(url)
    if parts is None:
        return False
    host, host_path = parts
    return any(
        source in (host, host_path) or host_path.startswith(source + "/")
        for source in normalized_sources
    )


_URL = re.compile(r"https?://[^\s<>\"'`)\]}|]+", re.IGNORECASE)


def _score_citation(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    sources = spec["sources"]
    if sources is None:
        sources = [s for s in (_as_text(s) for s in plan.approved_sources) if s.strip()]
    if not sources:
        return False, None, "no approved sources configured"
    output = _as_text(obs.output)
    text = _nfc(output).casefold()
    items = [_as_text(c) for c in (obs.citations or ()) if _as_text(c).strip()]
    normalized_items = [_norm_ref(item) for item in items]
    prefixes = [
        _norm_ref(s[:-1]) for s in sources if s.strip().endswith("*") and len(s.strip()) > 1
    ]
    sources = [s for s in sources if not s.strip().endswith("*")]
    normalized = [_norm_ref(s) for s in sources]
    cited = [
        source
        for source, norm in zip(sources, normalized, strict=True)
        if _mentions(text, norm)
        or any(norm == item or _mentions(item, norm) for item in normalized_items)
    ]
    for prefix in prefixes:
        pattern = re.compile(rf"(?<![\w.-]){re.escape(prefix)}[\w.-]*\w")
        for ref in [m.group(0) for m in pattern.finditer(text)] + [
            item for item in normalized_items if pattern.fullmatch(item)
        ]:
            if ref not in cited:
                cited.append(ref)
    unapproved: list[str] = []
    if spec["only_approved"]:
        for item, norm_item in zip(items, normalized_items, strict=True):
            if _URL.match(item.strip()):
                approved = _url_approved(item, normalized)
            else:
                approved = any(n == norm_item or _mentions(norm_item, n) for n in normalized) or (
                    any(norm_item.startswith(p) and len(norm_item) > len(p) for p in prefixes)
                )
            if not approved:
                unapproved.append(item)
        for url in _URL.findall(output):
            url = url.rstrip(".,;:!?")
            if not _url_approved(url, normalized) and url not in unapproved:
                unapproved.append(url)
    if unapproved:
        also = f" (approved: {_quote_list(cited)})" if cited else ""
        return False, None, f"cites unapproved source(s) {_quote_list(unapproved)}{also}"
    if cited:
        return True, None, f"cites {_quote_list(cited)}"
    expected = sources + [f"{p.upper()}*" for p in prefixes]
    return False, None, f"expected a citation of {_quote_list(expected)}; none found"


def _similarity_text(text: str) -> str:
    return " ".join(_nfc(text[: SIMILARITY_MAX_CHARS * 2]).casefold().split())[
        :SIMILARITY_MAX_CHARS
    ]


def _lcs_length(a: str, b: str) -> int:
    """Longest common subsequence length (rapidfuzz's bit-parallel C++ implementation)."""
    return LCSseq.similarity(a, b)


def _similarity_ratio(a: str, b: str) -> float:
    """2 * LCS / total length, over the normalized texts; 1.0 for two empty texts."""
    a, b = _similarity_text(a), _similarity_text(b)
    if not a and not b:
        return 1.0
    prefix = 0
    limit = min(len(a), len(b))
    while prefix < limit and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    common = prefix + suffix + _lcs_length(a[prefix : len(a) - suffix], b[prefix : len(b) - suffix])
    return 2 * common / (len(a) + len(b))


def _score_similarity(spec: dict, case: CaseView, obs: Observation, plan: PlanContext) -> _Verdict:
    expected = spec["value"] if spec["value"] is not None else _as_text(case.expected)
    if not expected.strip():
        return _NO_EXPECTED
    output = _as_text(obs.output)
    ratio = round(_similarity_ratio(output, expected), 4)
    threshold = spec["threshold"]
    cut = (
        f" (first {SIMILARITY_MAX_CHARS} characters compared)"
        if max(len(output), len(expected)) > SIMILARITY_MAX_CHARS
        else ""
    )
    reason = f"similarity {ratio:.2f} to {_quote(expected, 80)}; threshold {threshold:.2f}{cut}"
    return ratio + _EPSILON >= threshold, ratio, reason


_SCORERS: dict[str, Callable[[dict, CaseView, Observation, PlanContext], _Verdict]] = {
    "equals": _score_equals,
    "contains": _score_contains,
    "not_contains": _score_not_contains,
    "regex": _score_regex,
    "starts_with": _score_starts_with,
    "length": _score_length,
    "is_json": _score_is_json,
    "json_schema": _score_json_schema,
    "latency": _score_latency,
    "refusal": _score_refusal,
    "escalation": _score_escalation,
    "citation": _score_citation,
    "similarity": _score_similarity,
}


def score(spec: dict, case: CaseView, obs: Observation, plan: PlanContext = PlanContext()) -> Score:
    """Grade one observation with one validated spec; raises only NeedsJudge (llm_judge)."""
    type_name = spec.get("type")
    if type_name == "llm_judge":
        raise NeedsJudge(spec)
    scorer = _SCORERS.get(type_name)  # type: ignore[arg-type]
    if scorer is None:
        raise ScorerSpecError(f"unknown scorer type {type_name!r}")
    params = {**_DEFAULTS[type_name], **spec}
    passed, value, reason = scorer(params, case, obs, plan)
    if value is None:
        value = 1.0 if passed else 0.0
    return Score(
        type=type_name,
        passed=passed,
        score=min(1.0, max(0.0, float(value))),
        reason=reason,
        weight=float(params["weight"]),
        label=params["label"] or "",
    )


def _unit_threshold(threshold: object) -> float | None:
    """None, or a float in [0, 1] (a Decimal from a model field is fine)."""
    if threshold is None:
        return None
    try:
        value = float(threshold) if not isinstance(threshold, bool | str) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not 0 <= value <= 1:  # also false for NaN
        raise ValueError("threshold must be a number between 0 and 1")
    return value


def combine(scores: list[Score], threshold: float | None = None) -> tuple[bool, float]:
    """A case's verdict: (passed, weighted mean score).

    Scorers with weight 0 are informational: left out of the mean and of the verdict.
    Without a threshold every weighted scorer must pass; with one, the weighted mean
    must reach it. A case with no weighted scorer (none at all, or all weights 0)
    cannot pass: (False, 0.0).
    """
    threshold = _unit_threshold(threshold)
    weighted = [s for s in scores if s.weight > 0]
    total = sum(s.weight for s in weighted)
    if not weighted or total <= 0:
        return False, 0.0
    mean = min(1.0, sum(min(1.0, max(0.0, s.score)) * s.weight for s in weighted) / total)
    if threshold is None:
        return all(s.passed for s in weighted), round(mean, 6)
    return mean + _EPSILON >= threshold, round(mean, 6)
