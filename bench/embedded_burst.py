"""The embedded mode under a burst: 30 run starts at once over HTTP against `manage.py
runserver` on a fresh SQLite database (the defaults of `make run`), and the statuses.

Prints one line: the status of each of the 30 answers, counted, and the wall time.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("BENCH_BURST_PORT", "8766"))
BURST = 30

SETUP = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from evals import services as ev
from genai_po.actors import Actor
from genai_po.models import User
from genai_po.services import api_token_create, organization_create
from usecases import services as uc
user = User.objects.create_user("burst@example.com", "burst-pass-12345")
org = organization_create(user=user, name="Burst")
actor = Actor.system(organization=org, label="bench")
use_case = uc.use_case_create(actor=actor, data={"title": "Refunds"})
target = ev.target_create(actor=actor, data={"name": "Agent", "kind": "openai_chat",
                                             "url": "http://127.0.0.1:9/v1", "model": "m"})
plan = ev.plan_create(actor=actor, use_case=use_case, data={"name": "Desk", "target": target,
                                                            "scorers": [{"type": "escalation"}]})
ev.case_add(actor=actor, plan=plan, data={"prompt": "Where is my refund?"})
_, raw = api_token_create(actor=actor, name="bench", scopes=["read", "evals:run"])
print(plan.pk, raw)
"""


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="genai-po-burst-"))
    env = {
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "CELERY_", "CACHE_"))},
        "DJANGO_SETTINGS_MODULE": "genai_po.settings",
        "GENAI_PO_VAR_DIR": str(tmp / "var"),
    }  # fmt: skip
    server = None
    try:
        out = subprocess.run([sys.executable, "-c", SETUP], cwd=REPO, env=env, check=True,
                             capture_output=True, text=True, timeout=300).stdout  # fmt: skip
        plan_id, token = out.strip().splitlines()[-1].split()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve_local", f"127.0.0.1:{PORT}", "--noreload",
             "--skip-checks"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{PORT}/api/v1/eval-plans/{plan_id}/runs/"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/accounts/login/", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.1)
        barrier = threading.Barrier(BURST)
        statuses: list = []

        def start_one() -> None:
            request = urllib.request.Request(  # noqa: S310 - loopback
                url, data=json.dumps({}).encode(), method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )  # fmt: skip
            barrier.wait()
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
            except OSError:  # refused or reset before any answer
                statuses.append("connection reset")

        threads = [threading.Thread(target=start_one) for _ in range(BURST)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        counted = ", ".join(f"{n} x {code}" for code, n in sorted(Counter(statuses).items(),
                                                                   key=str))  # fmt: skip
        print(f"embedded mode, {BURST} run starts at once over HTTP to the web server of "
              f"`make run` (SQLite): {counted} in {elapsed:.1f} s")  # fmt: skip
        return 0 if set(statuses) == {202} else 1
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
