"""Import and export eval cases: CSV, our JSONL, promptfoo tests (YAML), OpenAI Evals samples.

Pure Python, no models: :func:`parse_cases` turns a file into :class:`CaseDraft` objects
and the caller turns drafts into rows. A file with any problem imports nothing:
:class:`ImportResult` then carries every problem found (up to :data:`MAX_PROBLEMS`,
each with the 1-based line it starts on) and no drafts.

Rules shared by every format:

* UTF-8 only (a BOM is dropped); at most :data:`MAX_BYTES` and :data:`MAX_CASES`.
  A NUL character is refused (PostgreSQL text cannot hold it).
* A case has a prompt (the user's message) *or* chat ``messages``, never both.
  Message roles are system, user and assistant (``developer`` is read as system;
  OpenAI's few-shot ``{"role": "system", "name": "example_user"}`` becomes a user
  message, ``example_assistant`` an assistant one); other keys of a message are dropped.
* Variables are named like identifiers (``order_id``) and hold text, a number or
  true/false. Tags are split on ``;``, ``|`` and ``,``; requirement keys also on
  whitespace, and read as ``REQ-<n>`` (``" req-03 "`` becomes ``REQ-3``).
* Scorer specs are passed through ``validate_scorer`` when given; its ``ValueError``
  becomes ``line N: scorer 2: <message>``. Without it a spec only has to be a JSON
  object with a ``type``.

Format notes (decisions):

* CSV: the delimiter is the most frequent of ``,`` ``;`` and tab in the header line
  (Excel in many locales writes ``;``). Rows whose cells are all blank are skipped.
  An empty ``var:NAME`` cell leaves the variable unset. Export neutralizes formula
  injection by prefixing an apostrophe to cells that start with ``= + - @``, tab or
  CR (after any apostrophes already there); import removes exactly one apostrophe in
  that same position, so export and import round-trip.
* JSONL (ours): unknown keys are problems (they are usually typos); ``key`` is ignored.
* OpenAI Evals samples: keys other than ``input`` and ``ideal`` whose value is text,
  a number or true/false and whose name is a valid variable name become variables;
  anything else is ignored without a problem (samples often carry metadata).
* promptfoo: YAML 1.2 scalars as promptfoo's js-yaml reads them (``no`` stays text,
  dates stay text, ``010`` is 10), safe construction only, duplicate keys refused.
  The prompt is ``vars.prompt``, ``input``, ``question`` or ``query`` (first present);
  otherwise the single ``prompts:`` template rendered with ``{{ var }}`` substitution
  only (no Nunjucks). All vars, including the one used as the prompt, become variables.
  ``defaultTest`` vars, metadata and threshold are defaults for every test, its asserts
  come before each test's own. String assert values are rendered with the test's vars.
  ``similar`` defaults to threshold 0.75 (promptfoo's default); ``llm-rubric`` gets a
  threshold only when the assert gives one (otherwise the judge's pass verdict
  counts). ``metric`` becomes the scorer's ``label``. Code-running asserts (javascript,
  python, ruby, webhook, any ``transform``) and files referenced with ``file://`` are
  refused; list-valued vars (promptfoo's test expansion) too.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "MAX_BYTES",
    "MAX_CASES",
    "MAX_PROBLEMS",
    "CaseDraft",
    "ImportProblem",
    "ImportResult",
    "detect_format",
    "export_csv",
    "export_jsonl",
    "parse_cases",
]

FORMATS = {
    "csv": "CSV",
    "jsonl": "JSONL",
    "promptfoo": "promptfoo tests (YAML)",
    "openai_evals": "OpenAI Evals samples (JSONL)",
}
MAX_BYTES = 5 * 1024 * 1024
MAX_CASES = 10_000
MAX_PROBLEMS = 50
CSV_COLUMNS = [
    "key",
    "name",
    "prompt",
    "messages",
    "variables",
    "expected",
    "expected_behavior",
    "context",
    "tags",
    "requirements",
    "must_escalate",
    "scorers",
    "pass_threshold",
]

Scalar = str | int | float | bool
ScorerValidator = Callable[[dict], dict]


@dataclass
class CaseDraft:
    """One imported case, not yet saved."""

    name: str = ""
    prompt: str = ""
    messages: list[dict] = field(default_factory=list)
    variables: dict[str, Scalar] = field(default_factory=dict)
    expected: str = ""
    expected_behavior: str = ""
    context: str = ""
    tags: list[str] = field(default_factory=list)
    requirement_keys: list[str] = field(default_factory=list)
    must_escalate: bool = False
    scorers: list[dict] = field(default_factory=list)
    pass_threshold: float | None = None
    line: int = 0


@dataclass(frozen=True)
class ImportProblem:
    """Something wrong with an uploaded file; ``line`` is 1-based, 0 for the whole file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class ImportResult:
    """The drafts of a clean file, or the problems of a bad one (then no drafts)."""

    format: str
    drafts: list[CaseDraft] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- detection


def detect_format(filename: str, head: bytes) -> str | None:
    """Guess the format from the file name and its first bytes (pass a generous head)."""
    name = filename.strip().lower()
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if ext in ("csv", "tsv"):
        return "csv"
    if ext in ("yaml", "yml"):
        return "promptfoo"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    if ext in ("jsonl", "json", "ndjson") or first.startswith("{"):
        try:
            obj = json.loads(first)
        except (ValueError, RecursionError):  # the parser then says what is wrong
            return "jsonl"
        if isinstance(obj, dict) and "input" in obj and "ideal" in obj and "prompt" not in obj:
            return "openai_evals"
        return "jsonl"
    return None


