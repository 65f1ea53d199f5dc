"""Importing and exporting eval cases: CSV, JSONL, promptfoo YAML, OpenAI Evals samples.

Pure Python, no database. Every broken file is checked for the exact line the user is
sent to, and for importing nothing.
"""

import dataclasses
import json
from datetime import date
from pathlib import Path
from textwrap import dedent

import pytest
import yaml

from evals import case_io
from evals.case_io import (
    CSV_COLUMNS,
    FORMATS,
    MAX_BYTES,
    MAX_CASES,
    MAX_PROBLEMS,
    CaseDraft,
    ImportProblem,
    detect_format,
    export_csv,
    export_jsonl,
    parse_cases,
)

SCORER_TYPES = {
    "equals",
    "contains",
    "not_contains",
    "regex",
    "starts_with",
    "length",
    "is_json",
    "json_schema",
    "latency",
    "refusal",
    "escalation",
    "citation",
    "similarity",
    "llm_judge",
}


def fake_validate(spec: dict) -> dict:
    """Stands in for the scorer module: knows the types, fills a default weight."""
    if spec["type"] not in SCORER_TYPES:
        raise ValueError(f'unknown scorer type "{spec["type"]}"')
    pattern = spec.get("pattern", "")
    if spec["type"] == "regex" and pattern.count("(") != pattern.count(")"):
        raise ValueError("the pattern has an unclosed group")
    return {"weight": 1.0, **spec}


def parse(text: str, fmt: str, **kwargs):
    return parse_cases(dedent(text).lstrip("\n").encode(), fmt, **kwargs)


def messages(result) -> list[str]:
    return [str(problem) for problem in result.problems]


def without_lines(drafts):
    return [dataclasses.replace(draft, line=0) for draft in drafts]


# --------------------------------------------------------------------------- CSV


def test_csv_imports_support_cases_with_exact_values_and_lines():
    csv_text = (
        "key,name,prompt,messages,expected,expected_behavior,context,tags,requirements,"
        "must_escalate,var:order_id,variables,scorers,pass_threshold\n"
        'CASE-1,Refund inside 30 days,"I bought headphones 12 days ago, can I return them?",,'
        "Yes: refunds within 30 days.,Confirms the 30-day window.,Refund policy v3,"
        'refunds; billing,req-3 REQ-7,no,A-1001,,"[{""type"": ""contains"", '
        '""values"": [""30 days""]}]",0.8\n'
        "\n"
        'CASE-2,Angry customer,"This is the third time my order is late.\n'
        'I want to talk to a human NOW.",,,Hands over to a human agent.,,escalation|tone,'
        'REQ-12,YES,,"{""tier"": ""gold"", ""orders"": 3}",,\n'
        ",,,,,,,,,,,,,\n"
        ',Chat history,,"[{""role"": ""system"", ""content"": ""You are Acme support.""}, '
        '{""role"": ""user"", ""content"": ""Cancel my subscription""}]",,,,,,n,,,,\n'
    )
    result = parse_cases(csv_text.encode(), "csv")
    assert result.ok, messages(result)
    assert result.format == "csv"
    assert result.drafts == [
        CaseDraft(
            name="Refund inside 30 days",
            prompt="I bought headphones 12 days ago, can I return them?",
            variables={"order_id": "A-1001"},
            expected="Yes: refunds within 30 days.",
            expected_behavior="Confirms the 30-day window.",
            context="Refund policy v3",
            tags=["refunds", "billing"],
            requirement_keys=["REQ-3", "REQ-7"],
            must_escalate=False,
            scorers=[{"type": "contains", "values": ["30 days"]}],
            pass_threshold=0.8,
            line=2,
        ),
        CaseDraft(
            name="Angry customer",
            prompt="This is the third time my order is late.\nI want to talk to a human NOW.",
            variables={"tier": "gold", "orders": 3},
            expected_behavior="Hands over to a human agent.",
            tags=["escalation", "tone"],
            requirement_keys=["REQ-12"],
            must_escalate=True,
            line=4,
        ),
        CaseDraft(
            name="Chat history",
            messages=[
                {"role": "system", "content": "You are Acme support."},
                {"role": "user", "content": "Cancel my subscription"},
            ],
            line=7,
        ),
    ]


def test_csv_headers_are_case_insensitive_with_aliases_semicolons_and_a_bom():
    csv_text = (
        "\ufeff Name ;Question;Expected_Output;Tags;Vars.Product;MUST_ESCALATE\n"
        "Warranty;Is the X200 covered for water damage?;No, water damage is excluded.;"
        "warranty, hardware;X200;false\n"
    )
    result = parse_cases(csv_text.encode(), "csv")
    assert result.ok, messages(result)
    assert result.drafts == [
        CaseDraft(
            name="Warranty",
            prompt="Is the X200 covered for water damage?",
            expected="No, water damage is excluded.",
            tags=["warranty", "hardware"],
            variables={"Product": "X200"},
            line=2,
        )
    ]


