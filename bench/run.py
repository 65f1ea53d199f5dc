"""`make bench`: figures for the closing notes, measured in one run.

Portfolio: bench/portfolio.py, server time and SQL queries with 1,000 use cases.
Evals: bench/evals.py. Context: bench/context.py, publish to verified, knowledge search
over 10,000 items, the SME inbox with 500 questions, in both modes.
Governance: bench/governance.py, the release gate over 5,000 results and 200 gaps.
Metrics: bench/metrics.py, telemetry events per second through HTTP against raw COPY;
bench/metrics_dashboard.py, the dashboard with 10 million events against 10 thousand.
Backlog: bench/backlog.py, the backlog and home pages with 500 entries.
Embedded burst: bench/embedded_burst.py, 30 run starts at once.

Startup: time from a clean clone to the first page served by `make run`, first run
(empty virtual environment and an empty uv cache, so every package is downloaded)
and second run (everything installed and migrated).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("BENCH_PORT", "8765"))
URL = f"http://127.0.0.1:{PORT}/accounts/login/"


def _serves() -> bool:
    try:
        with urllib.request.urlopen(URL, timeout=1) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except OSError:
        return False


def time_make_run(workdir: Path, env: dict, timeout: float = 600) -> float:
    """Seconds from `make run` to the first page served; then stops it with Ctrl-C."""
    log = open(workdir / f"make-run-{time.time_ns()}.log", "w")  # noqa: SIM115
    start = time.monotonic()
    proc = subprocess.Popen(
        ["make", "run"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        while time.monotonic() - start < timeout:
            if _serves():
                return time.monotonic() - start
            if proc.poll() is not None:
                raise RuntimeError(f"make run exited early; see {log.name}")
            time.sleep(0.1)
        raise RuntimeError(f"no page after {timeout} s; see {log.name}")
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does in a terminal
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def bench_startup() -> None:
    if _serves():
        sys.exit(f"Something already answers on port {PORT}; set BENCH_PORT.")
    tmp = Path(tempfile.mkdtemp(prefix="genai-po-bench-"))
    try:
        clone = tmp / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_"))},
            "GENAI_PO_PORT": str(PORT),
            "UV_CACHE_DIR": str(tmp / "uv-cache"),  # empty: the first run downloads everything
        }
        env.pop("CACHE_URL", None)
        first = time_make_run(clone, env)
        second = time_make_run(clone, env)
        print(f"make run, clean clone to first page: first run {first:.1f} s "
              f"(empty venv and uv cache), second run {second:.1f} s")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    bench_startup()
    # The portfolio with 1,000 use cases (a throwaway org in DATABASE_URL or the
    # embedded SQLite; never the test database).
    subprocess.run([sys.executable, str(REPO / "bench" / "portfolio.py")], check=True)
    subprocess.run([sys.executable, str(REPO / "bench" / "evals.py")], check=True)
    # The context loop, on the embedded default and on PostgreSQL + Redis.
    subprocess.run([sys.executable, str(REPO / "bench" / "context.py")], check=False)
    # The CI release gate over 5,000 results and 200 gaps, in both modes.
    subprocess.run([sys.executable, str(REPO / "bench" / "governance.py")], check=False)
    # Telemetry ingestion through gunicorn against a raw COPY, on PostgreSQL.
    subprocess.run([sys.executable, str(REPO / "bench" / "metrics.py")], check=False)
    # The dashboard of a use case with 10 million events against one with 10 thousand.
    subprocess.run([sys.executable, str(REPO / "bench" / "metrics_dashboard.py")], check=False)
    # The backlog and home pages with 500 backlog entries across five use cases.
    subprocess.run([sys.executable, str(REPO / "bench" / "backlog.py")], check=False)
    # 30 run starts at once against the embedded mode's web server and SQLite.
    subprocess.run([sys.executable, str(REPO / "bench" / "embedded_burst.py")], check=False)