# --------------------------------------------------------------------------- parsing


class _TooManyProblems(Exception):
    pass


class _TooManyCases(Exception):
    pass


class _Problems:
    def __init__(self) -> None:
        self.items: list[ImportProblem] = []
        self._seen: set[tuple[int, str]] = set()

    def add(self, line: int, message: str) -> None:
        # defaultTest asserts are checked once per test: report each problem once.
        if (line, message) in self._seen:
            return
        if len(self.items) >= MAX_PROBLEMS:
            raise _TooManyProblems
        self._seen.add((line, message))
        self.items.append(ImportProblem(line, message))


class _Ctx:
    """Collects drafts and problems; :meth:`finish` runs the checks every draft gets."""

    def __init__(self, validate_scorer: ScorerValidator | None) -> None:
        self.out = _Problems()
        self.drafts: list[CaseDraft] = []
        self.validate_scorer = validate_scorer

    def finish(self, draft: CaseDraft, *, check_prompt: bool = True) -> None:
        if len(self.drafts) >= MAX_CASES:
            raise _TooManyCases
        line = draft.line
        if check_prompt:
            if not draft.prompt.strip() and not draft.messages:
                self.out.add(line, 'the case has no prompt (give "prompt" or "messages")')
            elif draft.prompt.strip() and draft.messages:
                self.out.add(line, 'give either "prompt" or "messages", not both')
        for message in _content_problems(draft):
            self.out.add(line, message)
        scorers = []
        for index, spec in enumerate(draft.scorers, 1):
            try:
                scorers.append(self._check_scorer(spec))
            except ValueError as exc:
                self.out.add(line, f"scorer {index}: {exc}")
        draft.scorers = scorers
        self.drafts.append(draft)

    def _check_scorer(self, spec: Any) -> dict:
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise ValueError('must be an object with a "type"')
        try:
            json.dumps(spec, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise ValueError("holds a value that is not plain JSON") from None
        if self.validate_scorer is not None:
            return self.validate_scorer(dict(spec))
        return spec


def parse_cases(
    data: bytes, fmt: str, *, validate_scorer: ScorerValidator | None = None
) -> ImportResult:
    """Read an uploaded file of cases; any problem means no drafts."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    result = ImportResult(format=fmt)
    if len(data) > MAX_BYTES:
        limit = MAX_BYTES // (1024 * 1024)
        result.problems = [
            ImportProblem(0, f"the file is larger than {limit} MB; split it into smaller files")
        ]
        return result
    text, problem = _decode(data)
    if problem is not None:
        result.problems = [problem]
        return result
    ctx = _Ctx(validate_scorer)
    try:
        _PARSERS[fmt](text, ctx)
    except _TooManyProblems:
        ctx.out.items.append(
            ImportProblem(
                0, f"stopped after {MAX_PROBLEMS} problems; fix these and upload the file again"
            )
        )
    except _TooManyCases:
        ctx.out.items = [
            ImportProblem(
                0, f"the file has more than {MAX_CASES:,} cases; split it into smaller files"
            )
        ]
    if not ctx.out.items and not ctx.drafts:
        ctx.out.items.append(ImportProblem(0, "the file has no cases"))
    # In file order; whole-file notes (line 0, such as the cap notice) last.
    result.problems = sorted(ctx.out.items, key=lambda p: (p.line == 0, p.line))
    result.drafts = [] if ctx.out.items else ctx.drafts
    return result


def _decode(data: bytes) -> tuple[str, ImportProblem | None]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "", ImportProblem(0, "the file is UTF-16 text; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        return "", ImportProblem(
            line, f"the file is not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8"
        )
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        return "", ImportProblem(line, "the file contains a NUL character; is it a text file?")
    return text, None


# --------------------------------------------------------------------------- field values

_ALIASES: dict[str, str | None] = {
    "key": None,
    "name": "name",
    "prompt": "prompt",
    "input": "prompt",
    "question": "prompt",
    "messages": "messages",
    "variables": "variables",
    "vars": "variables",
    "expected": "expected",
    "expected_output": "expected",
    "ideal": "expected",
    "expected_behavior": "expected_behavior",
    "context": "context",
    "tags": "tags",
    "requirements": "requirement_keys",
    "requirement_keys": "requirement_keys",
    "must_escalate": "must_escalate",
    "scorers": "scorers",
    "pass_threshold": "pass_threshold",
}
_KNOWN_NAMES = ", ".join(_ALIASES)
_ROLES = ("system", "user", "assistant")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_REQ_KEY = re.compile(r"REQ-0*(\d+)")
_TAG_SPLIT = re.compile(r"[;|,]")
_REQ_SPLIT = re.compile(r"[;|,\s]+")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}
_MAX_DEPTH = 64


class _DuplicateKey(ValueError):
    pass


def _show(value: Any) -> str:
    """A value as a user sees it in a message, shortened."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > 60:
        text = text[:57] + "..."
    return f'"{text}"' if isinstance(value, str) else text


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(f'the key "{key}" appears twice')
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _json_loads(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys; errors are user-facing ValueErrors."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except _DuplicateKey:
        raise
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None


def _json_cell(value: str) -> Any:
    """A CSV cell (or JSONL string) holding JSON; blank is None."""
    return _json_loads(value) if value.strip() else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if _is_number(value):
        return str(value)
    raise ValueError("must be text")


def _name(value: Any) -> str:
    return _text(value).strip()


def _split_values(value: Any, splitter: re.Pattern[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError("must be text or a list of text")
    parts: list[str] = []
    for item in items:
        if not isinstance(item, str) and not _is_number(item):
            raise ValueError("must be text or a list of text")
        for part in splitter.split(str(item)):
            part = part.strip()
            if part and part not in parts:
                parts.append(part)
    return parts


def _tags(value: Any) -> list[str]:
    return _split_values(value, _TAG_SPLIT)


def _requirement_key(text: str) -> str:
    match = _REQ_KEY.fullmatch(text.strip().upper())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{_show(text)} is not a requirement key like REQ-3")
    return f"REQ-{int(match.group(1))}"


def _requirements(value: Any) -> list[str]:
    keys: list[str] = []
    for part in _split_values(value, _REQ_SPLIT):
        key = _requirement_key(part)
        if key not in keys:
            keys.append(key)
    return keys


def _yes_no(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
    raise ValueError(f"{_show(value)} is not yes/no")


def _threshold(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: float | None = None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    elif _is_number(value):
        number = float(value)
    if number is None or not math.isfinite(number) or not 0 <= number <= 1:
        raise ValueError(f"{_show(value)} is not a number from 0 to 1")
    return number


def _message(index: int, item: Any) -> dict:
    if not isinstance(item, dict):
        raise ValueError(f"message {index} must be an object with a role and content")
    role = item.get("role")
    name = item.get("name")
    if role == "developer":
        role = "system"
    elif role == "system" and name == "example_user":
        role = "user"
    elif role == "system" and name == "example_assistant":
        role = "assistant"
    if role not in _ROLES:
        raise ValueError(f"message {index}: role {_show(role)} is not system, user or assistant")
    content = item.get("content")
    if not isinstance(content, str):
        raise ValueError(f"message {index}: content must be text")
    return {"role": role, "content": content}


def _messages(value: Any) -> list[dict]:
    if isinstance(value, str):
        value = _json_cell(value)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("must be a list of messages")
    messages = [_message(index, item) for index, item in enumerate(value, 1)]
    if messages and not any(m["role"] == "user" for m in messages):
        raise ValueError("needs at least one user message")
    return messages


def _variable(name: Any, value: Any) -> tuple[str, Scalar]:
    if not isinstance(name, str) or not _VAR_NAME.fullmatch(name):
        raise ValueError(
            f"{_show(name)} is not a variable name (letters, digits and _, not starting "
            "with a digit)"
        )
    if isinstance(value, bool | str) or (_is_number(value) and math.isfinite(value)):
        return name, value
    if value is None:
        raise ValueError(f'variable "{name}" has no value')
    raise ValueError(f'variable "{name}" must be text, a number or true/false')


def _variables(value: Any) -> dict[str, Scalar]:
    if isinstance(value, str):
        value = _json_cell(value)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError('must be an object like {"order_id": "A-1001"}')
    return dict(_variable(name, item) for name, item in value.items())


def _scorer_list(value: Any) -> list:
    if isinstance(value, str):
        value = _json_cell(value)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("must be a list of scorer specs")
    return value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "prompt": _text,
    "messages": _messages,
    "variables": _variables,
    "expected": _text,
    "expected_behavior": _text,
    "context": _text,
    "tags": _tags,
    "requirement_keys": _requirements,
    "must_escalate": _yes_no,
    "scorers": _scorer_list,
    "pass_threshold": _threshold,
}


def _build(
    fields: dict[str, tuple[str, Any]], line: int, ctx: _Ctx, label: Callable[[str], str]
) -> tuple[CaseDraft, set[str]]:
    """A draft from ``{field: (name in the file, raw value)}``; also returns the failed fields."""
    draft = CaseDraft(line=line)
    failed: set[str] = set()
    for canon, (source, value) in fields.items():
        try:
            setattr(draft, canon, _CONVERTERS[canon](value))
        except ValueError as exc:
            failed.add(canon)
            ctx.out.add(line, f"{label(source)}: {exc}")
    return draft, failed


def _content_problems(draft: CaseDraft) -> list[str]:
    """NUL characters (which PostgreSQL cannot store) and runaway nesting, found iteratively."""
    stack: list[tuple[Any, int]] = [
        (value, 0)
        for value in (
            draft.name,
            draft.prompt,
            draft.messages,
            draft.variables,
            draft.expected,
            draft.expected_behavior,
            draft.context,
            draft.tags,
            draft.scorers,
        )
    ]
    problems: list[str] = []
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return ["a value is nested too deeply"]
        if isinstance(value, str):
            if "\x00" in value and not problems:
                problems.append("a value contains a NUL character (\\u0000)")
        elif isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return problems


# --------------------------------------------------------------------------- CSV


# Spreadsheet formula triggers, after any apostrophes (see the module docstring).
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def _csv_unescape(cell: str) -> str:
    """Undo the export's formula guard: one apostrophe before apostrophes and a trigger."""
    if cell.startswith("'") and _FORMULA.match(cell, 1):
        return cell[1:]
    return cell


def _csv_escape(cell: str) -> str:
    return "'" + cell if _FORMULA.match(cell) else cell


def _csv_delimiter(text: str) -> str:
    header = next((line for line in text.split("\n") if line.strip()), "")
    counts = {delimiter: header.count(delimiter) for delimiter in ",;\t"}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _csv_columns(header: list[str], line: int, ctx: _Ctx) -> list[tuple[str, str] | None]:
    """Per column: ("field", canonical) / ("var", name) / ("skip", "") / None (no header)."""
    columns: list[tuple[str, str] | None] = []
    unknown: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for raw in header:
        title = raw.strip()
        lower = title.lower()
        column: tuple[str, str] | None
        if not title:
            column = None
        elif lower.startswith(("var:", "vars.")):
            name = title.split(":", 1)[1] if lower.startswith("var:") else title[5:]
            name = name.strip()
            try:
                _variable(name, "")
            except ValueError as exc:
                ctx.out.add(line, f'column "{title}": {exc}')
            column = ("var", name)
        elif lower in _ALIASES:
            canon = _ALIASES[lower]
            column = ("skip", "") if canon is None else ("field", canon)
        else:
            unknown.append(title)
            column = ("skip", "")
        if column is not None and column[0] != "skip":
            if column in seen:
                ctx.out.add(line, f'columns "{seen[column]}" and "{title}" are the same; keep one')
                column = ("skip", "")
            else:
                seen[column] = title
        columns.append(column)
    if unknown:
        listed = ", ".join(f'"{title}"' for title in unknown)
        noun = "column" if len(unknown) == 1 else "columns"
        ctx.out.add(
            line,
            f"unknown {noun} {listed} (known columns: {_KNOWN_NAMES}, and var:NAME "
            "or vars.NAME for a variable)",
        )
    return columns


def _parse_csv(text: str, ctx: _Ctx) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_csv_delimiter(text), strict=True)
    header: list[str] | None = None
    columns: list[tuple[str, str] | None] = []
    titles: list[str] = []
    previous = 0
    try:
        for row in reader:
            line, previous = previous + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = row
                titles = [cell.strip() for cell in row]
                columns = _csv_columns(row, line, ctx)
                continue
            _csv_record(row, line, columns, titles, ctx)
    except csv.Error as exc:
        start = previous + 1
        if "unexpected end of data" in str(exc):
            ctx.out.add(start, "a quoted cell that starts in this row is never closed")
        elif "field larger than field limit" in str(exc):
            ctx.out.add(start, f"a cell is longer than {csv.field_size_limit():,} characters")
        else:
            ctx.out.add(start, f"the CSV cannot be read ({exc})")


def _csv_record(
    row: list[str],
    line: int,
    columns: list[tuple[str, str] | None],
    titles: list[str],
    ctx: _Ctx,
) -> None:
    extra = row[len(columns) :]
    if any(cell.strip() for cell in extra):
        ctx.out.add(line, f"{len(row)} cells, but the header has {len(columns)} columns")
    fields: dict[str, tuple[str, Any]] = {}
    var_cells: dict[str, tuple[str, str]] = {}
    for index, (column, cell) in enumerate(zip(columns, row, strict=False), 1):
        value = _csv_unescape(cell)
        if column is None:
            if value.strip():
                ctx.out.add(line, f"column {index} has no header, but this row has a value in it")
            continue
        kind, target = column
        if kind == "field":
            fields[target] = (titles[index - 1], value)
        elif kind == "var" and value != "":
            var_cells[target] = (titles[index - 1], value)
    draft, failed = _build(fields, line, ctx, lambda title: f'column "{title}"')
    for name, (title, value) in var_cells.items():
        if name in draft.variables:
            ctx.out.add(line, f'variable "{name}" is set twice (column "{title}" and "variables")')
        draft.variables[name] = value
    ctx.finish(draft, check_prompt=not failed & {"prompt", "messages"})


# --------------------------------------------------------------------------- JSON Lines


def _json_lines(text: str, ctx: _Ctx) -> Iterator[tuple[int, dict]]:
    lines = [
        (number, raw.rstrip("\r"))
        for number, raw in enumerate(text.split("\n"), 1)  # not splitlines(): U+2028 is data
        if raw.strip()
    ]
    if len(lines) > MAX_CASES:
        raise _TooManyCases
    if lines and lines[0][1].lstrip().startswith("["):
        try:
            whole = json.loads(text)
        except (ValueError, RecursionError):
            whole = None
        if isinstance(whole, list):
            ctx.out.add(
                lines[0][0],
                "the file is one JSON array; expected JSON Lines (one JSON object per line)",
            )
            return
    for number, raw in lines:
        try:
            obj = _json_loads(raw)
        except ValueError as exc:
            ctx.out.add(number, str(exc))
            continue
        if not isinstance(obj, dict):
            ctx.out.add(number, f"expected a JSON object, found {_json_kind(obj)}")
            continue
        yield number, obj


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    return "true/false" if isinstance(value, bool) else "a number"


def _parse_jsonl(text: str, ctx: _Ctx) -> None:
    for line, obj in _json_lines(text, ctx):
        fields: dict[str, tuple[str, Any]] = {}
        unknown: list[str] = []
        for key, value in obj.items():
            if key not in _ALIASES:
                unknown.append(key)
                continue
            canon = _ALIASES[key]
            if canon is None:
                continue
            if canon == "prompt" and isinstance(value, list):
                canon = "messages"  # "input" may hold chat messages
            if canon in fields:
                ctx.out.add(line, f'"{fields[canon][0]}" and "{key}" are the same; keep one')
                continue
            fields[canon] = (key, value)
        if unknown:
            listed = ", ".join(f'"{key}"' for key in unknown)
            noun = "key" if len(unknown) == 1 else "keys"
            ctx.out.add(line, f"unknown {noun} {listed} (known keys: {_KNOWN_NAMES})")
        draft, failed = _build(fields, line, ctx, lambda key: f'"{key}"')
        ctx.finish(draft, check_prompt=not failed & {"prompt", "messages"})


def _parse_openai_evals(text: str, ctx: _Ctx) -> None:
    for line, obj in _json_lines(text, ctx):
        draft = CaseDraft(line=line)
        prompt_ok = True
        value = obj.get("input")
        if value is None:
            ctx.out.add(line, '"input" is missing')
            prompt_ok = False
        elif isinstance(value, list):
            try:
                draft.messages = _messages(value)
            except ValueError as exc:
                ctx.out.add(line, f'"input": {exc}')
                prompt_ok = False
        elif isinstance(value, str):
            draft.prompt = value
        else:
            ctx.out.add(line, '"input" must be text or a list of messages')
            prompt_ok = False
        ideal = obj.get("ideal")
        ideals = ideal if isinstance(ideal, list) else [] if ideal is None else [ideal]
        if all(isinstance(item, str) or _is_number(item) for item in ideals):
            ideals = [str(item) for item in ideals]
            draft.expected = ideals[0] if ideals else ""
            if len(ideals) > 1:
                draft.scorers = [{"type": "contains", "values": ideals, "mode": "any"}]
        else:
            ctx.out.add(line, '"ideal" must be text or a list of text')
        for key, item in obj.items():
            if key in ("input", "ideal"):
                continue
            try:
                name, scalar = _variable(key, item)
            except ValueError:
                continue  # metadata we do not keep (see the module docstring)
            draft.variables[name] = scalar
        ctx.finish(draft, check_prompt=prompt_ok)


# --------------------------------------------------------------------------- promptfoo YAML

_YAML_MAX_NODES = 2_000_000
_YAML_MAX_DEPTH = 100
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _YamlMap(dict):
    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _YamlList(list):
    line: int = 0
    item_lines: list[int]


class _YamlError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


_YamlBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlLoader(_YamlBase):  # type: ignore[misc, valid-type]
    """Safe loading with YAML 1.2 core scalars (as promptfoo's js-yaml reads them)."""

    yaml_implicit_resolvers: dict = {}
    yaml_constructors: dict = {}


def _construct_map(loader: SafeConstructor, node: MappingNode) -> Iterator[_YamlMap]:
    data = _YamlMap()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    for key_node, _value in node.value:
        if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
            continue
        if key_node.value in data.key_lines:
            raise ConstructorError(
                None, None, f'the key "{key_node.value}" appears twice', key_node.start_mark
            )
        data.key_lines[key_node.value] = key_node.start_mark.line + 1
    data.update(loader.construct_mapping(node))


def _construct_seq(loader: SafeConstructor, node: SequenceNode) -> Iterator[_YamlList]:
    data = _YamlList()
    data.line = node.start_mark.line + 1
    data.item_lines = [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


def _construct_int(loader: SafeConstructor, node: ScalarNode) -> int:
    value = str(loader.construct_scalar(node))
    digits = value.lstrip("+-")
    if len(digits) > 40:  # beyond any column; int() of thousands of digits is refused too
        raise ConstructorError(None, None, "an integer with more than 40 digits",
                               node.start_mark)  # fmt: skip
    if digits.startswith("0x"):
        return int(value, 16)
    if digits.startswith("0o"):
        return int(value.replace("0o", "", 1), 8)
    return int(value, 10)


def _construct_other(loader: SafeConstructor, node: Node) -> Any:
    message = f'the YAML tag "{node.tag}" is not supported'
    raise ConstructorError(None, None, message, node.start_mark)


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("merge", r"^(?:<<)$", "<"),
):
    _YamlLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), _first)
for _tag, _constructor in (
    ("null", SafeConstructor.construct_yaml_null),
    ("bool", SafeConstructor.construct_yaml_bool),
    ("int", _construct_int),
    ("float", SafeConstructor.construct_yaml_float),
    ("str", SafeConstructor.construct_yaml_str),
    ("seq", _construct_seq),
    ("map", _construct_map),
):
    _YamlLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _constructor)
_YamlLoader.add_constructor(None, _construct_other)


def _yaml_children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, SequenceNode):
        return node.value
    return []