@pytest.mark.parametrize("header", ["input", "prompt", "question"])
def test_csv_prompt_aliases(header):
    result = parse(f"{header},ideal\nHow do I reset my password?,Use the reset link.\n", "csv")
    assert [(d.prompt, d.expected) for d in result.drafts] == [
        ("How do I reset my password?", "Use the reset link.")
    ]


def test_csv_unknown_columns_are_one_problem_listing_known_columns():
    result = parse(
        """
        prompt,answer,priority
        Where is my parcel?,In transit,high
        """,
        "csv",
    )
    assert messages(result) == [
        'line 1: unknown columns "answer", "priority" (known columns: key, name, prompt, '
        "input, question, messages, variables, vars, expected, expected_output, ideal, "
        "expected_behavior, context, tags, requirements, requirement_keys, must_escalate, "
        "scorers, pass_threshold, and var:NAME or vars.NAME for a variable)"
    ]
    assert result.drafts == []
    assert not result.ok


def test_csv_bad_yes_no_points_at_the_record_start_after_a_multiline_cell():
    result = parse_cases(
        (
            b"name,prompt,must_escalate\n"
            b'Lost card,"My card was stolen.\nPlease block it.\nAnd refund the charges.",yes\n'
            b"Late refund,Where is my refund?,maybe\n"
            b"Invoice,Send me last month's invoice,N\n"
        ),
        "csv",
    )
    assert messages(result) == ['line 5: column "must_escalate": "maybe" is not yes/no']
    assert result.drafts == []


def test_csv_missing_prompt_bad_requirement_and_bad_threshold_are_all_reported():
    result = parse(
        """
        name,prompt,requirements,pass_threshold
        Refund,Can I get my money back?,REQ-1;RQ-2,0.5
        Empty,,,
        Shipping,Do you ship to Canada?,REQ-0,1.5
        Fine,Do you ship to Mexico?,req-04,1
        """,
        "csv",
    )
    assert messages(result) == [
        'line 2: column "requirements": "RQ-2" is not a requirement key like REQ-3',
        'line 3: the case has no prompt (give "prompt" or "messages")',
        'line 4: column "requirements": "REQ-0" is not a requirement key like REQ-3',
        'line 4: column "pass_threshold": "1.5" is not a number from 0 to 1',
    ]


def test_csv_json_cells_are_checked():
    result = parse_cases(
        (
            b"prompt,messages,variables,scorers\n"
            b'Hi,"[{""role"": ""user"", ""content"": ""Hi""}]",,\n'
            b',"[{""role"": ""tool"", ""content"": ""x""}]",,\n'
            b'Hello,,"{""order id"": 1}","{""type"": ""equals""}"\n'
            b'Hey,,"[1,"\n'
        ),
        "csv",
    )
    assert messages(result) == [
        'line 2: give either "prompt" or "messages", not both',
        'line 3: column "messages": message 1: role "tool" is not system, user or assistant',
        'line 4: column "variables": "order id" is not a variable name '
        "(letters, digits and _, not starting with a digit)",
        'line 4: column "scorers": must be a list of scorer specs',
        'line 5: column "variables": not valid JSON (Expecting value at column 4)',
    ]


def test_csv_unclosed_quote_points_at_the_record_start():
    result = parse_cases(
        b'prompt,expected\nHello,Hi\n"Where is my order?,Shipped\nThanks,Bye\n', "csv"
    )
    assert messages(result) == ["line 3: a quoted cell that starts in this row is never closed"]


def test_csv_duplicate_columns_extra_cells_and_headerless_values():
    result = parse(
        """
        prompt,input,name,
        Where is my refund?,,Refund,
        Where is my order?,,Order,oops
        Cancel please,,Cancel,,extra
        """,
        "csv",
    )
    assert messages(result) == [
        'line 1: columns "prompt" and "input" are the same; keep one',
        "line 3: column 4 has no header, but this row has a value in it",
        "line 4: 5 cells, but the header has 4 columns",
    ]


def test_csv_variable_set_twice():
    result = parse_cases(
        b'prompt,var:order_id,variables\nWhere is it?,A-1,"{""order_id"": ""A-2""}"\n', "csv"
    )
    assert messages(result) == [
        'line 2: variable "order_id" is set twice (column "var:order_id" and "variables")'
    ]


def test_csv_formula_guard_is_removed_on_import_only_before_a_trigger():
    result = parse(
        """
        name,prompt,expected
        '=SUM(A1),'+1 555 0100 is our number?,'hello
        x,'-5 degrees?,''@admin
        """,
        "csv",
    )
    assert [(d.name, d.prompt, d.expected) for d in result.drafts] == [
        ("=SUM(A1)", "+1 555 0100 is our number?", "'hello"),
        ("x", "-5 degrees?", "'@admin"),
    ]


def test_csv_oversized_cell():
    result = parse_cases(b"prompt\nHi\n" + b"x" * 200_000 + b"\n", "csv")
    assert messages(result) == ["line 3: a cell is longer than 131,072 characters"]


