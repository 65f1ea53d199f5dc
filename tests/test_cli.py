"""The genai-po command-line client, run in-process against a fake API on a local port."""

import io
import json
import os
import socket
import subprocess
import sys
import threading
import tomllib
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import genai_po_cli as cli
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "gpo_test_5ecret_t0ken_value"
PLAN = 5
RUN_ID = 17
RUN_URL = f"http://workspace.test/o/acme/evals/runs/{RUN_ID}/"
JUNIT = b'<?xml version="1.0"?>\n<testsuites><testsuite name="plan 5" tests="4"/></testsuites>\n'


def run_json(status="running", done=0, passed=0, failed=0, errored=0, **extra):
    """A run as GET /api/v1/eval-runs/{id}/ returns it, four items, threshold 90 %."""
    finished = status in ("completed", "failed", "cancelled")
    data = {
        "id": RUN_ID,
        "number": 3,
        "plan": PLAN,
        "status": status,
        "total_items": 4,
        "done_items": done,
        "passed": passed,
        "failed": failed,
        "errored": errored,
        "pass_rate": passed / 4 if finished and status == "completed" else None,
        "pass_threshold": 0.9,
        "thresholds_met": None,
        "threshold_report": [],
        "eta_seconds": 12.0 if status == "running" else None,
        "error": "",
        "url": RUN_URL,
    }
    data.update(extra)
    return data


QUEUED = run_json("queued")
RUNNING = run_json("running", done=2, passed=2)
PASSED = run_json(
    "completed",
    done=4,
    passed=4,
    thresholds_met=True,
    threshold_report=[
        {"scope": "overall", "key": "", "required": 0.9, "actual": 1.0, "met": True},
    ],
)
NOT_MET = run_json(
    "completed",
    done=4,
    passed=3,
    failed=1,
    thresholds_met=False,
    threshold_report=[
        {"scope": "overall", "key": "", "required": 0.9, "actual": 0.75, "met": False},
        {"scope": "requirement", "key": "REQ-3", "required": 0.9, "actual": 0.85, "met": False},
        {"scope": "tag", "key": "refunds", "required": 0.5, "actual": 1.0, "met": True},
    ],
)


class FakeApi:
    """The evals API contract with scripted run states; records every request."""

    def __init__(self):
        self.requests: list[dict] = []
        self.states: list[dict] = [QUEUED, RUNNING, PASSED]  # served one per GET, last repeats
        self.uploaded_run = PASSED
        self.overrides: dict[tuple[str, str], list[tuple[int, object]]] = {}
        self.lock = threading.Lock()
        self.url = ""

    def fail(self, method: str, path: str, *responses: tuple[int, object]) -> None:
        """Answer the next requests to `path` with these (status, body) pairs first."""
        self.overrides.setdefault((method, path), []).extend(responses)

    def of(self, method: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method]

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, object]:
        parts = urllib.parse.urlsplit(path)
        with self.lock:
            self.requests.append(
                {
                    "method": method,
                    "path": parts.path,
                    "query": urllib.parse.parse_qs(parts.query),
                    "headers": dict(headers),
                    "body": body,
                }
            )
            queued = self.overrides.get((method, parts.path))
            if queued:
                return queued.pop(0)
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {"message": "Invalid token.", "code": "authentication_failed"}
            if method == "POST" and parts.path == f"/api/v1/eval-plans/{PLAN}/runs/":
                return 202, self.states[0]
            if method == "POST" and parts.path == f"/api/v1/eval-plans/{PLAN}/external-runs/":
                return 201, self.uploaded_run
            if method == "GET" and parts.path == f"/api/v1/eval-runs/{RUN_ID}/":
                state = self.states[1] if len(self.states) > 1 else self.states[0]
                if len(self.states) > 1:
                    self.states.pop(0)
                return 200, state
            if method == "GET" and parts.path == f"/api/v1/eval-runs/{RUN_ID}/junit.xml":
                return 200, JUNIT
            return 404, {"message": "Not found.", "code": "not_found"}