def _check_yaml_size(root: Node) -> None:
    """Refuse alias bombs, cycles and deep nesting before anything walks the values."""
    # Fast path: without aliases every node is reached once and the file size bounds the count.
    seen: set[int] = set()
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > _YAML_MAX_DEPTH:
            raise _YamlError(node.start_mark.line + 1, "the YAML is nested too deeply")
        if id(node) in seen:
            _check_yaml_aliases(root)
            return
        seen.add(id(node))
        stack.extend((child, depth + 1) for child in _yaml_children(node))


def _check_yaml_aliases(root: Node) -> None:
    """Count the values aliases expand to (post-order, memoized per node) and find cycles."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            count = 1 + sum(sizes[id(child)] for child in _yaml_children(node))
            if count > _YAML_MAX_NODES:
                raise _YamlError(0, "the YAML expands to too many values (anchors and aliases)")
            sizes[key] = count
            continue
        if key in sizes:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in _yaml_children(node):
            if id(child) in on_path:
                raise _YamlError(node.start_mark.line + 1, "an alias refers to itself")
            if id(child) not in sizes:
                stack.append((child, False))


def _load_yaml(text: str) -> Any:
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_size(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc) from None
    except yaml.YAMLError as exc:
        raise _YamlError(0, f"not valid YAML ({exc})") from None
    except RecursionError:
        raise _YamlError(0, "the YAML is nested too deeply") from None
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.MarkedYAMLError) -> _YamlError:
    """Where the user should look: the problem, or where an unfinished construct began."""
    problem = exc.problem or "syntax error"
    mark = exc.problem_mark
    if exc.context and exc.context_mark:
        context_line = exc.context_mark.line + 1
        if mark is None or "end of stream" in problem:
            mark = exc.context_mark
        if exc.context.startswith("while") and mark.line + 1 != context_line:
            problem = f"{exc.context} that starts on line {context_line}, {problem}"
        else:
            problem = f"{exc.context}, {problem}"
    return _YamlError(mark.line + 1 if mark else 0, f"not valid YAML ({problem})")


def _plain(value: Any) -> Any:
    """Plain dicts and lists (depth is bounded by :func:`_check_yaml_size`)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