def test_csv_header_only_has_no_cases():
    result = parse("name,prompt\n", "csv")
    assert messages(result) == ["the file has no cases"]


# --------------------------------------------------------------------------- JSONL


def test_jsonl_happy_path_with_aliases_and_blank_lines():
    lines = [
        {
            "key": "CASE-9",
            "name": "Refund after 45 days",
            "prompt": "I bought a kettle 45 days ago. Refund?",
            "expected": "Refunds are only possible within 30 days.",
            "tags": ["refunds", "policy"],
            "requirement_keys": [" req-3 "],
            "must_escalate": False,
            "variables": {"order_id": "A-1001", "vip": True, "total": 49.9},
            "scorers": [{"type": "llm_judge", "rubric": "Politely declines"}],
            "pass_threshold": 0.7,
        },
        {
            "name": "Escalation",
            "input": [
                {"role": "system", "content": "You are Acme's support assistant."},
                {"role": "user", "content": "I want to cancel and sue you."},
            ],
            "ideal": "Escalates to a human.",
            "requirements": "REQ-12, REQ-13",
            "must_escalate": "yes",
        },
        {"question": "Do you deliver on Sundays?", "expected_output": "No."},
    ]
    text = json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]) + "\r\n  \n" + json.dumps(lines[2])
    result = parse_cases(text.encode(), "jsonl")
    assert result.ok, messages(result)
    assert result.drafts == [
        CaseDraft(
            name="Refund after 45 days",
            prompt="I bought a kettle 45 days ago. Refund?",
            expected="Refunds are only possible within 30 days.",
            tags=["refunds", "policy"],
            requirement_keys=["REQ-3"],
            variables={"order_id": "A-1001", "vip": True, "total": 49.9},
            scorers=[{"type": "llm_judge", "rubric": "Politely declines"}],
            pass_threshold=0.7,
            line=1,
        ),
        CaseDraft(
            name="Escalation",
            messages=[
                {"role": "system", "content": "You are Acme's support assistant."},
                {"role": "user", "content": "I want to cancel and sue you."},
            ],
            expected="Escalates to a human.",
            requirement_keys=["REQ-12", "REQ-13"],
            must_escalate=True,
            line=3,
        ),
        CaseDraft(prompt="Do you deliver on Sundays?", expected="No.", line=5),
    ]


def test_jsonl_bad_lines_are_reported_with_their_numbers():
    text = "\n".join(
        [
            '{"prompt": "Where is my refund?"}',
            '{"prompt": "a" "name": "b"}',
            "",
            '{"prompt": "Refund?", "answer": "yes", "prio": 1}',
            '["not", "an", "object"]',
            '{"prompt": "x", "prompt": "y"}',
            '{"prompt": "x", "pass_threshold": NaN}',
            '{"prompt": "x", "input": "y"}',
            '{"name": "no prompt"}',
            '{"prompt": "x", "must_escalate": "maybe", "tags": {"a": 1}}',
        ]
    )
    result = parse_cases(text.encode(), "jsonl")
    assert messages(result) == [
        "line 2: not valid JSON (Expecting ',' delimiter at column 16)",
        'line 4: unknown keys "answer", "prio" (known keys: key, name, prompt, input, '
        "question, messages, variables, vars, expected, expected_output, ideal, "
        "expected_behavior, context, tags, requirements, requirement_keys, must_escalate, "
        "scorers, pass_threshold)",
        "line 5: expected a JSON object, found a list",
        'line 6: the key "prompt" appears twice',
        "line 7: not valid JSON (NaN is not allowed)",
        'line 8: "prompt" and "input" are the same; keep one',
        'line 9: the case has no prompt (give "prompt" or "messages")',
        'line 10: "must_escalate": "maybe" is not yes/no',
        'line 10: "tags": must be text or a list of text',
    ]
    assert result.drafts == []


def test_jsonl_a_json_array_file_gets_one_clear_problem():
    text = json.dumps([{"prompt": "a"}, {"prompt": "b"}], indent=2)
    result = parse_cases(text.encode(), "jsonl")
    assert messages(result) == [
        "line 1: the file is one JSON array; expected JSON Lines (one JSON object per line)"
    ]


def test_jsonl_nul_characters_are_refused():
    result = parse_cases(b'{"prompt": "Refund\\u0000?"}\n', "jsonl")
    assert messages(result) == ["line 1: a value contains a NUL character (\\u0000)"]


# --------------------------------------------------------------------------- OpenAI Evals


