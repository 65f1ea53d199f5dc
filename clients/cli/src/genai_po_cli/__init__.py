"""genai-po: the command-line client of the evals API, made for CI jobs (standard library only)."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import ipaddress
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any, TextIO

# Exit codes follow promptfoo: 100 means "it ran, but the quality bar was not met".
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_PENDING = 3  # `eval status` only: the run is still queued or running
EXIT_THRESHOLDS_NOT_MET = 100  # also `release gate`: blocked or short of evidence
EXIT_INTERRUPTED = 130

REQUEST_TIMEOUT = 30  # seconds, for each HTTP request
GET_RETRIES = 3
RETRY_BACKOFF = (1.0, 2.0, 4.0)  # seconds before retry 1, 2, 3
RETRY_STATUSES = frozenset({502, 503, 504})
LOG_PROGRESS_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})

ENV_URL = "GENAI_PO_URL"
ENV_TOKEN = "GENAI_PO_TOKEN"  # noqa: S105 - the variable's name, not a secret


def _version() -> str:
    try:
        return metadata.version("genai-po-cli")
    except metadata.PackageNotFoundError:
        return "0+unknown"


VERSION = _version()
USER_AGENT = f"genai-po-cli/{VERSION}"


class CLIError(Exception):
    """A failure to report on stderr in one sentence; the command exits 1."""


class ApiError(CLIError):
    """The server answered with an HTTP error."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would follow a redirect with the Authorization header to any host, and turn a
    # POST into a GET: a redirect here always means GENAI_PO_URL is wrong (http vs https).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# --------------------------------------------------------------------------- HTTP


