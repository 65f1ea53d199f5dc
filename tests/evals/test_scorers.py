"""Deterministic scorers: spec validation (every error kind), each scorer's pass, fail and
edge cases, and how a case's scores combine into its verdict. No database."""

import json
import random
import time
from decimal import Decimal

import pytest

from evals import scorers
from evals.scorers import (
    SCORER_TYPES,
    CaseView,
    NeedsJudge,
    Observation,
    PlanContext,
    Score,
    ScorerSpecError,
    combine,
    score,
    validate_spec,
    validate_specs,
)

PLAN = PlanContext(
    forbidden_phrases=("guarantee", "Lawsuit"),
    approved_sources=("KB-1", "https://kb.example.com/refunds"),
)


def run(spec, output="", *, expected="", must_escalate=False, plan=PLAN, **observed):
    case = CaseView(expected=expected, must_escalate=must_escalate)
    return score(validate_spec(spec), case, Observation(output, **observed), plan)


def check(result, passed, reason_part):
    assert (result.passed, result.score) == (passed, 1.0 if passed else 0.0), result.reason
    assert reason_part in result.reason, result.reason


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "normalized"),
    [
        (
            {"type": "equals"},
            {"type": "equals", "value": None, "case_sensitive": True, "trim": True},
        ),
        (
            {"type": "contains", "values": ["a"], "weight": 2, "label": "  mentions a "},
            {
                "type": "contains",
                "values": ["a"],
                "mode": "any",
                "case_sensitive": False,
                "weight": 2.0,
                "label": "mentions a",
            },
        ),
        (
            {"type": "not_contains", "values": None},
            {"type": "not_contains", "values": None, "case_sensitive": False},
        ),
        (
            {"type": "regex", "pattern": "a.b", "flags": "sii"},
            {"type": "regex", "pattern": "a.b", "flags": "is", "expect_match": True},
        ),
        (
            {"type": "starts_with", "value": "Hi"},
            {"type": "starts_with", "value": "Hi", "case_sensitive": True, "trim": True},
        ),
        (
            {"type": "length", "min": 10.0},
            {"type": "length", "min": 10, "max": None, "unit": "chars"},
        ),
        ({"type": "is_json", "weight": 0}, {"type": "is_json", "weight": 0.0}),
        ({"type": "json_schema", "schema": {}}, {"type": "json_schema", "schema": {}}),
        ({"type": "latency", "max_ms": 500}, {"type": "latency", "max_ms": 500.0}),
        ({"type": "refusal"}, {"type": "refusal", "expected": True}),
        ({"type": "escalation", "label": None}, {"type": "escalation"}),
        (
            {"type": "citation"},
            {"type": "citation", "sources": None, "only_approved": False},
        ),
        ({"type": "similarity"}, {"type": "similarity", "value": None, "threshold": 0.8}),
        (
            {"type": "llm_judge", "rubric": "Polite", "threshold": 1},
            {"type": "llm_judge", "rubric": "Polite", "threshold": 1.0},
        ),
    ],
)
def test_validate_spec_fills_defaults(spec, normalized):
    assert validate_spec(spec) == {"weight": 1.0, "label": ""} | normalized


def test_every_type_is_described_and_validates():
    minimal = {
        "regex": {"pattern": "x"},
        "starts_with": {"value": "x"},
        "length": {"max": 1},
        "json_schema": {"schema": {}},
        "latency": {"max_ms": 1},
        "llm_judge": {"rubric": "x"},
    }
    assert set(SCORER_TYPES) == set(scorers._PARAMS)
    for name, description in SCORER_TYPES.items():
        assert description
        assert validate_spec({"type": name, **minimal.get(name, {})})["type"] == name


def test_validate_spec_returns_a_copy():
    spec = {"type": "contains", "values": ["a"]}
    schema_spec = {"type": "json_schema", "schema": {"type": "object", "required": ["a"]}}
    normalized, normalized_schema = validate_spec(spec), validate_spec(schema_spec)
    spec["values"].append("b")
    schema_spec["schema"]["required"].append("b")
    assert normalized["values"] == ["a"]
    assert normalized_schema["schema"] == {"type": "object", "required": ["a"]}