def test_openai_evals_samples():
    samples = [
        {
            "input": [
                {"role": "system", "content": "Answer as Acme support, in one word."},
                {"role": "system", "name": "example_user", "content": "Can I pay by card?"},
                {"role": "system", "name": "example_assistant", "content": "Yes"},
                {"role": "user", "content": "Can I pay by cheque?"},
            ],
            "ideal": ["No", "no", "Nope"],
            "category": "payments",
            "difficulty": 2,
            "meta": {"source": "faq"},
        },
        {"input": "Is the refund window 30 days?", "ideal": "Yes"},
        {"input": "Say hello", "ideal": ["Hello"]},
    ]
    text = "\n".join(json.dumps(sample) for sample in samples)
    result = parse_cases(text.encode(), "openai_evals", validate_scorer=fake_validate)
    assert result.ok, messages(result)
    assert result.drafts == [
        CaseDraft(
            messages=[
                {"role": "system", "content": "Answer as Acme support, in one word."},
                {"role": "user", "content": "Can I pay by card?"},
                {"role": "assistant", "content": "Yes"},
                {"role": "user", "content": "Can I pay by cheque?"},
            ],
            expected="No",
            variables={"category": "payments", "difficulty": 2},
            scorers=[
                {"weight": 1.0, "type": "contains", "values": ["No", "no", "Nope"], "mode": "any"}
            ],
            line=1,
        ),
        CaseDraft(prompt="Is the refund window 30 days?", expected="Yes", line=2),
        CaseDraft(prompt="Say hello", expected="Hello", line=3),
    ]


def test_openai_evals_problems():
    text = "\n".join(
        [
            '{"ideal": "Yes"}',
            '{"input": 42, "ideal": "Yes"}',
            '{"input": [{"role": "user", "content": ["image"]}], "ideal": "x"}',
            '{"input": "Hi", "ideal": {"a": 1}}',
        ]
    )
    result = parse_cases(text.encode(), "openai_evals")
    assert messages(result) == [
        'line 1: "input" is missing',
        'line 2: "input" must be text or a list of messages',
        'line 3: "input": message 1: content must be text',
        'line 4: "ideal" must be text or a list of text',
    ]


# --------------------------------------------------------------------------- promptfoo

PROMPTFOO = """
description: Acme support regression
prompts:
  - "You are Acme's support assistant. Customer: {{question}}"
providers:
  - openai:gpt-4o-mini
defaultTest:
  vars:
    brand: Acme
  assert:
    - type: not-icontains
      value: as an AI language model
tests:
  - description: Refund inside the window
    vars:
      question: I bought headphones 12 days ago, can I return them?
      order_id: A-1001
      vip: no
    threshold: 0.6
    metadata:
      tags: [refunds, billing]
      requirements: req-3
      must_escalate: false
    assert:
      - type: icontains
        value: 30 days
        weight: 2
      - type: contains-any
        value: 'refund, return, "money back, in full"'
      - type: llm-rubric
        value: Explains how to start a return for {{brand}}
        metric: helpfulness
      - type: similar
        value: You can return them within 30 days.
      - type: latency
        threshold: 5000
      - type: not-is-refusal
  - description: Legal threat
    vars:
      question: I'm going to sue Acme.
    metadata:
      must_escalate: yes
    assert:
      - type: equals
        value: ESCALATE
      - type: starts-with
        value: "I'm sorry"
      - type: regex
        value: "(?i)human|agent"
      - type: not-regex
        value: lawyer
      - type: is-json
      - type: is-json
        value:
          type: object
          required: [ticket]
      - type: icontains-all
        value: [sorry, colleague]
      - type: not-contains-any
        value: [guarantee, promise]
      - type: is-refusal
      - type: similar
        value: [I will connect you with a colleague.]
        threshold: 0.9
      - type: llm-rubric
        value: Stays calm
        threshold: 0.8
"""


def test_promptfoo_happy_path_maps_every_supported_assert():
    result = parse(PROMPTFOO, "promptfoo", validate_scorer=fake_validate)
    assert result.ok, messages(result)
    default = {
        "weight": 1.0,
        "type": "not_contains",
        "values": ["as an AI language model"],
        "case_sensitive": False,
    }
    refund, legal = result.drafts
    assert refund == CaseDraft(
        name="Refund inside the window",
        prompt="I bought headphones 12 days ago, can I return them?",
        variables={
            "brand": "Acme",
            "question": "I bought headphones 12 days ago, can I return them?",
            "order_id": "A-1001",
            "vip": "no",
        },
        tags=["refunds", "billing"],
        requirement_keys=["REQ-3"],
        must_escalate=False,
        pass_threshold=0.6,
        scorers=[
            default,
            {"weight": 2, "type": "contains", "values": ["30 days"], "case_sensitive": False},
            {
                "weight": 1.0,
                "type": "contains",
                "values": ["refund", "return", "money back, in full"],
                "mode": "any",
                "case_sensitive": True,
            },
            {
                "weight": 1.0,
                "type": "llm_judge",
                "rubric": "Explains how to start a return for Acme",
                "label": "helpfulness",
            },
            {
                "weight": 1.0,
                "type": "similarity",
                "value": "You can return them within 30 days.",
                "threshold": 0.75,
            },
            {"weight": 1.0, "type": "latency", "max_ms": 5000},
            {"weight": 1.0, "type": "refusal", "expected": False},
        ],
        line=13,
    )
    assert legal.line == 37
    assert legal.must_escalate is True
    assert legal.prompt == "I'm going to sue Acme."
    assert legal.scorers == [
        default,
        {"weight": 1.0, "type": "equals", "value": "ESCALATE"},
        {"weight": 1.0, "type": "starts_with", "value": "I'm sorry"},
        {"weight": 1.0, "type": "regex", "pattern": "(?i)human|agent"},
        {"weight": 1.0, "type": "regex", "pattern": "lawyer", "expect_match": False},
        {"weight": 1.0, "type": "is_json"},
        {
            "weight": 1.0,
            "type": "json_schema",
            "schema": {"type": "object", "required": ["ticket"]},
        },
        {
            "weight": 1.0,
            "type": "contains",
            "values": ["sorry", "colleague"],
            "mode": "all",
            "case_sensitive": False,
        },
        {
            "weight": 1.0,
            "type": "not_contains",
            "values": ["guarantee", "promise"],
            "case_sensitive": True,
        },
        {"weight": 1.0, "type": "refusal", "expected": True},
        {
            "weight": 1.0,
            "type": "similarity",
            "value": "I will connect you with a colleague.",
            "threshold": 0.9,
        },
        {"weight": 1.0, "type": "llm_judge", "rubric": "Stays calm", "threshold": 0.8},
    ]