_TEMPLATE_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_PROMPT_VARS = ("prompt", "input", "question", "query")
_CODE_ASSERTS = {"javascript", "python", "ruby", "webhook"}


def _var_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _render(template: str, variables: Mapping[str, Scalar]) -> str:
    """``{{ var }}`` substitution only; anything else that looks like Nunjucks is refused."""
    if re.search(r"\{\{|\{%|\{#", _TEMPLATE_VAR.sub("", template)):
        raise ValueError(
            "uses template features beyond {{ var }} (filters, tags or comments), "
            "which are not supported"
        )
    missing = [name for name in _TEMPLATE_VAR.findall(template) if name not in variables]
    if missing:
        raise ValueError(f"uses {{{{ {missing[0]} }}}}, which the test's vars do not set")
    return _TEMPLATE_VAR.sub(lambda m: _var_text(variables[m.group(1)]), template)


def _one_text(value: Any, kind: str, variables: Mapping[str, Scalar]) -> str:
    if isinstance(value, str):
        return _render(value, variables)
    if _is_number(value):
        return str(value)
    raise ValueError(f'"{kind}" needs a text value')


def _text_list(value: Any, kind: str, variables: Mapping[str, Scalar]) -> list[str]:
    if isinstance(value, str):
        # promptfoo reads a string as comma-separated values, "quoted" ones may hold commas
        rendered = _render(value, variables)
        rows = csv.reader(io.StringIO(rendered), skipinitialspace=True)
        items = [cell.strip() for row in rows for cell in row if cell.strip()]
    elif isinstance(value, list):
        items = [_one_text(item, kind, variables) for item in value]
    else:
        items = []
    if not items:
        raise ValueError(f'"{kind}" needs a list of values')
    return items