LONG = "x" * (scorers.MAX_TEXT_CHARS + 1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("equals", 'a scorer must be an object with a "type"'),
        (["equals"], 'a scorer must be an object with a "type"'),
        ({"value": "x"}, 'a scorer needs a "type"'),
        ({"type": "eqauls"}, 'unknown scorer type "eqauls"; known types: equals, contains,'),
        ({"type": 3}, 'unknown scorer type "3"'),
        ({"type": "contains", "vaules": ["a"]}, 'contains: unknown option "vaules" (did you mean'),
        (
            {"type": "is_json", "strict": True},
            'is_json: unknown option "strict"; allowed: weight, label',
        ),
        ({"type": "equals", "trim": 1}, 'equals: "trim" must be true or false'),
        ({"type": "equals", "trim": None}, 'equals: "trim" must be true or false'),
        ({"type": "equals", "case_sensitive": "no"}, 'equals: "case_sensitive" must be true or'),
        ({"type": "equals", "value": 5}, 'equals: "value" must be a string'),
        ({"type": "equals", "value": "  "}, 'equals: "value" must not be empty'),
        ({"type": "equals", "value": LONG}, 'equals: "value" is longer than 20000 characters'),
        ({"type": "starts_with"}, 'starts_with: "value" is required'),
        ({"type": "contains", "values": []}, 'contains: "values" must be a non-empty list of'),
        ({"type": "contains", "values": "abc"}, 'contains: "values" must be a non-empty list'),
        ({"type": "contains", "values": ["a", 1]}, 'contains: "values" must be a non-empty'),
        ({"type": "contains", "values": ["a", " "]}, 'contains: "values" must not contain empty'),
        ({"type": "contains", "values": ["a"] * 201}, 'contains: "values" has more than 200'),
        ({"type": "not_contains", "values": [LONG]}, 'not_contains: "values" has an item longer'),
        ({"type": "contains", "mode": "some"}, 'contains: "mode" must be "any" or "all"'),
        ({"type": "regex"}, 'regex: "pattern" is required'),
        ({"type": "regex", "pattern": ""}, 'regex: "pattern" must be a non-empty string'),
        ({"type": "regex", "pattern": "a" * 1001}, 'regex: "pattern" is longer than 1000'),
        ({"type": "regex", "pattern": "(a"}, "regex: invalid pattern: missing )"),
        ({"type": "regex", "pattern": "a", "flags": "x"}, 'regex: "flags" may only contain the'),
        ({"type": "regex", "pattern": "a", "flags": ["i"]}, 'regex: "flags" may only contain'),
        ({"type": "length"}, 'length: set "min", "max" or both'),
        ({"type": "length", "min": 5, "max": 4}, 'length: "min" (5) must not be greater than'),
        ({"type": "length", "min": -1}, 'length: "min" must be a whole number >= 0'),
        ({"type": "length", "max": 1.5}, 'length: "max" must be a whole number >= 0'),
        ({"type": "length", "max": True}, 'length: "max" must be a whole number >= 0'),
        ({"type": "length", "max": 9, "unit": "tokens"}, 'length: "unit" must be "chars" or'),
        ({"type": "json_schema"}, 'json_schema: "schema" is required'),
        ({"type": "json_schema", "schema": []}, 'json_schema: "schema" must be an object'),
        (
            {"type": "json_schema", "schema": {"enum": [float("nan")]}},
            'json_schema: "schema" must contain only JSON values',
        ),
        (
            {"type": "json_schema", "schema": {"enum": [{1, 2}]}},
            'json_schema: "schema" must contain only JSON values',
        ),
        (
            {"type": "json_schema", "schema": {"enum": ["x" * 100_001]}},
            'json_schema: "schema" is larger than 100000 characters of JSON',
        ),
        (
            {"type": "json_schema", "schema": {"type": "strnig"}},
            "json_schema: invalid schema at $.type: 'strnig' is not valid under",
        ),
        (
            {"type": "json_schema", "schema": {"$schema": "https://example.com/my-draft"}},
            'json_schema: unsupported "$schema" "https://example.com/my-draft"',
        ),
        (
            {"type": "json_schema", "schema": {"$ref": "https://example.com/s.json"}},
            'json_schema: $ref "https://example.com/s.json" does not point inside the schema '
            "(remote references are not allowed)",
        ),
        (
            {"type": "json_schema", "schema": {"items": {"$ref": "other.json#/a"}}},
            'json_schema: $ref "other.json#/a" does not point inside the schema',
        ),
        (
            {"type": "json_schema", "schema": {"$ref": "#/$defs/missing"}},
            'json_schema: $ref "#/$defs/missing" does not point inside the schema',
        ),
        (
            {"type": "json_schema", "schema": {"patternProperties": {"a" * 1001: {}}}},
            "json_schema: a schema pattern is longer than 1000 chars",
        ),
        (
            {
                "type": "json_schema",
                "schema": {
                    "patternProperties": {"^x": {}},
                    "properties": {"a": {"unevaluatedProperties": False}},
                },
            },
            'json_schema: "unevaluatedProperties" cannot be combined with "patternProperties"',
        ),
        ({"type": "latency"}, 'latency: "max_ms" is required'),
        ({"type": "latency", "max_ms": 0}, 'latency: "max_ms" must be a number > 0'),
        ({"type": "latency", "max_ms": "100"}, 'latency: "max_ms" must be a number > 0'),
        ({"type": "latency", "max_ms": True}, 'latency: "max_ms" must be a number > 0'),
        ({"type": "latency", "max_ms": float("inf")}, 'latency: "max_ms" must be a number > 0'),
        ({"type": "refusal", "expected": "yes"}, 'refusal: "expected" must be true or false'),
        ({"type": "citation", "sources": []}, 'citation: "sources" must be a non-empty list'),
        ({"type": "citation", "only_approved": 0}, 'citation: "only_approved" must be true or'),
        (
            {"type": "similarity", "threshold": 1.5},
            'similarity: "threshold" must be a number between 0 and 1',
        ),
        ({"type": "similarity", "threshold": "0.8"}, 'similarity: "threshold" must be a number'),
        ({"type": "llm_judge"}, 'llm_judge: "rubric" is required'),
        ({"type": "llm_judge", "rubric": " "}, 'llm_judge: "rubric" must not be empty'),
        ({"type": "llm_judge", "rubric": "x", "threshold": -0.1}, 'llm_judge: "threshold" must'),
        ({"type": "equals", "weight": -1}, 'equals: "weight" must be a number >= 0'),
        ({"type": "equals", "weight": "1"}, 'equals: "weight" must be a number >= 0'),
        ({"type": "equals", "weight": True}, 'equals: "weight" must be a number >= 0'),
        ({"type": "equals", "weight": float("nan")}, 'equals: "weight" must be a number >= 0'),
        ({"type": "equals", "label": 5}, 'equals: "label" must be a string of at most 200'),
        ({"type": "equals", "label": "x" * 201}, 'equals: "label" must be a string of at most'),
    ],
)
def test_validate_spec_errors(spec, message):
    with pytest.raises(ScorerSpecError) as caught:
        validate_spec(spec)
    assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")
