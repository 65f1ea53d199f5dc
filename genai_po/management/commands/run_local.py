"""`make run`: migrate, load the demo, then run the web app and a Celery worker together.

Everything listens on 127.0.0.1 only. Ctrl-C stops every process this started.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from genai_po.demo import DEMO_DOMAIN, DEMO_ORG_SLUG, DEMO_PASSWORD, DEMO_USERS
from genai_po.registry import embedded_processes

HOST = "127.0.0.1"  # embedded mode never listens beyond this machine
PORT = settings.GENAI_PO_PORT


def processes() -> list[tuple[str, list[str]]]:
    """The processes of the embedded mode: the worker, what the areas registered (the
    reference agent of evals, ...), and the web app last."""
    python = sys.executable
    return [
        (
            "worker",
            [
                python, "-m", "celery", "-A", "genai_po", "worker", "--beat",
                "--loglevel=WARNING", "--concurrency=2",
                "--schedule", str(settings.VAR_DIR / "celerybeat-schedule"),
            ],
        ),
        *((process.name, list(process.argv(python))) for process in embedded_processes()),
        (
            "web",
            [python, "manage.py", "serve_local", f"{HOST}:{PORT}", "--noreload", "--skip-checks"],
        ),
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Run the embedded workspace (web + worker) on 127.0.0.1:8000 with the demo data."

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
        children: list[tuple[str, subprocess.Popen]] = []
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, argv in processes():
            # Own session: the terminal's Ctrl-C reaches only us; we stop them in order.
            children.append((name, subprocess.Popen(argv, start_new_session=True)))
        self._print_banner()
        try:
            while not stopping:
                for name, proc in children:
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with status {proc.returncode}; stopping.")
                        stopping = True
                time.sleep(0.3)
        finally:
            self._stop_all(children)

    def _stop_all(self, children) -> None:
        self.stdout.write("Stopping…")
        for _, proc in children:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.stdout.write("Stopped.")

    def _print_banner(self) -> None:
        lines = [
            "",
            f"GenAI PO Workspace is running: http://{HOST}:{PORT}/",
            f"Demo organization: http://{HOST}:{PORT}/o/{DEMO_ORG_SLUG}/",
            *[process.banner for process in embedded_processes() if process.banner],
            f"Demo sign-ins (password {DEMO_PASSWORD}):",
            *[f"  {role.label:<14} {key}@{DEMO_DOMAIN}" for role, key, _ in DEMO_USERS],
            "Press Ctrl-C to stop everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))