@pytest.fixture
def api():
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = fake.handle(self.command, self.path, self.headers, body)
            if isinstance(payload, bytes):
                data, kind = payload, "application/xml"
            else:
                data, kind = json.dumps(payload).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(monkeypatch, api):
    """The CLI's environment: the fake API and the token, and no CI variables of our own CI."""
    for name in list(os.environ):
        if name.startswith("GITHUB_") or name in ("CI", cli.ENV_URL, cli.ENV_TOKEN):
            monkeypatch.delenv(name)
    monkeypatch.setenv(cli.ENV_URL, api.url)
    monkeypatch.setenv(cli.ENV_TOKEN, TOKEN)
    return monkeypatch


class FakeTime:
    """A clock that moves only when the CLI sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def run_cli(env, fake_time, capsys):
    """main(argv) with the fake clock; returns (exit code, stdout, stderr)."""

    def run(*argv: str):
        code = cli.main(list(argv), sleep=fake_time.sleep, clock=fake_time.clock)
        out, err = capsys.readouterr()
        return code, out, err

    return run


WAIT = ("eval", "run", "--plan", str(PLAN), "--wait")


# --------------------------------------------------------------------------- exit codes


def test_run_wait_exits_0_when_the_run_completes_with_thresholds_met(run_cli, api):
    code, out, err = run_cli(*WAIT)

    assert code == 0
    assert out == (
        "Run #3 (id 17): completed\n"
        "Pass rate: 100.0% (threshold 90.0%) · thresholds met\n"
        "Results: 4 passed · 0 failed · 0 errors · 4/4 done\n"
        f"Run: {RUN_URL}\n"
    )
    assert [r["path"] for r in api.requests] == [
        f"/api/v1/eval-plans/{PLAN}/runs/",
        f"/api/v1/eval-runs/{RUN_ID}/",
        f"/api/v1/eval-runs/{RUN_ID}/",
    ]


def test_run_wait_exits_100_and_lists_the_thresholds_not_met(run_cli, api):
    api.states = [QUEUED, NOT_MET]

    code, out, _ = run_cli(*WAIT)

    assert code == 100
    assert "Pass rate: 75.0% (threshold 90.0%) · thresholds NOT met\n" in out
    assert (
        "Thresholds not met:\n"
        "  - overall: 75.0% < required 90.0%\n"
        "  - requirement REQ-3: 85.0% < required 90.0%\n"
        f"Run: {RUN_URL}\n"
    ) in out
    assert "refunds" not in out


def test_a_miss_by_a_hair_never_reads_as_equal_percentages(run_cli, api):
    report = [{"scope": "overall", "key": "", "required": 0.9, "actual": 0.8999, "met": False}]
    api.states = [QUEUED, {**NOT_MET, "threshold_report": report}]

    code, out, _ = run_cli(*WAIT)

    assert code == 100
    assert "  - overall: 89.99% < required 90.00%\n" in out


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_run_wait_exits_1_when_the_run_does_not_complete(run_cli, api, status):
    api.states = [QUEUED, RUNNING, run_json(status, done=2, passed=2, error="Target unreachable")]

    code, out, _ = run_cli(*WAIT)

    assert code == 1
    assert out.startswith(f"Run #3 (id 17): {status}\n")
    assert "Error: Target unreachable\n" in out


def test_a_completed_run_without_a_verdict_is_not_a_pass(run_cli, api):
    api.states = [QUEUED, run_json("completed", done=4, passed=4, thresholds_met=None)]

    code, out, _ = run_cli(*WAIT)

    assert code == 1
    assert "thresholds unknown" in out


def test_401_shows_the_servers_message_and_exits_1(run_cli, env):
    env.setenv(cli.ENV_TOKEN, "gpo_wrong")

    code, out, err = run_cli(*WAIT)

    assert code == 1
    assert out == ""
    assert "genai-po: error: Invalid token. (HTTP 401)\n" in err
    assert "gpo_wrong" not in err


def test_404_plan_says_which_plan(run_cli, api):
    code, out, err = run_cli("eval", "run", "--plan", "99", "--wait")

    assert code == 1
    assert (
        "genai-po: error: plan 99 not found "
        "(or not visible to this token's organization) (HTTP 404)\n"
    ) in err
    assert len(api.requests) == 1


def test_400_shows_the_message_and_the_field_errors(run_cli, api):
    api.fail(
        "POST",
        f"/api/v1/eval-plans/{PLAN}/runs/",
        (
            400,
            {
                "message": "The plan cannot run.",
                "code": "invalid",
                "errors": {"target": ["The plan has no target."], "label": "Too long."},
            },
        ),
    )

    code, _, err = run_cli(*WAIT)

    assert code == 1
    assert (
        "genai-po: error: The plan cannot run. (HTTP 400)\n"
        "  target: The plan has no target.\n"
        "  label: Too long.\n"
    ) in err


def test_an_answer_that_is_not_the_api_is_an_error(run_cli, api):
    api.fail("POST", f"/api/v1/eval-plans/{PLAN}/runs/", (202, b"<html>Welcome</html>"))
    api.fail("GET", f"/api/v1/eval-runs/{RUN_ID}/", (200, {"detail": "hello"}))

    started = run_cli(*WAIT)
    status = run_cli("eval", "status", str(RUN_ID))

    assert started[0] == status[0] == 1
    assert "genai-po: error: the server's answer is not JSON; check GENAI_PO_URL\n" in started[2]
    assert "the server's answer is not an eval run" in status[2]


def test_server_down_exits_1_without_retrying_the_post(run_cli, env, fake_time):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env.setenv(cli.ENV_URL, f"http://127.0.0.1:{port}")

    code, out, err = run_cli(*WAIT)

    assert code == 1
    assert out == ""
    assert "cannot reach the server" in err
    assert "the run exists: check before starting another" in err
    assert "retrying" not in err
    assert fake_time.sleeps == []


def test_waiting_gives_up_after_the_timeout_and_exits_1(run_cli, api, fake_time):
    api.states = [QUEUED, RUNNING]  # forever running

    code, out, err = run_cli(*WAIT, "--timeout", "7", "--poll", "2")

    assert code == 1
    assert out == ""
    assert f"gave up waiting after 7 s: run #3 is still running on the server ({RUN_URL})" in err
    assert fake_time.sleeps == [2, 2, 2, 1]  # the last check falls on the deadline
    assert len(api.of("GET")) == 4


# --------------------------------------------------------------------------- outputs


def test_junit_is_written_as_received(run_cli, api, tmp_path):
    target = tmp_path / "eval-results.xml"

    code, _, err = run_cli(*WAIT, "--junit", str(target))

    assert code == 0
    assert target.read_bytes() == JUNIT
    assert f"JUnit report written to {target}\n" in err
    junit_request = api.requests[-1]
    assert junit_request["path"] == f"/api/v1/eval-runs/{RUN_ID}/junit.xml"
    assert junit_request["headers"]["Accept"] == "application/xml"


def test_junit_is_written_when_thresholds_are_not_met_too(run_cli, api, tmp_path):
    api.states = [QUEUED, NOT_MET]
    target = tmp_path / "eval-results.xml"

    code, _, _ = run_cli(*WAIT, "--junit", str(target))

    assert code == 100
    assert target.read_bytes() == JUNIT


def test_a_missing_junit_report_fails_a_completed_run_but_not_its_summary(run_cli, api, tmp_path):
    junit = f"/api/v1/eval-runs/{RUN_ID}/junit.xml"
    api.fail("GET", junit, (404, {"message": "Not found."}))

    code, out, err = run_cli(*WAIT, "--junit", str(tmp_path / "r.xml"))

    assert code == 1
    assert out.startswith("Run #3 (id 17): completed\n")
    assert f"genai-po: error: no JUnit report for run {RUN_ID}" in err


def test_a_failed_run_without_junit_report_only_warns_about_it(run_cli, api, tmp_path):
    api.states = [QUEUED, run_json("failed", error="Target unreachable")]
    api.fail("GET", f"/api/v1/eval-runs/{RUN_ID}/junit.xml", (404, {"message": "Not found."}))

    code, _, err = run_cli(*WAIT, "--junit", str(tmp_path / "r.xml"))

    assert code == 1
    assert "warning: no JUnit report for run 17" in err
    assert "genai-po: error" not in err


def test_junit_needs_wait(run_cli, api, tmp_path):
    code, _, err = run_cli("eval", "run", "--plan", str(PLAN), "--junit", str(tmp_path / "x.xml"))

    assert code == 1
    assert "--junit needs --wait" in err
    assert api.requests == []


def test_without_wait_prints_the_id_and_url_and_exits_0(run_cli, api):
    code, out, err = run_cli("eval", "run", "--plan", str(PLAN))

    assert code == 0
    assert out == f"id=17\nnumber=3\nstatus=queued\nurl={RUN_URL}\n"
    assert f"Run #3 queued for plan {PLAN}: {RUN_URL}\n" in err
    assert api.of("GET") == []


def test_progress_lines_appear_on_stderr(run_cli, api):
    code, _, err = run_cli(*WAIT)

    assert code == 0
    progress = [line for line in err.splitlines() if " done · " in line]
    # "running" comes 2 s after "queued": within 10 s of the last line, so a CI log skips it;
    # the final state is always shown.
    assert progress == [
        "Run #3 queued: 0/4 done · 0 passed · 0 failed · 0 errors",
        "Run #3 completed: 4/4 done · 4 passed · 0 failed · 0 errors",
    ]


def test_progress_in_ci_logs_prints_changes_at_most_every_10_seconds(run_cli, api, fake_time):
    running = [
        run_json("running", done=n % 4, passed=n % 4, eta_seconds=30 - n) for n in range(1, 16)
    ]
    api.states = [QUEUED, *running, run_json("running", done=3, passed=3), PASSED]

    code, _, err = run_cli(*WAIT, "--poll", "2")

    assert code == 0
    progress = [line for line in err.splitlines() if " done · " in line]
    # Polls at t=0, 2, 4 … 34; a changed state is printed at t=0, 10, 20, 30, then the last one.
    assert progress == [
        "Run #3 queued: 0/4 done · 0 passed · 0 failed · 0 errors",
        "Run #3 running: 1/4 done · 1 passed · 0 failed · 0 errors · ETA 25 s",
        "Run #3 running: 2/4 done · 2 passed · 0 failed · 0 errors · ETA 20 s",
        "Run #3 running: 3/4 done · 3 passed · 0 failed · 0 errors · ETA 15 s",
        "Run #3 completed: 4/4 done · 4 passed · 0 failed · 0 errors",
    ]
    assert "\r" not in err


def test_progress_in_ci_logs_skips_unchanged_counts(run_cli, api):
    api.states = [QUEUED, *[run_json("running", done=1, passed=1)] * 12, PASSED]

    code, _, err = run_cli(*WAIT, "--poll", "5")

    assert code == 0
    progress = [line for line in err.splitlines() if " done · " in line]
    assert [line.split(":")[0] for line in progress] == [
        "Run #3 queued",
        "Run #3 running",
        "Run #3 completed",
    ]


def test_progress_on_a_terminal_rewrites_one_line(run_cli, api, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)

    code, _, _ = run_cli(*WAIT)

    assert code == 0
    written = terminal.getvalue()
    assert written.count("\r") == 3
    assert "\rRun #3 running: 2/4 done · 2 passed · 0 failed · 0 errors · ETA 12 s" in written
    assert "\rRun #3 completed: 4/4 done · 4 passed · 0 failed · 0 errors" in written
    assert written.count("\n") == 2  # after "queued for plan …", after the progress line
    assert written.endswith("0 errors         \n")  # padded over the longer "running" line


def test_progress_line_formats_long_etas():
    line = cli.progress_line(run_json("running", done=120, passed=117, failed=3, eta_seconds=3725))

    assert line == "Run #3 running: 120/4 done · 117 passed · 3 failed · 0 errors · ETA 1 h 2 min"


# --------------------------------------------------------------------------- environment


def test_missing_url_is_a_clear_error(run_cli, env, api):
    env.delenv(cli.ENV_URL)

    code, out, err = run_cli(*WAIT)

    assert code == 1
    assert out == ""
    assert "genai-po: error: set GENAI_PO_URL" in err
    assert api.requests == []


def test_url_option_overrides_the_environment(run_cli, env, api):
    good = api.url
    env.setenv(cli.ENV_URL, "http://127.0.0.1:9")

    code, _, _ = run_cli(*WAIT, "--url", good + "/")

    assert code == 0


def test_missing_token_is_a_clear_error(run_cli, env, api):
    env.delenv(cli.ENV_TOKEN)

    code, out, err = run_cli(*WAIT)

    assert code == 1
    assert "genai-po: error: set GENAI_PO_TOKEN to an API token with the evals:run scope" in err
    assert api.requests == []


def test_the_token_is_not_an_argument(run_cli, api):
    code, _, err = run_cli(*WAIT, "--token", TOKEN)

    assert code == 1
    assert "unrecognized arguments" in err
    assert api.requests == []


def test_help_says_why_the_token_comes_from_the_environment(run_cli):
    code, out, _ = run_cli("eval", "run", "--help")

    assert code == 0
    assert "never from an argument" in out
    assert "100  the run completed and its thresholds are not met" in out


def test_the_token_is_never_printed(run_cli, api, env, tmp_path):
    outputs = []
    for states in ([QUEUED, RUNNING, PASSED], [QUEUED, NOT_MET], [QUEUED, run_json("failed")]):
        api.states = list(states)
        outputs.append(run_cli(*WAIT, "--junit", str(tmp_path / "r.xml")))
    api.fail("GET", f"/api/v1/eval-runs/{RUN_ID}/", *[(503, {"message": "down"})] * 4)
    outputs.append(run_cli("eval", "status", str(RUN_ID)))
    env.setenv(cli.ENV_URL, "ftp://example.test")
    outputs.append(run_cli(*WAIT))

    for _, out, err in outputs:
        assert TOKEN not in out and TOKEN not in err
    assert repr(cli.Client(api.url, TOKEN)) == f"Client({api.url!r})"
    assert api.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_every_request_carries_the_token_and_identifies_the_client(run_cli, api, tmp_path):
    run_cli(*WAIT, "--junit", str(tmp_path / "r.xml"))

    for request in api.requests:
        assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
        assert request["headers"]["User-Agent"] == f"genai-po-cli/{cli.VERSION}"
    assert api.requests[0]["headers"]["Accept"] == "application/json"
    assert api.requests[0]["headers"]["Content-Type"] == "application/json"


def test_plain_http_to_a_remote_host_warns(run_cli, env):
    env.setenv(cli.ENV_URL, "http://192.0.2.1:1")  # TEST-NET: a POST there would hang; no POST
    env.delenv(cli.ENV_TOKEN)

    code, _, err = run_cli(*WAIT)

    assert code == 1
    assert "warning: http://192.0.2.1:1 is plain http; the token travels unencrypted" in err


def test_a_redirect_is_not_followed(run_cli, api):
    api.fail("POST", f"/api/v1/eval-plans/{PLAN}/runs/", (301, {}))

    code, _, err = run_cli(*WAIT)

    assert code == 1
    assert "redirected" in err and "set GENAI_PO_URL" in err
    assert len(api.requests) == 1


# --------------------------------------------------------------------------- CI metadata


def test_ci_metadata_and_label_are_sent_from_the_github_environment(run_cli, env, api):
    env.setenv("CI", "true")
    env.setenv("GITHUB_ACTIONS", "true")
    env.setenv("GITHUB_SHA", "4f2c9a1e0b7d")
    env.setenv("GITHUB_REF_NAME", "42/merge")
    env.setenv("GITHUB_HEAD_REF", "refunds-prompt")
    env.setenv("GITHUB_RUN_ID", "987654")
    env.setenv("GITHUB_SERVER_URL", "https://github.com")
    env.setenv("GITHUB_REPOSITORY", "acme/support-bot")

    run_cli("eval", "run", "--plan", str(PLAN), "--label", "refunds-prompt")

    assert json.loads(api.requests[0]["body"]) == {
        "label": "refunds-prompt",
        "ci_metadata": {
            "provider": "github-actions",
            "commit": "4f2c9a1e0b7d",
            "ref": "42/merge",
            "head_ref": "refunds-prompt",
            "repository": "acme/support-bot",
            "run_id": "987654",
            "run_url": "https://github.com/acme/support-bot/actions/runs/987654",
            "ci": True,
        },
    }


def test_generic_ci_is_flagged(run_cli, env, api):
    env.setenv("CI", "true")

    run_cli("eval", "run", "--plan", str(PLAN))

    assert json.loads(api.requests[0]["body"]) == {"ci_metadata": {"ci": True}}


def test_outside_ci_no_metadata_is_sent(run_cli, api):
    run_cli("eval", "run", "--plan", str(PLAN))

    assert json.loads(api.requests[0]["body"]) == {}


# --------------------------------------------------------------------------- retries


def test_polling_get_is_retried_on_503_with_backoff(run_cli, api, fake_time):
    api.fail("GET", f"/api/v1/eval-runs/{RUN_ID}/", (503, {"message": "busy"}), (502, b"<html/>"))

    code, _, err = run_cli(*WAIT)

    assert code == 0
    assert "HTTP 503; retrying in 1 s (1/3)" in err
    assert "HTTP 502; retrying in 2 s (2/3)" in err
    assert fake_time.sleeps == [2, 1, 2, 2]  # a poll, two backoffs, a poll
    assert len(api.of("GET")) == 4


def test_polling_gives_up_after_three_retries(run_cli, api, fake_time):
    api.fail("GET", f"/api/v1/eval-runs/{RUN_ID}/", *[(504, {})] * 4)

    code, _, err = run_cli(*WAIT)

    assert code == 1
    assert err.endswith(f"genai-po: error: GET {api.url}/api/v1/eval-runs/{RUN_ID}/: HTTP 504\n")
    assert len(api.of("GET")) == 4
    assert fake_time.sleeps == [2, 1, 2, 4]


def test_the_post_that_starts_a_run_is_never_retried(run_cli, api, fake_time):
    api.fail("POST", f"/api/v1/eval-plans/{PLAN}/runs/", (503, {"message": "busy"}))

    code, _, err = run_cli(*WAIT)

    assert code == 1
    assert "retrying" not in err
    assert len(api.of("POST")) == 1
    assert fake_time.sleeps == []


def test_a_4xx_get_is_not_retried(run_cli, api, fake_time):
    code, _, err = run_cli("eval", "status", "404")

    assert code == 1
    assert "run 404 not found" in err
    assert len(api.requests) == 1
    assert fake_time.sleeps == []


# --------------------------------------------------------------------------- status, upload


def test_status_of_a_completed_run_exits_by_its_thresholds(run_cli, api):
    api.states = [NOT_MET]

    code, out, _ = run_cli("eval", "status", str(RUN_ID))

    assert code == 100
    assert out.startswith("Run #3 (id 17): completed\n")


def test_status_of_an_active_run_exits_3(run_cli, api):
    api.states = [RUNNING]

    code, out, _ = run_cli("eval", "status", str(RUN_ID))

    assert code == 3
    assert out == (
        f"Run #3 running: 2/4 done · 2 passed · 0 failed · 0 errors · ETA 12 s\nRun: {RUN_URL}\n"
    )


def test_upload_sends_the_file_as_is(run_cli, api, tmp_path):
    lines = [
        {"case": "CASE-4", "output": "Refunds take 5 days.", "passed": True, "score": 1.0},
        {"case": "CASE-5", "output": "é", "passed": False, "score": 0.0, "error": ""},
    ]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    results = tmp_path / "results.jsonl"
    results.write_bytes(body)
    target = tmp_path / "junit.xml"

    code, out, _ = run_cli(
        "eval", "upload", "--plan", str(PLAN), str(results), "--label", "nightly run",
        "--junit", str(target),
    )  # fmt: skip

    assert code == 0
    upload = api.requests[0]
    assert upload["path"] == f"/api/v1/eval-plans/{PLAN}/external-runs/"
    assert upload["query"] == {"label": ["nightly run"]}
    assert upload["headers"]["Content-Type"] == "application/x-ndjson"
    assert upload["body"] == body
    assert target.read_bytes() == JUNIT
    assert out.startswith("Run #3 (id 17): completed\n")


def test_upload_exits_100_when_thresholds_are_not_met(run_cli, api, tmp_path):
    api.uploaded_run = NOT_MET
    results = tmp_path / "results.jsonl"
    results.write_text('{"case": "CASE-4", "output": "x", "passed": false}\n')

    code, _, _ = run_cli("eval", "upload", "--plan", str(PLAN), str(results))

    assert code == 100
    assert api.requests[0]["query"] == {}


def test_upload_of_a_missing_or_empty_file_fails_before_any_request(run_cli, api, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")

    missing = run_cli("eval", "upload", "--plan", str(PLAN), str(tmp_path / "nope.jsonl"))
    blank = run_cli("eval", "upload", "--plan", str(PLAN), str(empty))

    assert missing[0] == blank[0] == 1
    assert "cannot read" in missing[2]
    assert "is empty" in blank[2]
    assert api.requests == []


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "argv",
    [
        ("eval", "run"),
        ("eval", "run", "--plan", "abc"),
        ("eval", "run", "--plan", "5", "--timeout", "0"),
        ("eval", "status"),
        ("eval", "bogus"),
        (),
    ],
)
def test_usage_errors_exit_1(run_cli, argv):
    code, _, err = run_cli(*argv)

    assert code == 1
    assert "usage: genai-po" in err


def test_the_client_is_its_own_standard_library_package():
    package = tomllib.loads((ROOT / "clients/cli/pyproject.toml").read_text())["project"]
    assert package["scripts"] == {"genai-po": "genai_po_cli:main"}
    assert package["dependencies"] == []
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "scripts" not in server  # installing the client never pulls in the server


@pytest.mark.slow
def test_one_pip_install_gives_a_working_client_in_an_empty_environment(tmp_path):
    """What a CI job does: a fresh virtual environment, one install, the command runs."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    uv = Path(sys.executable).parent / "uv"
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
         str(ROOT / "clients" / "cli")],
        check=True, timeout=300,
    )  # fmt: skip
    version = subprocess.run(
        [str(venv / "bin" / "genai-po"), "--version"], capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    assert version.stdout.strip() == "genai-po 0.1.0"
    # Nothing else came with it: the client needs only the standard library.
    installed = subprocess.run(
        [str(uv), "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    names = {p["name"] for p in json.loads(installed.stdout)} - {"pip", "setuptools"}  # venv's own
    assert names == {"genai-po-cli"}
    # And as a module, from any directory (nothing of the project shadows the stdlib).
    module = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "genai_po_cli", "--help"], cwd=tmp_path,
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert module.returncode == 0 and "usage: genai-po" in module.stdout


# --------------------------------------------------------------------------- docs


def test_the_example_workflow_runs_the_plan_and_keeps_the_report():
    workflow = yaml.safe_load((ROOT / "docs/examples/github-actions-eval.yml").read_text())
    job = workflow["jobs"]["eval"]
    steps = {step.get("name", step.get("uses")): step for step in job["steps"]}

    assert workflow[True] == {"pull_request": None}  # YAML 1.1 reads the key `on` as True
    assert job["env"] == {
        "GENAI_PO_URL": "${{ vars.GENAI_PO_URL }}",
        "GENAI_PO_TOKEN": "${{ secrets.GENAI_PO_TOKEN }}",
    }
    assert steps["Run the eval plan"]["run"].startswith(
        "genai-po eval run --plan ${{ vars.GENAI_PO_PLAN }} --wait --junit eval-results.xml"
    )
    assert steps["Keep the JUnit report"]["if"] == "always()"
    assert steps["Keep the JUnit report"]["with"]["path"] == "eval-results.xml"


def test_the_ci_page_shows_the_example_workflow_as_it_is():
    workflow = (ROOT / "docs/examples/github-actions-eval.yml").read_text()

    assert f"```yaml\n{workflow}```" in (ROOT / "docs/ci.md").read_text()