def _number(value: Any, what: str, *, minimum: float = 0) -> float | int:
    if not _is_number(value) or not math.isfinite(value) or value < minimum:
        raise ValueError(f"{what} must be a number of at least {minimum:g}")
    return value


def _assert_spec(item: Any, variables: Mapping[str, Scalar]) -> dict:
    """One promptfoo assert as our scorer spec; ValueError says why it cannot be."""
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise ValueError('each assert must be a mapping with a "type"')
    kind: str = item["type"]
    base = kind.removeprefix("not-")
    if base in _CODE_ASSERTS:
        raise ValueError(f'assert type "{kind}" runs code on the server; not supported')
    if "transform" in item:
        raise ValueError(f'assert "{kind}" has a transform, which runs code; not supported')
    value = item.get("value")
    if isinstance(value, str) and value.startswith("file://"):
        raise ValueError(f'assert "{kind}" reads {value}, which is not available here')
    spec: dict[str, Any]
    if kind in ("equals", "starts-with"):
        if isinstance(value, dict | list):
            raise ValueError(f'"{kind}" with a JSON value is not supported')
        spec = {"type": kind.replace("-", "_"), "value": _one_text(value, kind, variables)}
    elif kind in ("contains", "icontains"):
        spec = {
            "type": "contains",
            "values": [_one_text(value, kind, variables)],
            "case_sensitive": kind == "contains",
        }
    elif kind in ("contains-any", "contains-all", "icontains-any", "icontains-all"):
        spec = {
            "type": "contains",
            "values": _text_list(value, kind, variables),
            "mode": kind.rsplit("-", 1)[1],
            "case_sensitive": not kind.startswith("i"),
        }
    elif kind in ("not-contains", "not-icontains"):
        spec = {
            "type": "not_contains",
            "values": [_one_text(value, kind, variables)],
            "case_sensitive": kind == "not-contains",
        }
    elif kind in ("not-contains-any", "not-icontains-any"):
        spec = {
            "type": "not_contains",
            "values": _text_list(value, kind, variables),
            "case_sensitive": kind == "not-contains-any",
        }
    elif kind in ("regex", "not-regex"):
        spec = {"type": "regex", "pattern": _one_text(value, kind, variables)}
        if kind == "not-regex":
            spec["expect_match"] = False
    elif kind == "is-json":
        if value is None:
            spec = {"type": "is_json"}
        elif isinstance(value, dict):
            spec = {"type": "json_schema", "schema": _plain(value)}
        else:
            raise ValueError('"is-json" value must be a JSON schema (a mapping)')
    elif kind == "latency":
        spec = {"type": "latency", "max_ms": _number(item.get("threshold"), '"latency" threshold')}
    elif kind in ("similar", "similar:cosine"):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, list):
            raise ValueError('"similar" with several values is not supported; use one value')
        threshold = item.get("threshold", 0.75)
        spec = {
            "type": "similarity",
            "value": _one_text(value, kind, variables),
            "threshold": _number(threshold, '"similar" threshold'),
        }
    elif kind == "llm-rubric":
        spec = {"type": "llm_judge", "rubric": _one_text(value, kind, variables)}
        if item.get("threshold") is not None:
            spec["threshold"] = _number(item["threshold"], '"llm-rubric" threshold')
    elif kind in ("is-refusal", "not-is-refusal"):
        spec = {"type": "refusal", "expected": kind == "is-refusal"}
    else:
        raise ValueError(f'assert type "{kind}" is not supported')
    if item.get("weight") is not None:
        spec["weight"] = _number(item["weight"], '"weight"')
    if item.get("metric") is not None:
        spec["label"] = _one_text(item["metric"], "metric", variables)
    return spec