def test_json_schema_pattern_must_compile_for_the_safe_engine():
    spec = {"type": "json_schema", "schema": {"properties": {"a": {"pattern": "[[:foo:]]"}}}}
    with pytest.raises(ScorerSpecError) as caught:
        validate_spec(spec)
    assert str(caught.value) == (
        'json_schema: schema pattern "[[:foo:]]": unknown property at position 8'
    )


def test_json_schema_accepts_local_refs_and_other_drafts():
    local = {
        "$defs": {"name": {"type": "string"}},
        "properties": {"name": {"$ref": "#/$defs/name"}, "meta": {"$ref": "#"}},
    }
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer"}
    with_id = {
        "$id": "https://example.com/order",
        "$defs": {"n": {"$id": "https://example.com/n", "type": "number"}},
        "properties": {"n": {"$ref": "https://example.com/n"}},
    }
    for schema in (local, draft7, with_id):
        assert validate_spec({"type": "json_schema", "schema": schema})["schema"] == schema


def test_validate_specs_names_the_scorer():
    assert validate_specs([]) == []
    assert [s["type"] for s in validate_specs([{"type": "is_json"}, {"type": "refusal"}])] == [
        "is_json",
        "refusal",
    ]
    cases = [
        ([{"type": "is_json"}, {"type": "regex", "pattern": "(("}], "scorer 2 (regex): invalid"),
        ([{"type": "nope"}], 'scorer 1: unknown scorer type "nope"'),
        ([42], 'scorer 1: a scorer must be an object with a "type"'),
        ([{"type": "length"}], 'scorer 1 (length): set "min", "max" or both'),
        ({"type": "equals"}, "scorers must be a list"),
        ([{"type": "is_json"}] * 51, "at most 50 scorers are allowed"),
    ]
    for specs, message in cases:
        with pytest.raises(ScorerSpecError) as caught:
            validate_specs(specs)
        assert str(caught.value).startswith(message), str(caught.value)


# --- scorers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "output", "expected", "passed", "reason"),
    [
        ({"type": "equals"}, "Paris", "Paris", True, 'equals "Paris"'),
        ({"type": "equals"}, "  Paris\n", "Paris ", True, 'equals "Paris"'),
        ({"type": "equals"}, "paris", "Paris", False, "(differs only in letter case)"),
        ({"type": "equals", "case_sensitive": False}, "PARIS", "paris", True, "equals"),
        ({"type": "equals", "case_sensitive": False}, "STRASSE", "straße", True, "equals"),
        (
            {"type": "equals", "trim": False},
            "Paris ",
            "Paris",
            False,
            "(differs only in surrounding whitespace)",
        ),
        ({"type": "equals", "value": "Lyon"}, "Lyon", "Paris", True, 'equals "Lyon"'),
        ({"type": "equals"}, "Paris is big", "Paris", False, 'expected "Paris"; got output "Paris'),
        ({"type": "equals"}, "", "Paris", False, 'expected "Paris"; got an empty output'),
        ({"type": "equals"}, "café", "cafe\u0301", True, "equals"),  # NFC: é == e + accent
        ({"type": "equals"}, "anything", "", False, "no expected output to compare with"),
        ({"type": "equals"}, "anything", "  \n", False, "no expected output to compare with"),
    ],
)
def test_equals(spec, output, expected, passed, reason):
    check(run(spec, output, expected=expected), passed, reason)


def test_reasons_quote_at_most_120_characters_of_output():
    result = run({"type": "equals", "value": "short"}, "word " * 500)
    quoted = result.reason.split("got output ", 1)[1]
    assert len(json.loads(quoted)) == 120
    assert json.loads(quoted).endswith("…")