class Client:
    """Talks JSON to the API with the bearer token; retries GETs, never POSTs."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        warn: Callable[[str], None] | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.sleep = sleep
        self.warn = warn or (lambda message: print(message, file=sys.stderr))
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:  # the token stays out of tracebacks and debuggers' output
        return f"Client({self.base_url!r})"

    # -- the API

    def start_run(self, plan_id: int, *, label: str, ci: dict[str, Any]) -> dict:
        body: dict[str, Any] = {}
        if label:
            body["label"] = label
        if ci:
            body["ci_metadata"] = ci
        path = f"/api/v1/eval-plans/{plan_id}/runs/"
        return _check_run(self.post_json(path, body, not_found=f"plan {plan_id} not found"))

    def get_run(self, run_id: int) -> dict:
        path = f"/api/v1/eval-runs/{run_id}/"
        return _check_run(self.get_json(path, not_found=f"run {run_id} not found"))

    def get_junit(self, run_id: int) -> bytes:
        return self._get(
            f"/api/v1/eval-runs/{run_id}/junit.xml",
            accept="application/xml",
            not_found=f"no JUnit report for run {run_id}",
        )

    def upload_results(self, plan_id: int, body: bytes, *, label: str) -> dict:
        query = urllib.parse.urlencode({"label": label}) if label else ""
        path = f"/api/v1/eval-plans/{plan_id}/external-runs/" + (f"?{query}" if query else "")
        raw = self._send(
            "POST",
            path,
            body=body,
            content_type="application/x-ndjson",
            not_found=f"plan {plan_id} not found",
        )
        return _check_run(_parse_json(raw))

    # -- plumbing

    def get_json(self, path: str, *, not_found: str = "") -> dict:
        return _parse_json(self._get(path, not_found=not_found))

    def post_json(self, path: str, data: dict, *, not_found: str = "") -> dict:
        raw = self._send(
            "POST",
            path,
            body=json.dumps(data).encode(),
            content_type="application/json",
            not_found=not_found,
        )
        return _parse_json(raw)

    def _get(self, path: str, *, accept: str = "application/json", not_found: str = "") -> bytes:
        # GETs are idempotent: a dropped connection or a gateway error while polling is retried.
        for attempt in range(GET_RETRIES + 1):
            try:
                return self._send("GET", path, accept=accept, not_found=not_found)
            except _Transient as exc:
                if attempt == GET_RETRIES:
                    raise CLIError(str(exc)) from None
                delay = RETRY_BACKOFF[attempt]
                self.warn(f"{exc}; retrying in {delay:g} s ({attempt + 1}/{GET_RETRIES})")
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "",
        accept: str = "application/json",
        not_found: str = "",
    ) -> bytes:
        url = self.base_url + path
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": accept,
            "User-Agent": USER_AGENT,
        }
        if content_type:
            headers["Content-Type"] = content_type
        # The scheme was checked to be http(s) in _base_url().
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                payload = exc.read()
            if exc.code in RETRY_STATUSES:
                raise _Transient(f"{method} {url}: HTTP {exc.code}") from None
            raise _http_error(exc.code, exc.reason, payload, exc.headers, not_found) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            message = f"{method} {url}: cannot reach the server ({reason})"
            if method == "POST":
                message += (
                    "; if the request got through, the run exists: check before starting another"
                )
            raise _Transient(message) from None


class _Transient(CLIError):
    """A connection error or a gateway error: worth retrying when the request is a GET."""


def _check_run(run: dict) -> dict:
    if not isinstance(run.get("id"), int) or run.get("status") is None:
        raise CLIError("the server's answer is not an eval run; check GENAI_PO_URL")
    return run


def _parse_json(raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        raise CLIError("the server's answer is not JSON; check GENAI_PO_URL") from None
    if not isinstance(data, dict):
        raise CLIError("the server's answer is not a JSON object; check GENAI_PO_URL")
    return data


def _http_error(status: int, reason: str, payload: bytes, headers, not_found: str) -> ApiError:
    if 300 <= status < 400:
        location = headers.get("Location", "") if headers else ""
        return ApiError(
            f"the server redirected to {location or 'another address'} (HTTP {status}); "
            f"set {ENV_URL} to the address it redirects to",
            status=status,
        )
    body: Any = None
    with contextlib.suppress(ValueError):
        body = json.loads(payload)
    message = body.get("message") if isinstance(body, dict) else None
    if status == 404 and not_found:
        # The server's 404 is generic on purpose (not yours looks like not there); say what.
        message = f"{not_found} (or not visible to this token's organization)"
    if not message:
        message = {
            401: f"the token was refused; check {ENV_TOKEN}",
            403: "the token may not do this (it needs the evals:run scope)",
            404: not_found or "not found",
        }.get(status, reason or "request failed")
    lines = [f"{message} (HTTP {status})"]
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        for field, problems in errors.items():
            texts = problems if isinstance(problems, list) else [problems]
            for text in texts:
                lines.append(f"  {field}: {text}")
    return ApiError("\n".join(lines), status=status)


# --------------------------------------------------------------------------- output


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _pct_pair(actual: float | None, required: float | None) -> tuple[str, str]:
    """Both as percentages, with enough decimals that a miss never reads as equal."""
    digits = 1
    while digits < 4 and _pct(actual, digits) == _pct(required, digits) and actual != required:
        digits += 1
    return _pct(actual, digits), _pct(required, digits)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def progress_line(run: dict) -> str:
    line = (
        f"Run #{run.get('number', '?')} {run.get('status', '?')}: "
        f"{run.get('done_items', 0)}/{run.get('total_items', 0)} done · "
        f"{run.get('passed', 0)} passed · {run.get('failed', 0)} failed · "
        f"{run.get('errored', 0)} errors"
    )
    eta = run.get("eta_seconds")
    if eta is not None and run.get("status") == "running":
        line += f" · ETA {_duration(eta)}"
    return line


def summary(run: dict) -> str:
    status = run.get("status", "?")
    lines = [f"Run #{run.get('number', '?')} (id {run.get('id', '?')}): {status}"]
    if status == "completed":
        actual, required = _pct_pair(run.get("pass_rate"), run.get("pass_threshold"))
        verdict = {True: "met", False: "NOT met"}.get(run.get("thresholds_met"), "unknown")
        lines.append(f"Pass rate: {actual} (threshold {required}) · thresholds {verdict}")
    lines.append(
        f"Results: {run.get('passed', 0)} passed · {run.get('failed', 0)} failed · "
        f"{run.get('errored', 0)} errors · {run.get('done_items', 0)}/"
        f"{run.get('total_items', 0)} done"
    )
    missed = [t for t in run.get("threshold_report") or [] if t.get("met") is False]
    if missed:
        lines.append("Thresholds not met:")
        for item in missed:
            scope = item.get("scope", "")
            name = scope if scope == "overall" or not item.get("key") else f"{scope} {item['key']}"
            actual, required = _pct_pair(item.get("actual"), item.get("required"))
            lines.append(f"  - {name}: {actual} < required {required}")
    if run.get("error"):
        lines.append(f"Error: {run['error']}")
    if run.get("url"):
        lines.append(f"Run: {run['url']}")
    return "\n".join(lines)


def exit_code_for(run: dict) -> int:
    """0 completed and thresholds met, 100 completed and not met, 1 otherwise."""
    if run.get("status") != "completed":
        return EXIT_ERROR
    met = run.get("thresholds_met")
    if met is True:
        return EXIT_OK
    if met is False:
        return EXIT_THRESHOLDS_NOT_MET
    return EXIT_ERROR  # fail closed: a completed run without a verdict is not a pass


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """A rewritten line on a terminal; in CI logs, a line on changes, every 10 s at most."""

    def __init__(self, stream: TextIO, clock: Callable[[], float]):
        self.stream = stream
        self.clock = clock
        self.tty = _is_tty(stream)
        self._width = 0  # of the line being rewritten on a terminal
        self._last_key: tuple | None = None
        self._last_at: float | None = None

    def update(self, run: dict) -> None:
        line = progress_line(run)
        if self.tty:
            pad = " " * max(0, self._width - len(line))
            self.stream.write(f"\r{line}{pad}")
            self.stream.flush()
            self._width = len(line)
            return
        key = tuple(
            run.get(k)
            for k in ("status", "total_items", "done_items", "passed", "failed", "errored")
        )
        now = self.clock()
        if key == self._last_key:
            return
        final = run.get("status") in TERMINAL_STATUSES
        if not final and self._last_at is not None and now - self._last_at < LOG_PROGRESS_EVERY:
            return
        print(line, file=self.stream, flush=True)
        self._last_key, self._last_at = key, now

    def note(self, message: str) -> None:
        self.end()
        print(message, file=self.stream, flush=True)

    def end(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


# --------------------------------------------------------------------------- commands


def ci_metadata(env: Mapping[str, str]) -> dict[str, Any]:
    """What the CI environment says about this build (GitHub Actions, or a generic CI=true)."""
    meta: dict[str, Any] = {}
    if env.get("GITHUB_ACTIONS") == "true":
        meta["provider"] = "github-actions"
    for key, var in (
        ("commit", "GITHUB_SHA"),
        ("ref", "GITHUB_REF_NAME"),
        ("head_ref", "GITHUB_HEAD_REF"),
        ("repository", "GITHUB_REPOSITORY"),
        ("run_id", "GITHUB_RUN_ID"),
    ):
        if value := env.get(var, "").strip():
            meta[key] = value
    server = env.get("GITHUB_SERVER_URL", "").strip().rstrip("/")
    if server and meta.get("repository") and meta.get("run_id"):
        meta["run_url"] = f"{server}/{meta['repository']}/actions/runs/{meta['run_id']}"
    if meta or env.get("CI", "").strip().lower() in ("true", "1"):
        meta["ci"] = True
    return meta


def _base_url(args: argparse.Namespace, env: Mapping[str, str], warn) -> str:
    url = (args.url or env.get(ENV_URL, "")).strip()
    if not url:
        raise CLIError(f"set {ENV_URL} (e.g. https://genai-po.example.com) or pass --url")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CLIError(f"{ENV_URL} must be an http:// or https:// address, not {url!r}")
    if parts.username or parts.password:
        raise CLIError(f"{ENV_URL} must not carry credentials; the token goes in {ENV_TOKEN}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        warn(f"warning: {url} is plain http; the token travels unencrypted")
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token(env: Mapping[str, str]) -> str:
    token = env.get(ENV_TOKEN, "").strip()  # secrets pasted with a trailing newline still work
    if not token:
        raise CLIError(
            f"set {ENV_TOKEN} to an API token with the evals:run scope "
            "(Settings → API tokens); it is never accepted as an argument"
        )
    return token


def _write_junit(client: Client, run: dict, path: str) -> None:
    xml = client.get_junit(run["id"])
    try:
        with open(path, "wb") as fh:
            fh.write(xml)
    except OSError as exc:
        raise CLIError(f"cannot write the JUnit report to {path}: {exc.strerror}") from None
    print(f"JUnit report written to {path}", file=sys.stderr)


def _finish(client: Client, run: dict, junit: str | None) -> int:
    code = exit_code_for(run)
    print(summary(run), flush=True)  # first: the verdict shows even if the report can't be had
    if junit:
        try:
            _write_junit(client, run, junit)
        except ApiError as exc:
            # A failed or cancelled run may have no report; the run's own outcome is the news.
            if run.get("status") == "completed":
                raise
            print(f"warning: {exc}", file=sys.stderr)
    return code


def _wait(client: Client, run: dict, *, timeout: float, poll: float, clock) -> dict:
    progress = Progress(sys.stderr, clock)
    client.warn = progress.note
    deadline = clock() + timeout
    try:
        while True:
            progress.update(run)
            if run.get("status") in TERMINAL_STATUSES:
                return run
            if clock() >= deadline:
                raise CLIError(
                    f"gave up waiting after {_duration(timeout)}: run #{run.get('number')} is "
                    f"still {run.get('status')} on the server ({run.get('url', '')})"
                )
            client.sleep(min(poll, deadline - clock()))  # the last check falls on the deadline
            run = client.get_run(run["id"])
    finally:
        progress.end()


def cmd_run(args, client: Client, env: Mapping[str, str], clock) -> int:
    run = client.start_run(args.plan, label=args.label, ci=ci_metadata(env))
    print(
        f"Run #{run.get('number')} {run.get('status')} for plan {args.plan}: {run.get('url')}",
        file=sys.stderr,
    )
    if not args.wait:
        # key=value lines: readable, and fit for `>> "$GITHUB_OUTPUT"`.
        print(f"id={run.get('id')}\nnumber={run.get('number')}\nstatus={run.get('status')}")
        print(f"url={run.get('url', '')}")
        return EXIT_OK
    run = _wait(client, run, timeout=args.timeout, poll=args.poll, clock=clock)
    return _finish(client, run, args.junit)


def cmd_status(args, client: Client, env: Mapping[str, str], clock) -> int:
    run = client.get_run(args.run_id)
    if run.get("status") not in TERMINAL_STATUSES:
        print(progress_line(run))
        if run.get("url"):
            print(f"Run: {run['url']}")
        return EXIT_PENDING
    print(summary(run))
    return exit_code_for(run)


def cmd_upload(args, client: Client, env: Mapping[str, str], clock) -> int:
    try:
        if args.results == "-":
            body = sys.stdin.buffer.read()
        else:
            with open(args.results, "rb") as fh:
                body = fh.read()
    except OSError as exc:
        raise CLIError(f"cannot read {args.results}: {exc.strerror}") from None
    if not body.strip():
        raise CLIError(f"{args.results} is empty: expected one JSON result per line")
    run = client.upload_results(args.plan, body, label=args.label)
    return _finish(client, run, args.junit)


GATE_VERDICTS = ("ready", "blocked", "insufficient_evidence")


def gate_report(gate: dict) -> str:
    """The gate as lines for a CI log: the verdict, then each blocker and where to fix it."""
    verdict = gate.get("verdict")
    lines = [
        f"{gate.get('release', 'release')}: {str(verdict).replace('_', ' ')} "
        f"({gate.get('sign_offs_fresh', 0)} of {gate.get('sign_offs_required', 0)} sign-offs)"
    ]
    for blocker in gate.get("blockers") or []:
        state = (
            "insufficient evidence"
            if blocker.get("state") == "insufficient_evidence"
            else "blocked"
        )
        line = f"  - [{state}] {blocker.get('message', '')}"
        if blocker.get("url"):
            line += f"\n      resolve: {blocker['url']}"
        lines.append(line)
    return "\n".join(lines)


def cmd_release_gate(args, client: Client, env: Mapping[str, str], clock) -> int:
    gate = client.get_json(
        f"/api/v1/releases/{args.release}/gate/", not_found=f"release {args.release} not found"
    )
    if gate.get("verdict") not in GATE_VERDICTS:
        raise CLIError("the server's answer is not a release gate; check GENAI_PO_URL")
    print(gate_report(gate))
    return EXIT_OK if gate["verdict"] == "ready" else EXIT_THRESHOLDS_NOT_MET


# --------------------------------------------------------------------------- arguments


class _Parser(argparse.ArgumentParser):
    # Usage errors exit 1 like every other error, so CI sees one "error" code (100 stays
    # "thresholds not met").
    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def _id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not an id: {text!r}")
    return int(text)


ENV_HELP = f"""\
environment:
  {ENV_URL}     the workspace's address, e.g. https://genai-po.example.com (--url overrides)
  {ENV_TOKEN}   an API token with the evals:run scope (Settings → API tokens). It is read
                   only from the environment, never from an argument: arguments end up
                   in shell history and process lists.