def test_promptfoo_bare_list_and_single_template():
    result = parse(
        """
        - description: Order status
          vars:
            order_id: A-1002
            vip: true
            total: 10.0
          assert:
            - type: contains
              value: "{{order_id}}"
        """,
        "promptfoo",
    )
    assert messages(result) == [
        "line 1: the test has no prompt: set vars.prompt (or input, question, query), or "
        "give the file exactly one prompts: template (the file has no prompts: template)"
    ]
    result = parse(
        """
        prompts: "Where is order {{ order_id }}? VIP: {{vip}}, total {{total}}"
        tests:
          - description: Order status
            vars:
              order_id: A-1002
              vip: true
              total: 10.0
            assert:
              - type: contains
                value: "{{order_id}}"
        """,
        "promptfoo",
    )
    assert result.ok, messages(result)
    assert result.drafts[0].prompt == "Where is order A-1002? VIP: true, total 10"
    assert result.drafts[0].scorers == [
        {"type": "contains", "values": ["A-1002"], "case_sensitive": True}
    ]
    assert result.drafts[0].line == 3


def test_promptfoo_code_running_and_unknown_asserts_point_at_the_assert():
    result = parse(
        """
        tests:
          - vars:
              question: Refund please
            assert:
              - type: python
                value: "'refund' in output"
              - type: javascript
                value: output.length < 500
              - type: contains
                value: refund
                transform: output.toLowerCase()
              - type: webhook
                value: https://example.com/grade
              - type: factuality
                value: Refunds take 5 days
              - type: equals
                value: file://expected.txt
          - vars:
              question: Cancel
            options:
              transform: output.trim()
        """,
        "promptfoo",
    )
    assert messages(result) == [
        'line 5: assert type "python" runs code on the server; not supported',
        'line 7: assert type "javascript" runs code on the server; not supported',
        'line 9: assert "contains" has a transform, which runs code; not supported',
        'line 12: assert type "webhook" runs code on the server; not supported',
        'line 14: assert type "factuality" is not supported',
        'line 16: assert "equals" reads file://expected.txt, which is not available here',
        "line 18: options.transform runs code on the server; not supported",
    ]
    assert result.drafts == []


def test_promptfoo_test_level_problems():
    result = parse(
        """
        prompts:
          - "Customer: {{question}}"
          - "Kunde: {{question}}"
        tests:
          - description: No prompt var, two templates
            vars:
              order_id: A-1
          - vars:
              question: [Refund?, Return?]
          - vars:
              question: file://questions.txt
          - file://more_tests.yaml
          - vars:
              question: Refund?
            threshold: 2
            metadata:
              requirements: [REQ-1, BUG-2]
              must_escalate: perhaps
            assert: not a list
        """,
        "promptfoo",
    )
    assert messages(result) == [
        "line 5: the test has no prompt: set vars.prompt (or input, question, query), or "
        "give the file exactly one prompts: template (the file has 2 prompts: templates)",
        'line 8: vars: "question" is a list; promptfoo would run the test once per item, '
        "which is not supported here: write one test per value",
        "line 8: the test has no prompt: set vars.prompt (or input, question, query), or "
        "give the file exactly one prompts: template (the file has 2 prompts: templates)",
        'line 10: vars: "question" reads file://questions.txt, which is not available here',
        "line 10: the test has no prompt: set vars.prompt (or input, question, query), or "
        "give the file exactly one prompts: template (the file has 2 prompts: templates)",
        "line 12: tests from file://more_tests.yaml are not available here; "
        "upload that file instead",
        "line 13: assert must be a list",
        "line 13: threshold: 2 is not a number from 0 to 1",
        'line 13: metadata.requirements: "BUG-2" is not a requirement key like REQ-3',
        'line 13: metadata.must_escalate: "perhaps" is not yes/no',
    ]