@pytest.mark.parametrize(
    ("spec", "output", "passed", "reason"),
    [
        (
            {"type": "contains", "values": ["refund", "return"]},
            "Your REFUND is on its way",
            True,
            'found "refund"',
        ),
        (
            {"type": "contains", "values": ["refund", "return"]},
            "Sorry.",
            False,
            'expected any of "refund", "return"; none found in output "Sorry."',
        ),
        (
            {"type": "contains", "values": ["a", "b"], "mode": "all"},
            "b then a",
            True,
            "found all 2 phrase(s)",
        ),
        (
            {"type": "contains", "values": ["a", "b", "c"], "mode": "all"},
            "just a",
            False,
            'missing "b", "c" (1 of 3 found) in output "just a"',
        ),
        (
            {"type": "contains", "values": ["Refund"], "case_sensitive": True},
            "refund",
            False,
            "none found",
        ),
        ({"type": "contains", "values": ["ÉCOLE"]}, "à l'école", True, 'found "ÉCOLE"'),
        ({"type": "contains", "values": ["x"]}, "", False, "none found in an empty output"),
        ({"type": "contains"}, "The capital is Paris.", True, 'found "Paris"'),
    ],
)
def test_contains(spec, output, passed, reason):
    check(run(spec, output, expected=" Paris "), passed, reason)


def test_contains_without_expected_output():
    check(run({"type": "contains"}, "Paris", expected=""), False, "no expected output to compare")


def test_contains_lists_at_most_five_phrases():
    values = [f"w{i}" for i in range(8)]
    result = run({"type": "contains", "values": values}, "none here")
    assert '"w4" and 3 more; none found' in result.reason


@pytest.mark.parametrize(
    ("spec", "output", "plan", "passed", "reason"),
    [
        (
            {"type": "not_contains"},
            "We GUARANTEE it",
            PLAN,
            False,
            'found forbidden phrase(s) "guarantee"',
        ),
        (
            {"type": "not_contains"},
            "A lawsuit, guaranteed",
            PLAN,
            False,
            'found forbidden phrase(s) "guarantee", "Lawsuit"',
        ),
        ({"type": "not_contains"}, "All fine", PLAN, True, "none of 2 forbidden phrase(s) found"),
        (
            {"type": "not_contains", "values": ["free"]},
            "guarantee",
            PLAN,
            True,
            "none of 1 forbidden",
        ),
        (
            {"type": "not_contains", "values": ["Free"], "case_sensitive": True},
            "free",
            PLAN,
            True,
            "none of 1",
        ),
        (
            {"type": "not_contains"},
            "guarantee",
            PlanContext(),
            True,
            "no forbidden phrases configured; nothing to check",
        ),
        (
            {"type": "not_contains"},
            "guarantee",
            PlanContext(forbidden_phrases=(" ",)),
            True,
            "no forbidden phrases configured",
        ),
        ({"type": "not_contains"}, "", PLAN, True, "none of 2"),
    ],
)
def test_not_contains(spec, output, plan, passed, reason):
    check(run(spec, output, plan=plan), passed, reason)


@pytest.mark.parametrize(
    ("spec", "output", "passed", "reason"),
    [
        (
            {"type": "regex", "pattern": r"order #\d+"},
            "See order #123.",
            True,
            '/order #\\d+/ matched "order #123"',
        ),
        (
            {"type": "regex", "pattern": r"order #\d+"},
            "See order #abc.",
            False,
            "expected a match for /order #\\d+/; none in output",
        ),
        (
            {"type": "regex", "pattern": r"\d", "expect_match": False},
            "no digits",
            True,
            "no match for /\\d/, as expected",
        ),
        (
            {"type": "regex", "pattern": r"\d+", "expect_match": False},
            "call 555",
            False,
            'expected no match for /\\d+/; matched "555"',
        ),
        ({"type": "regex", "pattern": "hello"}, "HELLO", False, "none in"),
        ({"type": "regex", "pattern": "hello", "flags": "i"}, "HELLO", True, "/hello/i matched"),
        ({"type": "regex", "pattern": "^b$", "flags": "m"}, "a\nb\nc", True, 'matched "b"'),
        ({"type": "regex", "pattern": "^b$"}, "a\nb\nc", False, "none in"),
        ({"type": "regex", "pattern": "a.c", "flags": "s"}, "a\nc", True, "matched"),
        ({"type": "regex", "pattern": "a.c"}, "a\nc", False, "none in"),
        ({"type": "regex", "pattern": "x?"}, "", True, 'matched ""'),
    ],
)
def test_regex(spec, output, passed, reason):
    check(run(spec, output), passed, reason)


def test_regex_timeout_is_a_failed_score_not_a_hang():
    started = time.monotonic()
    result = run({"type": "regex", "pattern": "(a+)+$"}, "a" * 5000 + "b")
    assert time.monotonic() - started < 2
    check(result, False, "pattern /(a+)+$/ gave up after 50 ms on a 5001-character output")


def test_regex_patterns_are_compiled_once():
    assert scorers._compiled("ab+", "i") is scorers._compiled("ab+", "i")