exit codes:
  0    the run completed and its thresholds are met (or, without --wait, it was accepted)
  100  the run completed and its thresholds are not met
  1    any error: bad arguments, HTTP error, run failed or cancelled, timeout while waiting
  3    eval status only: the run is still queued or running
  release gate: 0 ready, 100 blocked or insufficient evidence, 1 on any error
  130  interrupted (Ctrl-C); a started run goes on on the server
"""


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"the workspace's address (default: ${ENV_URL})")

    parser = _Parser(
        prog="genai-po",
        description="Run a GenAI PO Workspace eval plan from CI and gate the build on it.",
        epilog=ENV_HELP,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    # Subparsers are built as _Parser too (argparse uses the parent's class).
    groups = parser.add_subparsers(dest="group", required=True, metavar="{eval,release}")
    evals = groups.add_parser(
        "eval", help="run eval plans and read their results", epilog=ENV_HELP, formatter_class=fmt
    )
    commands = evals.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        parents=[common],
        help="start a run of an eval plan",
        description="Start a run of an eval plan; with --wait, follow it and exit by its result.",
        epilog=ENV_HELP,
        formatter_class=fmt,
    )
    run.add_argument("--plan", type=_id, required=True, help="the eval plan's id")
    run.add_argument("--wait", action="store_true", help="wait for the run to finish")
    run.add_argument("--junit", metavar="PATH", help="with --wait: write the JUnit XML report")
    run.add_argument("--label", default="", help="e.g. a branch or commit, shown on the run")
    run.add_argument(
        "--timeout",
        type=_positive,
        default=1800,
        metavar="SECONDS",
        help="with --wait: give up after this long (default: 1800); the run goes on",
    )
    run.add_argument(
        "--poll",
        type=_positive,
        default=2,
        metavar="SECONDS",
        help="with --wait: seconds between status checks (default: 2)",
    )
    run.set_defaults(handler=cmd_run)

    status = commands.add_parser(
        "status",
        parents=[common],
        help="show a run's status and results",
        epilog=ENV_HELP,
        formatter_class=fmt,
    )
    status.add_argument("run_id", type=_id, metavar="RUN_ID", help="the run's id")
    status.set_defaults(handler=cmd_status)

    upload = commands.add_parser(
        "upload",
        parents=[common],
        help="upload results computed elsewhere (JSON Lines) as a completed run",
        epilog=ENV_HELP,
        formatter_class=fmt,
    )
    upload.add_argument("--plan", type=_id, required=True, help="the eval plan's id")
    upload.add_argument("results", metavar="RESULTS.jsonl", help="one result per line; - for stdin")
    upload.add_argument("--label", default="", help="e.g. a branch or commit, shown on the run")
    upload.add_argument("--junit", metavar="PATH", help="write the JUnit XML report")
    upload.set_defaults(handler=cmd_upload)

    release = groups.add_parser(
        "release", help="ask a release's gate before deploying", epilog=ENV_HELP,
        formatter_class=fmt,
    )  # fmt: skip
    release_commands = release.add_subparsers(dest="command", required=True)
    gate = release_commands.add_parser(
        "gate",
        parents=[common],
        help="exit 0 when the release is ready, 100 when blocked or short of evidence",
        description="Ask the release gate (a token with the read scope): the verdict, and "
        "each blocker with the page where it is resolved.",
        epilog=ENV_HELP,
        formatter_class=fmt,
    )
    gate.add_argument("release", type=_id, metavar="RELEASE", help="the release's number (REL-n)")
    gate.set_defaults(handler=cmd_release_gate)

    return parser


def main(
    argv: list[str] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """The console script; `sleep` and `clock` are there for tests."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    if args.command == "run" and args.junit and not args.wait:
        print("genai-po: error: --junit needs --wait", file=sys.stderr)
        return EXIT_ERROR

    def warn(message: str) -> None:
        print(message, file=sys.stderr)

    env = os.environ
    try:
        client = Client(_base_url(args, env, warn), _token(env), sleep=sleep, warn=warn)
        return args.handler(args, client, env, clock)
    except CLIError as exc:
        print(f"genai-po: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\ngenai-po: interrupted; a started run goes on on the server", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