def test_promptfoo_template_problems():
    result = parse(
        """
        prompts: ["Hi {{ name | upper }}"]
        tests:
          - vars: {name: Ann}
        """,
        "promptfoo",
    )
    assert messages(result) == [
        "line 3: the prompts: template uses template features beyond {{ var }} "
        "(filters, tags or comments), which are not supported"
    ]
    result = parse(
        """
        prompts: ["Hi {{ name }}, about {{ order_id }}"]
        tests:
          - vars: {name: Ann}
        """,
        "promptfoo",
    )
    assert messages(result) == [
        "line 3: the prompts: template uses {{ order_id }}, which the test's vars do not set"
    ]


def test_promptfoo_yaml_syntax_error_has_its_line():
    result = parse(
        """
        tests:
          - description: Refund
            vars:
              question: "Can I get a refund?
          - description: Next
        """,
        "promptfoo",
    )
    assert messages(result) == [
        "line 4: not valid YAML (while scanning a quoted scalar, found unexpected end of stream)"
    ]


def test_promptfoo_yaml_indentation_error():
    result = parse(
        """
        tests:
          - vars:
              question: Refund?
             assert: []
        """,
        "promptfoo",
    )
    assert messages(result) == [
        "line 4: not valid YAML (while parsing a block mapping that starts on line 2, "
        "did not find expected key)"
    ]


def test_promptfoo_yaml_is_read_safely_and_as_promptfoo_reads_it():
    result = parse(
        """
        tests:
          - vars:
              question: !!python/object/apply:os.system ["echo hacked"]
        """,
        "promptfoo",
    )
    assert messages(result) == [
        'line 3: not valid YAML (the YAML tag "tag:yaml.org,2002:python/object/apply:os.system" '
        "is not supported)"
    ]
    result = parse(
        """
        tests:
          - vars:
              question: Refund?
              answer: no
              country: NO
              since: 2024-01-31
              count: 010
              hex: 0x1F
              ratio: 1.5
              flag: True
        """,
        "promptfoo",
    )
    assert result.drafts[0].variables == {
        "question": "Refund?",
        "answer": "no",
        "country": "NO",
        "since": "2024-01-31",
        "count": 10,
        "hex": 31,
        "ratio": 1.5,
        "flag": True,
    }


def test_promptfoo_loader_leaves_pyyaml_defaults_alone():
    assert yaml.safe_load("a: no\nb: 2024-01-31") == {"a": False, "b": date(2024, 1, 31)}


def test_promptfoo_problems_are_listed_in_file_order():
    result = parse(
        """
        tests:
          - vars: {question: Refund?}
            assert:
              - type: python
                value: "True"
            threshold: 7
        """,
        "promptfoo",
    )
    assert messages(result) == [
        "line 2: threshold: 7 is not a number from 0 to 1",
        'line 4: assert type "python" runs code on the server; not supported',
    ]


def test_promptfoo_duplicate_keys_are_refused():
    result = parse(
        """
        tests:
          - vars:
              question: Refund?
            assert:
              - type: contains
                value: refund
            assert:
              - type: contains
                value: return
        """,
        "promptfoo",
    )
    assert messages(result) == ['line 7: not valid YAML (the key "assert" appears twice)']