@pytest.mark.parametrize(
    ("spec", "output", "passed", "reason"),
    [
        ({"type": "starts_with", "value": "Dear"}, "Dear customer", True, 'starts with "Dear"'),
        ({"type": "starts_with", "value": "Dear"}, "\n  Dear customer", True, "starts with"),
        (
            {"type": "starts_with", "value": "Dear", "trim": False},
            " Dear",
            False,
            'expected to start with "Dear"; got output "Dear"',
        ),
        ({"type": "starts_with", "value": "Dear"}, "dear customer", False, "expected to start"),
        (
            {"type": "starts_with", "value": "Dear", "case_sensitive": False},
            "DEAR x",
            True,
            "starts with",
        ),
        ({"type": "starts_with", "value": "Dear"}, "", False, "got an empty output"),
    ],
)
def test_starts_with(spec, output, passed, reason):
    check(run(spec, output), passed, reason)


@pytest.mark.parametrize(
    ("spec", "output", "passed", "reason"),
    [
        ({"type": "length", "min": 5, "max": 10}, "12345", True, "5 chars; expected between 5"),
        ({"type": "length", "min": 5, "max": 10}, "1234567890", True, "10 chars; expected"),
        (
            {"type": "length", "min": 5, "max": 10},
            "12345678901",
            False,
            "11 chars; expected between 5 and 10",
        ),
        ({"type": "length", "min": 5, "max": 10}, "1234", False, "4 chars"),
        ({"type": "length", "min": 3}, "  ab  \n", False, "2 chars; expected at least 3"),
        ({"type": "length", "max": 0}, "   ", True, "0 chars; expected at most 0"),
        ({"type": "length", "min": 1}, "", False, "0 chars; expected at least 1"),
        ({"type": "length", "max": 3, "unit": "words"}, "one  two\nthree", True, "3 words"),
        (
            {"type": "length", "max": 3, "unit": "words"},
            "one two three four",
            False,
            "4 words; expected at most 3",
        ),
        ({"type": "length", "max": 5}, "cafe\u0301!", True, "5 chars"),  # NFC: é is one char
    ],
)
def test_length(spec, output, passed, reason):
    check(run(spec, output), passed, reason)


@pytest.mark.parametrize(
    ("output", "passed", "reason"),
    [
        ('{"a": 1}', True, "valid JSON: an object"),
        ("  [1, 2]\n", True, "valid JSON: an array"),
        ("42", True, "valid JSON: a number"),
        ('"hi"', True, "valid JSON: a string"),
        ("null", True, "valid JSON: null"),
        ('```json\n{"a": 1}\n```', True, "valid JSON: an object (inside a ``` fence)"),
        ("```\n[1]\n```", True, "valid JSON: an array (inside a ``` fence)"),
        ('Here it is:\n```json\n{"a": 1}\n```', False, "output is not JSON"),
        ("{'a': 1}", False, "output is not JSON (Expecting property name"),
        ('{"a": NaN}', False, "output is not JSON (NaN is not valid JSON)"),
        ("Infinity", False, "Infinity is not valid JSON"),
        ("", False, "output is empty, not JSON"),
        ("[" * 100_000, False, "output is JSON nested too deeply"),
        ("hello", False, 'output is not JSON (Expecting value: line 1 column 1 (char 0)): "hello"'),
    ],
)
def test_is_json(output, passed, reason):
    check(run({"type": "is_json"}, output), passed, reason)


ORDER_SCHEMA = {
    "type": "object",
    "required": ["id", "items"],
    "properties": {
        "id": {"type": "string", "pattern": "^ORD-[0-9]+$"},
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
    },
    "additionalProperties": False,
    "$defs": {"item": {"type": "object", "required": ["sku"]}},
}


@pytest.mark.parametrize(
    ("output", "passed", "reason"),
    [
        ('{"id": "ORD-1", "items": [{"sku": "a"}]}', True, "JSON matches the schema"),
        (
            '```json\n{"id": "ORD-1", "items": []}\n```',
            True,
            "JSON matches the schema (inside a ``` fence)",
        ),
        ('{"id": "ORD-1"}', False, "schema errors: $: 'items' is a required property"),
        (
            '{"id": "ORD-1", "items": [{"sku": 1}, {}]}',
            False,
            "schema errors: $.items[1]: 'sku' is a required property",
        ),
        ('{"id": "X-1", "items": []}', False, "$.id: 'X-1' does not match '^ORD-[0-9]+$'"),
        (
            '{"id": "ORD-1", "items": [], "extra": 1}',
            False,
            "Additional properties are not allowed ('extra' unexpected)",
        ),
        ('{"id": 1, "items": [{}, {}], "x": 0}', False, "(and more)"),
        ("not json", False, "output is not JSON"),
        ("", False, "output is empty, not JSON"),
    ],
)
def test_json_schema(output, passed, reason):
    check(run({"type": "json_schema", "schema": ORDER_SCHEMA}, output), passed, reason)


def test_json_schema_lists_three_errors_with_their_paths():
    result = run({"type": "json_schema", "schema": ORDER_SCHEMA}, '{"id": 1, "items": 2}')
    assert result.reason == (
        "schema errors: $.id: 1 is not of type 'string'; $.items: 2 is not of type 'array'"
    )