def _yaml_vars(value: Any) -> dict[str, Scalar]:
    if value is None:
        return {}
    if isinstance(value, str) and value.startswith("file://"):
        raise ValueError(f"reads {value}, which is not available here; write the vars inline")
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of names to values")
    for name, item in value.items():
        if isinstance(item, list):
            raise ValueError(
                f'"{name}" is a list; promptfoo would run the test once per item, which is '
                "not supported here: write one test per value"
            )
        if isinstance(item, str) and item.startswith("file://"):
            raise ValueError(f'"{name}" reads {item}, which is not available here')
    return _variables(value)


def _code_options(options: Any) -> str | None:
    if isinstance(options, dict):
        for key in ("transform", "postprocess"):
            if options.get(key) is not None:
                return f"options.{key} runs code on the server; not supported"
    return None


class _PromptfooFile:
    """What every test of one promptfoo file shares: the template and the defaultTest."""

    def __init__(self, doc: Any, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.template: str | None = None
        self.no_template = "the file has no prompts: template"
        self.default_vars: dict[str, Scalar] = {}
        self.default_asserts: list[tuple[int, Any]] = []
        self.default_threshold: Any = None
        self.default_metadata: dict = {}
        if isinstance(doc, dict):
            self._read_prompts(doc.get("prompts"))
            self._read_default(doc, doc.get("defaultTest"))

    def _read_prompts(self, prompts: Any) -> None:
        if prompts is None:
            return
        items = prompts if isinstance(prompts, list) else [prompts]
        if len(items) != 1:
            self.no_template = f"the file has {len(items)} prompts: templates"
            return
        item = items[0]
        if isinstance(item, dict):
            item = item.get("raw")
        if not isinstance(item, str):
            self.no_template = "the prompts: template is not text"
        elif item.startswith("file://"):
            self.no_template = f"the prompts: template is a file ({item}), not available here"
        else:
            self.template = item

    def _read_default(self, doc: _YamlMap, default: Any) -> None:
        if default is None:
            return
        line = doc.line_of("defaultTest")
        if not isinstance(default, dict):
            self.ctx.out.add(line, "defaultTest must be a mapping")
            return
        try:
            self.default_vars = _yaml_vars(default.get("vars"))
        except ValueError as exc:
            self.ctx.out.add(default.line_of("vars"), f"defaultTest vars: {exc}")
        asserts = default.get("assert")
        if isinstance(asserts, _YamlList):
            self.default_asserts = list(zip(asserts.item_lines, asserts, strict=True))
        elif asserts is not None:
            self.ctx.out.add(default.line_of("assert"), "defaultTest assert must be a list")
        problem = _code_options(default.get("options"))
        if problem:
            self.ctx.out.add(default.line_of("options"), f"defaultTest {problem}")
        self.default_threshold = default.get("threshold")
        metadata = default.get("metadata")
        if isinstance(metadata, dict):
            self.default_metadata = metadata

    def test(self, item: Any, line: int) -> None:
        out = self.ctx.out
        if isinstance(item, str) and item.startswith("file://"):
            out.add(line, f"tests from {item} are not available here; upload that file instead")
            return
        if not isinstance(item, dict):
            out.add(line, "each test must be a mapping (description, vars, assert)")
            return
        draft = CaseDraft(line=line)
        try:
            draft.name = _name(item.get("description"))
        except ValueError as exc:
            out.add(line, f"description: {exc}")
        variables = dict(self.default_vars)
        try:
            variables.update(_yaml_vars(item.get("vars")))
        except ValueError as exc:
            out.add(line, f"vars: {exc}")
        draft.variables = variables
        prompt_ok = self._prompt(draft, variables, line)
        asserts = item.get("assert")
        pairs = list(self.default_asserts)
        if isinstance(asserts, _YamlList):
            pairs += list(zip(asserts.item_lines, asserts, strict=True))
        elif asserts is not None:
            out.add(line, "assert must be a list")
        for assert_line, assert_item in pairs:
            try:
                draft.scorers.append(_assert_spec(assert_item, variables))
            except ValueError as exc:
                out.add(assert_line, str(exc))
        problem = _code_options(item.get("options"))
        if problem:
            out.add(line, problem)
        threshold = item.get("threshold", self.default_threshold)
        try:
            draft.pass_threshold = _threshold(threshold)
        except ValueError as exc:
            out.add(line, f"threshold: {exc}")
        metadata = item.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            out.add(line, "metadata must be a mapping")
            metadata = None
        metadata = {**self.default_metadata, **(metadata or {})}
        for key, attr, convert in (
            ("tags", "tags", _tags),
            ("requirements", "requirement_keys", _requirements),
            ("must_escalate", "must_escalate", _yes_no),
        ):
            try:
                setattr(draft, attr, convert(metadata.get(key)))
            except ValueError as exc:
                out.add(line, f"metadata.{key}: {exc}")
        self.ctx.finish(draft, check_prompt=prompt_ok)

    def _prompt(self, draft: CaseDraft, variables: dict[str, Scalar], line: int) -> bool:
        """Set the prompt; False when a problem about it was already reported."""
        for name in _PROMPT_VARS:
            if name in variables:
                draft.prompt = _var_text(variables[name])
                return True
        if self.template is None:
            self.ctx.out.add(
                line,
                "the test has no prompt: set vars.prompt (or input, question, query), "
                f"or give the file exactly one prompts: template ({self.no_template})",
            )
            return False
        try:
            draft.prompt = _render(self.template, variables)
        except ValueError as exc:
            self.ctx.out.add(line, f"the prompts: template {exc}")
            return False
        return True


def _parse_promptfoo(text: str, ctx: _Ctx) -> None:
    try:
        doc = _load_yaml(text)
    except _YamlError as exc:
        ctx.out.add(exc.line, exc.message)
        return
    if doc is None:
        return
    if isinstance(doc, dict):
        if "tests" not in doc:
            ctx.out.add(doc.line, 'no "tests:" list in the file')
            return
        tests = doc["tests"]
        if isinstance(tests, str):
            ctx.out.add(
                doc.line_of("tests"),
                f"tests from {tests} are not available here; upload that file instead",
            )
            return
        if tests is None:
            return
        if not isinstance(tests, _YamlList):
            ctx.out.add(doc.line_of("tests"), "tests: must be a list")
            return
    elif isinstance(doc, _YamlList):
        tests = doc
    else:
        ctx.out.add(1, "expected a list of tests, or a mapping with a tests: list")
        return
    if len(tests) > MAX_CASES:
        raise _TooManyCases
    shared = _PromptfooFile(doc, ctx)
    for line, item in zip(tests.item_lines, tests, strict=True):
        shared.test(item, line)


_PARSERS: dict[str, Callable[[str, _Ctx], None]] = {
    "csv": _parse_csv,
    "jsonl": _parse_jsonl,
    "promptfoo": _parse_promptfoo,
    "openai_evals": _parse_openai_evals,
}


# --------------------------------------------------------------------------- export


def _case_values(case: Any) -> dict[str, Any]:
    """CaseDraft field values of a mapping (or a CaseDraft), with defaults for what is missing."""
    if is_dataclass(case) and not isinstance(case, type):
        case = asdict(case)
    defaults = asdict(CaseDraft())
    values = {name: case.get(name) for name in defaults}
    for name, default in defaults.items():
        if values[name] is None:
            values[name] = default
    values["key"] = case.get("key") or ""
    return values


def export_csv(cases: Iterable[Mapping]) -> str:
    """Cases as CSV text with :data:`CSV_COLUMNS`; cells that look like formulas are guarded."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for case in cases:
        values = _case_values(case)
        cells = {
            "key": str(values["key"]),
            "name": values["name"],
            "prompt": values["prompt"],
            "messages": _json_dump(values["messages"]) if values["messages"] else "",
            "variables": _json_dump(values["variables"]) if values["variables"] else "",
            "expected": values["expected"],
            "expected_behavior": values["expected_behavior"],
            "context": values["context"],
            "tags": "; ".join(values["tags"]),
            "requirements": "; ".join(values["requirement_keys"]),
            "must_escalate": "yes" if values["must_escalate"] else "no",
            "scorers": _json_dump(values["scorers"]) if values["scorers"] else "",
            "pass_threshold": (
                "" if values["pass_threshold"] is None else repr(float(values["pass_threshold"]))
            ),
        }
        writer.writerow([_csv_escape(cells[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


def export_jsonl(cases: Iterable[Mapping]) -> str:
    """Cases as JSON Lines; empty fields are left out."""
    lines = []
    for case in cases:
        values = _case_values(case)
        record: dict[str, Any] = {}
        if values["key"]:
            record["key"] = str(values["key"])
        record["name"] = values["name"]
        if values["prompt"] or not values["messages"]:
            record["prompt"] = values["prompt"]
        for name in (
            "messages",
            "variables",
            "expected",
            "expected_behavior",
            "context",
            "tags",
            "requirement_keys",
            "must_escalate",
            "scorers",
        ):
            if values[name]:
                record[name] = values[name]
        if values["pass_threshold"] is not None:
            record["pass_threshold"] = values["pass_threshold"]
        lines.append(_json_dump(record) + "\n")
    return "".join(lines)


def _json_dump(value: Any) -> str:
    # U+2028/2029 are line breaks to str.splitlines() and some JSONL readers: escape them.
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
