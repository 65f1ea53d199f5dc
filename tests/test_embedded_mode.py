"""The embedded mode (SQLite, `make run`) holds concurrent use: bursts of writes from many
threads wait for the lock (WAL, busy timeout, IMMEDIATE transactions) and none fails."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_thirty_concurrent_run_starts_and_writes_on_sqlite_all_succeed(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GENAI_PO_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT),
    }  # the embedded defaults: no DATABASE_URL, no broker or cache server
    result = subprocess.run(
        [sys.executable, "-m", "tests.embedded_burst", "30"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["journal_mode"] == "wal"
    assert outcome["runs"] == ["ok"] * 30, outcome["runs"]
    assert outcome["briefs"] == ["ok"] * 30, outcome["briefs"]
    assert outcome["run_numbers"] == list(range(1, 31))
    assert outcome["use_cases"] == 31
    assert outcome["audit_ok"] is True


def test_the_web_server_of_make_run_answers_a_burst_of_30_run_starts(tmp_path):
    """Over HTTP, as CI jobs do: every one of 30 simultaneous run starts gets its 202 (the
    development server's backlog of 10 reset the rest before)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BENCH_BURST_PORT": str(port),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "bench/embedded_burst.py"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "30 x 202" in result.stdout