def test_json_schema_pattern_timeout_is_a_failed_score():
    spec = {"type": "json_schema", "schema": {"properties": {"a": {"pattern": "^(a+)+$"}}}}
    started = time.monotonic()
    result = run(spec, json.dumps({"a": "a" * 5000 + "b"}))
    assert time.monotonic() - started < 2
    check(result, False, 'schema pattern "^(a+)+$" timed out')


def test_json_schema_pattern_properties_use_the_safe_search():
    schema = {
        "patternProperties": {"^x-": {"type": "integer"}},
        "additionalProperties": False,
    }
    spec = {"type": "json_schema", "schema": schema}
    check(run(spec, '{"x-a": 1, "x-b": 2}'), True, "matches")
    check(run(spec, '{"x-a": "one"}'), False, "$['x-a']: 'one' is not of type 'integer'")
    check(run(spec, '{"y": 1}'), False, "Additional properties are not allowed ('y' unexpected)")
    slow = {"type": "json_schema", "schema": {"patternProperties": {"^(a+)+$": {}}}}
    check(run(slow, json.dumps({"a" * 5000 + "b": 1})), False, "timed out")


def test_json_schema_never_fetches_a_reference():
    # A spec that skipped validation still cannot make the scorer fetch anything.
    spec = {"type": "json_schema", "schema": {"$ref": "https://example.invalid/s.json"}}
    result = score(spec, CaseView(), Observation("{}"))
    check(result, False, "schema reference could not be resolved")


@pytest.mark.parametrize(
    ("latency", "passed", "reason"),
    [
        (120.4, True, "took 120 ms; limit 500 ms"),
        (500.0, True, "took 500 ms; limit 500 ms"),
        (500.5, False, "took 500 ms; limit 500 ms"),
        (None, False, "no latency was measured (limit 500 ms)"),
        (float("nan"), False, "no latency was measured"),
    ],
)
def test_latency(latency, passed, reason):
    check(run({"type": "latency", "max_ms": 500}, "x", latency_ms=latency), passed, reason)


REFUSALS = [
    "I can't help with that.",
    "I’m sorry, but I cannot comply with this request.",
    "I'm sorry, but I cannot do that.",
    "I am unable to provide that information.",
    "I’m not able to assist with that request.",
    "Unfortunately I cannot really help you here.",
    "As an AI, I don't have access to your bank account.",
    "As an AI language model, I cannot give opinions.",
    "I won't do that.",
    "I will not help you bypass the lock.",
    "Sorry — I can't.",
    "I must decline.",
    "I'll have to decline this one.",
    "That's not something I can help with.",
    "I'm not comfortable providing that.",
    "This request goes against my guidelines.",
    "I CANNOT ASSIST WITH THAT",
    "I cannot be of assistance here.",
    "I won't be able to help with your tax return.",
]
ANSWERS = [
    "I can't wait to help you with your refund!",
    "I can't help but smile at that question. Here is the answer: 42.",
    "I won't let you down: your order ships today.",
    "I cannot stress enough how important backups are.",
    "Happy to help with that! The store opens at 9.",
    "As an AI assistant, I'm happy to help. Your balance is $20.",
    "I can't believe how easy this is: click Settings, then Reset.",
    "We will not share your data with third parties.",
    "The cannot-fail mode is on.",
    "",
]


@pytest.mark.parametrize("output", REFUSALS)
def test_refusal_detected(output):
    check(run({"type": "refusal"}, output), True, "refused: ")
    check(run({"type": "refusal", "expected": False}, output), False, "expected an answer; got a")


@pytest.mark.parametrize("output", ANSWERS)
def test_refusal_not_detected(output):
    check(run({"type": "refusal"}, output), False, "expected a refusal; got ")
    check(run({"type": "refusal", "expected": False}, output), True, "answered without refusing")


HANDOFFS = [
    "I'm handing this to a human agent now.",
    "Let me transfer you to a live agent.",
    "I’m transferring you to our billing team.",
    "I will escalate this to our specialists.",
    "I'm escalating your request.",
    "Your case has been escalated.",
    "I'll connect you with a human who can check your account.",
    "Let me connect you to one of our specialists.",
    "A human agent will contact you within a day.",
    "A specialist will reach out shortly.",
    "I'll hand you over to a colleague.",
]
NO_HANDOFFS = [
    "Your refund was approved.",
    "I can't transfer you to a live agent, but I can help here.",
    "There's no need to escalate this; it is solved.",
    "I will not hand this to a human agent.",
    "Let me transfer you to the support page.",
    "",
]


@pytest.mark.parametrize("output", HANDOFFS)
def test_escalation_detected(output):
    check(
        run({"type": "escalation"}, output, must_escalate=True),
        True,
        "expected a handoff to a human; the output hands off: ",
    )
    check(
        run({"type": "escalation"}, output, must_escalate=False),
        False,
        "expected no handoff; the output hands off: ",
    )


@pytest.mark.parametrize("output", NO_HANDOFFS)
def test_escalation_not_detected(output):
    check(
        run({"type": "escalation"}, output, must_escalate=True),
        False,
        "expected a handoff to a human; no handoff in the output",
    )
    check(
        run({"type": "escalation"}, output, must_escalate=False),
        True,
        "expected no handoff; no handoff in the output",
    )