def test_promptfoo_anchors_work_but_alias_bombs_and_cycles_do_not():
    result = parse(
        """
        shared: &polite
          - type: not-icontains
            value: stupid
        tests:
          - vars: {question: Refund?}
            assert: *polite
          - vars: {question: Return?}
            assert: *polite
        """,
        "promptfoo",
    )
    assert result.ok, messages(result)
    assert [len(draft.scorers) for draft in result.drafts] == [1, 1]

    bomb = ["a: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    bomb += ["tests:", "  - vars: {question: Hi}", "    assert: *a7"]
    result = parse_cases("\n".join(bomb).encode(), "promptfoo")
    assert messages(result) == ["the YAML expands to too many values (anchors and aliases)"]

    result = parse_cases(b"tests: &t\n  - *t\n", "promptfoo")
    assert messages(result) == ["line 1: an alias refers to itself"]


def test_promptfoo_deep_nesting_is_refused():
    deep = "tests:\n  - vars: {question: Hi}\n    assert:\n      - type: is-json\n        value: "
    deep += "[" * 150 + "]" * 150 + "\n"
    result = parse_cases(deep.encode(), "promptfoo")
    assert messages(result) == ["line 5: the YAML is nested too deeply"]


def test_promptfoo_file_shapes():
    assert messages(parse("prompts: [hi]\n", "promptfoo")) == [
        'line 1: no "tests:" list in the file'
    ]
    assert messages(parse("tests: file://tests/*.yaml\n", "promptfoo")) == [
        "line 1: tests from file://tests/*.yaml are not available here; upload that file instead"
    ]
    assert messages(parse("just text\n", "promptfoo")) == [
        "line 1: expected a list of tests, or a mapping with a tests: list"
    ]
    assert messages(parse("tests: []\n", "promptfoo")) == ["the file has no cases"]
    assert messages(parse("---\na: 1\n---\nb: 2\n", "promptfoo")) == [
        "line 3: not valid YAML (expected a single document in the stream, "
        "but found another document)"
    ]


# --------------------------------------------------------------------------- scorer checks


def test_validate_scorer_problems_are_line_numbered_for_every_format():
    jsonl = "\n".join(
        [
            '{"prompt": "Refund?", "scorers": [{"type": "contains", "values": ["30"]}]}',
            '{"prompt": "Refund?", "scorers": [{"type": "equals", "value": "x"}, '
            '{"type": "bleu"}]}',
            '{"prompt": "Refund?", "scorers": ["contains", {"value": 1}]}',
        ]
    )
    result = parse_cases(jsonl.encode(), "jsonl", validate_scorer=fake_validate)
    assert messages(result) == [
        'line 2: scorer 2: unknown scorer type "bleu"',
        'line 3: scorer 1: must be an object with a "type"',
        'line 3: scorer 2: must be an object with a "type"',
    ]

    csv_text = (
        "prompt,scorers\n"
        'Refund?,"[{""type"": ""regex"", ""pattern"": ""refund""}]"\n'
        '"Two\nlines","[{""type"": ""is_json""}, {""type"": ""regex"", ""pattern"": ""(""}]"\n'
    )
    result = parse_cases(csv_text.encode(), "csv", validate_scorer=fake_validate)
    assert messages(result) == ["line 3: scorer 2: the pattern has an unclosed group"]

    result = parse(
        """
        tests:
          - vars: {question: Refund?}
            assert:
              - type: regex
                value: "(unclosed"
        """,
        "promptfoo",
        validate_scorer=fake_validate,
    )
    assert messages(result) == ["line 2: scorer 1: the pattern has an unclosed group"]


def test_validated_specs_replace_the_raw_ones():
    result = parse_cases(
        b'{"prompt": "Hi", "scorers": [{"type": "equals", "value": "Hello"}]}',
        "jsonl",
        validate_scorer=fake_validate,
    )
    assert result.drafts[0].scorers == [{"weight": 1.0, "type": "equals", "value": "Hello"}]


# --------------------------------------------------------------------------- whole-file problems


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_bad_encoding_is_one_problem_with_its_line(fmt):
    data = "prompt\nRefund?\nR\u00e9sum\u00e9 please\n".encode("latin-1")
    result = parse_cases(data, fmt)
    assert messages(result) == ["line 3: the file is not UTF-8 text (byte 0xe9); save it as UTF-8"]
    assert result.drafts == []


def test_utf16_and_nul_bytes():
    result = parse_cases("prompt\nHi\n".encode("utf-16"), "csv")
    assert messages(result) == ["the file is UTF-16 text; save it as UTF-8"]
    result = parse_cases(b"prompt\nHi\nHo\x00\n", "csv")
    assert messages(result) == ["line 3: the file contains a NUL character; is it a text file?"]


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("data", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_file_has_no_cases(fmt, data):
    result = parse_cases(data, fmt)
    assert messages(result) == ["the file has no cases"]
    assert not result.ok


def test_too_large_file():
    result = parse_cases(b"x" * (MAX_BYTES + 1), "csv")
    assert messages(result) == ["the file is larger than 5 MB; split it into smaller files"]


@pytest.mark.parametrize(
    ("fmt", "header", "row"),
    [
        ("jsonl", "", '{"prompt": "Refund?"}'),
        ("openai_evals", "", '{"input": "Refund?", "ideal": "Yes"}'),
        ("csv", "prompt", "Refund?"),
        ("promptfoo", "tests:", "  - vars: {question: Refund?}"),
    ],
)
def test_too_many_cases_is_one_problem(fmt, header, row):
    lines = ([header] if header else []) + [row] * (MAX_CASES + 1)
    result = parse_cases("\n".join(lines).encode(), fmt)
    assert messages(result) == ["the file has more than 10,000 cases; split it into smaller files"]
    lines = ([header] if header else []) + [row] * MAX_CASES
    assert len(parse_cases("\n".join(lines).encode(), fmt).drafts) == MAX_CASES


def test_problems_stop_at_the_cap():
    text = "\n".join(["{not json"] * (MAX_PROBLEMS + 10))
    result = parse_cases(text.encode(), "jsonl")
    assert len(result.problems) == MAX_PROBLEMS + 1
    assert str(result.problems[MAX_PROBLEMS - 1]).startswith(f"line {MAX_PROBLEMS}: ")
    assert str(result.problems[-1]) == (
        "stopped after 50 problems; fix these and upload the file again"
    )


def test_unknown_format_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown format"):
        parse_cases(b"", "xlsx")


def test_problem_text():
    assert str(ImportProblem(7, "bad")) == "line 7: bad"
    assert str(ImportProblem(0, "the file has no cases")) == "the file has no cases"


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("filename", "head", "expected"),
    [
        ("cases.csv", b"prompt,expected\n", "csv"),
        ("CASES.CSV", b"", "csv"),
        ("tests.yaml", b"tests:\n", "promptfoo"),
        ("promptfooconfig.yml", b"", "promptfoo"),
        ("cases.jsonl", b'{"prompt": "Refund?", "expected": "Yes"}\n', "jsonl"),
        ("samples.jsonl", b'\xef\xbb\xbf{"input": [], "ideal": "Yes"}\n', "openai_evals"),
        ("samples.json", b'\n{"input": "Refund?", "ideal": ["Yes", "Y"]}\n', "openai_evals"),
        ("mixed.jsonl", b'{"input": "a", "ideal": "b", "prompt": "c"}\n', "jsonl"),
        ("samples.jsonl", b'{"input": "Refund?"}\n', "jsonl"),
        ("truncated.jsonl", b'{"input": [{"role": "user", "cont', "jsonl"),
        ("upload", b'{"input": "a", "ideal": "b"}', "openai_evals"),
        ("notes.txt", b"prompt,expected\n", None),
        ("", b"", None),
    ],
)
def test_detect_format(filename, head, expected):
    assert detect_format(filename, head) == expected


# --------------------------------------------------------------------------- export + round trip

TRICKY = [
    {
        "key": "CASE-1",
        "name": "Commas, \"quotes\" and 'apostrophes'",
        "prompt": 'He said "refund, now", then left.\nSecond line\r\nThird line',
        "expected": "=SUM(A1)",
        "expected_behavior": "+1 call us; -- or @mention",
        "context": "\tindented\u2028line separator \u00e9\u00e8 \U0001f600 \u4e2d\u6587",
        "tags": ["refunds", "émoji 😀"],
        "requirement_keys": ["REQ-3", "REQ-12"],
        "must_escalate": True,
        "variables": {"order_id": '=HYPERLINK("x")', "count": 3, "ratio": 0.5, "vip": False},
        "scorers": [
            {"type": "contains", "values": ["30 days", "refund, full"], "mode": "any"},
            {"type": "llm_judge", "rubric": "Polite\nand correct", "threshold": 0.7},
        ],
        "pass_threshold": 0.85,
    },
    {
        "key": "CASE-2",
        "name": "",
        "prompt": "",
        "messages": [
            {"role": "system", "content": "You are Acme support, be brief."},
            {"role": "user", "content": "'=1+1"},
            {"role": "assistant", "content": "2"},
            {"role": "user", "content": "-and now?"},
        ],
        "expected": "",
        "pass_threshold": 0.0,
    },
    {"prompt": "@everyone where is my parcel?", "name": "'=already guarded"},
    {"prompt": "Plain question", "tags": [], "scorers": []},
]


@pytest.mark.parametrize(("exporter", "fmt"), [(export_csv, "csv"), (export_jsonl, "jsonl")])
def test_export_then_import_round_trips(exporter, fmt):
    text = exporter(TRICKY)
    result = parse_cases(text.encode(), fmt)
    assert result.ok, messages(result)
    expected = [CaseDraft(**{k: v for k, v in case.items() if k != "key"}) for case in TRICKY]
    assert without_lines(result.drafts) == expected
    # and again, from the drafts themselves
    again = parse_cases(exporter(result.drafts).encode(), fmt)
    assert without_lines(again.drafts) == expected


def test_csv_export_guards_formulas_and_starts_with_the_key():
    text = export_csv(
        [{"key": "CASE-4", "prompt": "=SUM(A1)", "expected": "-5", "name": "'+x", "tags": ["a"]}]
    )
    header, row = text.split("\r\n")[:2]
    assert header.split(",") == CSV_COLUMNS
    assert CSV_COLUMNS[0] == "key"
    assert row == "CASE-4,''+x,'=SUM(A1),,,'-5,,,a,,no,,"


def test_jsonl_export_leaves_out_empty_fields_and_escapes_line_separators():
    text = export_jsonl(
        [
            CaseDraft(name="Refund", prompt="Refund?\u2028Please", line=9),
            {"key": "CASE-2", "messages": [{"role": "user", "content": "Hi"}]},
        ]
    )
    assert text.splitlines() == [
        '{"name": "Refund", "prompt": "Refund?\\u2028Please"}',
        '{"key": "CASE-2", "name": "", "messages": [{"role": "user", "content": "Hi"}]}',
    ]


def test_module_has_no_django_imports():
    source = Path(case_io.__file__).read_text(encoding="utf-8")
    assert "django" not in source


def test_a_deep_first_line_is_detected_as_jsonl_and_refused_by_the_parser():
    body = ("{" + '"a":' * 1) + "[" * 100_000 + "]" * 100_000 + "}"
    assert case_io.detect_format("", body.encode()[:65536]) == "jsonl"
    assert case_io.detect_format("", ('{"a":' * 10000 + "1" + "}" * 10000).encode()) == "jsonl"


def test_promptfoo_integers_beyond_any_column_are_refused_by_line():
    result = parse_cases(f"tests:\n  - vars: {{a: {'9' * 5000}}}\n".encode(), "promptfoo")
    assert messages(result) == ["line 2: not valid YAML (an integer with more than 40 digits)"]