@pytest.mark.parametrize(
    ("flag", "must_escalate", "passed", "reason"),
    [
        (True, True, True, "expected a handoff to a human; the target flagged a handoff"),
        (False, True, False, "expected a handoff to a human; the target flagged no handoff"),
        (True, False, False, "expected no handoff; the target flagged a handoff"),
        (False, False, True, "expected no handoff; the target flagged no handoff"),
    ],
)
def test_escalation_flag_from_the_target_wins(flag, must_escalate, passed, reason):
    output = "Let me transfer you to a live agent." if not flag else "Here is your answer."
    result = run({"type": "escalation"}, output, must_escalate=must_escalate, handoff=flag)
    assert (result.passed, result.reason) == (passed, reason)


@pytest.mark.parametrize(
    ("spec", "output", "citations", "passed", "reason"),
    [
        ({"type": "citation"}, "Per kb-1, refunds take 5 days.", (), True, 'cites "KB-1"'),
        (
            {"type": "citation"},
            "See https://kb.example.com/refunds/eu.",
            (),
            True,
            'cites "https://kb.example.com/refunds"',
        ),
        ({"type": "citation"}, "See www.kb.example.com/refunds", (), True, "cites"),
        ({"type": "citation"}, "Refunds take 5 days.", ("kb-1",), True, 'cites "KB-1"'),
        (
            {"type": "citation"},
            "Refunds take 5 days.",
            ("https://KB.example.com/refunds#s2",),
            True,
            'cites "https://kb.example.com/refunds"',
        ),
        (
            {"type": "citation"},
            "Per KB-12, refunds take 5 days.",
            (),
            False,
            'expected a citation of "KB-1", "https://kb.example.com/refunds"; none found',
        ),
        ({"type": "citation"}, "See kb.example.com/refundsx", (), False, "none found"),
        ({"type": "citation"}, "", (), False, "none found"),
        (
            {"type": "citation", "sources": ["Policy 7"]},
            "As Policy 7 says",
            (),
            True,
            'cites "Policy 7"',
        ),
        ({"type": "citation", "sources": ["Policy 7"]}, "Per KB-1", (), False, "none found"),
        (
            {"type": "citation", "only_approved": True},
            "Per KB-1 and https://kb.example.com/refunds/a",
            (),
            True,
            'cites "KB-1", "https://kb.example.com/refunds"',
        ),
        (
            {"type": "citation", "only_approved": True},
            "Per KB-1, see https://evil.net/x.",
            (),
            False,
            'cites unapproved source(s) "https://evil.net/x" (approved: "KB-1")',
        ),
        (
            {"type": "citation", "only_approved": True},
            "See https://kb.example.com.evil.net/refunds",
            (),
            False,
            'cites unapproved source(s) "https://kb.example.com.evil.net/refunds"',
        ),
        (
            {"type": "citation", "only_approved": True},
            "Per KB-1.",
            ("KB-1", "Blog post"),
            False,
            'cites unapproved source(s) "Blog post" (approved: "KB-1")',
        ),
        (
            {"type": "citation", "only_approved": True},
            "Answer.",
            ("kb-1 (refunds)",),
            True,
            'cites "KB-1"',
        ),
        (
            {"type": "citation", "only_approved": True},
            "x",
            ("https://kb.example.com/other",),
            False,
            "cites unapproved source(s)",
        ),
    ],
)
def test_citation(spec, output, citations, passed, reason):
    check(run(spec, output, citations=citations), passed, reason)


def test_citation_without_sources_fails():
    result = run({"type": "citation"}, "Per KB-1", plan=PlanContext())
    check(result, False, "no approved sources configured")


def test_citation_host_source_approves_its_urls():
    spec = {"type": "citation", "sources": ["kb.example.com"], "only_approved": True}
    check(run(spec, "See https://www.kb.example.com/any/page."), True, 'cites "kb.example.com"')
    check(run(spec, "See https://docs.example.com/x and kb.example.com"), False, "unapproved")


def _lcs_by_table(a, b):
    previous = [0] * (len(b) + 1)
    for char in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if char == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def test_lcs_matches_the_textbook_table():
    rng = random.Random(4)
    for _ in range(500):
        a = "".join(rng.choice("abé ") for _ in range(rng.randrange(0, 40)))
        b = "".join(rng.choice("abcé ") for _ in range(rng.randrange(0, 40)))
        assert scorers._lcs_length(a, b) == _lcs_by_table(a, b), (a, b)


@pytest.mark.parametrize(
    ("spec", "output", "expected", "passed", "value", "reason"),
    [
        (
            {"type": "similarity"},
            "Hello   World",
            "hello world",
            True,
            1.0,
            'similarity 1.00 to "hello world"; threshold 0.80',
        ),
        ({"type": "similarity"}, "Paris.", "Paris", True, 0.9091, "similarity 0.91"),
        ({"type": "similarity"}, "Parrot", "Paris", False, 0.5455, "similarity 0.55"),
        ({"type": "similarity", "threshold": 0.5}, "Parrot", "Paris", True, 0.5455, "0.50"),
        ({"type": "similarity"}, "London", "Paris", False, 0.0, "similarity 0.00"),
        ({"type": "similarity", "value": "abcd"}, "abce", "zzz", False, 0.75, 'to "abcd"'),
        ({"type": "similarity"}, "", "Paris", False, 0.0, "similarity 0.00"),
        ({"type": "similarity"}, "Paris", "", False, 0.0, "no expected output to compare with"),
    ],
)
def test_similarity(spec, output, expected, passed, value, reason):
    result = run(spec, output, expected=expected)
    assert (result.passed, result.score) == (passed, value), result.reason
    assert reason in result.reason


def test_similarity_threshold_is_inclusive():
    result = run({"type": "similarity", "value": "abcd", "threshold": 0.75}, "abce")
    assert (result.passed, result.score) == (True, 0.75)


def test_similarity_compares_the_first_4000_characters():
    expected = "a" * 4000
    result = run({"type": "similarity"}, expected + "b" * 3000, expected=expected)
    assert (result.passed, result.score) == (True, 1.0)
    assert "(first 4000 characters compared)" in result.reason


def test_llm_judge_needs_the_judge():
    spec = validate_spec({"type": "llm_judge", "rubric": "Is polite"})
    with pytest.raises(NeedsJudge) as caught:
        score(spec, CaseView(), Observation("hi"))
    assert caught.value.spec is spec


MINIMAL_SPECS = [
    {"type": "equals"},
    {"type": "contains"},
    {"type": "not_contains"},
    {"type": "regex", "pattern": "a"},
    {"type": "starts_with", "value": "a"},
    {"type": "length", "min": 1},
    {"type": "is_json"},
    {"type": "json_schema", "schema": {"type": "object"}},
    {"type": "latency", "max_ms": 1},
    {"type": "refusal"},
    {"type": "escalation"},
    {"type": "citation", "only_approved": True},
    {"type": "similarity"},
]


@pytest.mark.parametrize("spec", MINIMAL_SPECS, ids=lambda spec: spec["type"])
def test_none_ish_inputs_fail_softly(spec):
    case = CaseView(expected=None, must_escalate=None)
    observation = Observation(output=None, latency_ms=None, handoff=None, citations=None)
    result = score(validate_spec(spec), case, observation, PlanContext())
    assert isinstance(result, Score)
    assert 0.0 <= result.score <= 1.0
    assert result.reason


def test_score_carries_weight_and_label():
    spec = {"type": "is_json", "weight": 2.5, "label": "machine-readable"}
    result = run(spec, "{}")
    assert result.as_dict() == {
        "type": "is_json",
        "passed": True,
        "score": 1.0,
        "reason": "valid JSON: an object",
        "weight": 2.5,
        "label": "machine-readable",
    }
    assert json.loads(json.dumps(result.as_dict())) == result.as_dict()


def test_score_rejects_an_unknown_type():
    with pytest.raises(ScorerSpecError):
        score({"type": "nope"}, CaseView(), Observation("x"))


# --- combine -----------------------------------------------------------------------------


def s(passed, value=None, weight=1.0):
    value = (1.0 if passed else 0.0) if value is None else value
    return Score(type="x", passed=passed, score=value, reason="", weight=weight)


@pytest.mark.parametrize(
    ("scores", "threshold", "result"),
    [
        ([], None, (False, 0.0)),
        ([], 0.0, (False, 0.0)),
        ([s(True, weight=0), s(True, weight=0)], None, (False, 0.0)),
        ([s(True), s(True)], None, (True, 1.0)),
        ([s(True), s(False)], None, (False, 0.5)),
        ([s(True), s(False, weight=0)], None, (True, 1.0)),  # informational scorer ignored
        ([s(True, weight=3), s(False)], None, (False, 0.75)),
        ([s(True, weight=3), s(False)], 0.75, (True, 0.75)),
        ([s(True, weight=3), s(False)], 0.76, (False, 0.75)),
        ([s(False, 0.9)], 0.9, (True, 0.9)),  # threshold overrides the scorer's own verdict
        ([s(True, 0.7), s(True, 0.7), s(True, 0.7)], 0.7, (True, 0.7)),  # float noise
        ([s(True, 1.0, weight=0.1), s(False, 0.0, weight=0.2)], 1 / 3, (True, 0.333333)),
        ([s(True, 1.5)], None, (True, 1.0)),  # scores are clamped
    ],
)
def test_combine(scores, threshold, result):
    assert combine(scores, threshold) == result


def test_combine_accepts_a_decimal_threshold():
    assert combine([s(True, 0.9)], Decimal("0.90")) == (True, 0.9)
    assert combine([s(True, 0.89)], Decimal("0.90")) == (False, 0.89)


@pytest.mark.parametrize("threshold", [-0.1, 1.1, float("nan"), "0.5", True, [0.5]])
def test_combine_rejects_a_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold must be a number between 0 and 1"):
        combine([s(True)], threshold)
