"""Run in a process of its own on the embedded SQLite database (see test_embedded_mode.py):
bursts of concurrent writes through the services, each thread with its own connection, as
the threads of `manage.py runserver` and the worker have. Prints what happened as JSON."""

import json
import os
import sys
import threading

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_po.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from evals import services as eval_services  # noqa: E402
from genai_po.actors import Actor  # noqa: E402
from genai_po.models import User  # noqa: E402
from genai_po.services import organization_create  # noqa: E402
from usecases import services as uc_services  # noqa: E402


def burst(n: int, work) -> list[str]:
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def one(i: int) -> None:
        try:
            barrier.wait()
            work(i)
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - every failure is the finding
            outcomes.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    call_command("migrate", verbosity=0)
    assert connection.vendor == "sqlite"
    user = User.objects.create_user("burst@example.com", "burst-pass-123")
    org = organization_create(user=user, name="Burst")
    actor = Actor.system(organization=org, label="burst")
    use_case = uc_services.use_case_create(actor=actor, data={"title": "Refunds"})
    target = eval_services.target_create(actor=actor, data={
        "name": "Agent", "kind": "openai_chat", "url": "http://127.0.0.1:9/v1", "model": "m",
    })  # fmt: skip
    plan = eval_services.plan_create(actor=actor, use_case=use_case, data={
        "name": "Refund desk", "target": target, "scorers": [{"type": "escalation"}],
    })  # fmt: skip
    eval_services.case_add(actor=actor, plan=plan, data={"prompt": "Where is my refund?"})
    connection.close()

    runs = burst(n, lambda i: eval_services.run_start(actor=actor, plan=plan))
    briefs = burst(n, lambda i: uc_services.use_case_create(actor=actor, data={"title": f"B{i}"}))
    from evals.models import EvalRun
    from genai_po.audit import audit_chain_verify
    from usecases.models import UseCase

    numbers = sorted(EvalRun.objects.for_org(org).values_list("number", flat=True))
    report = audit_chain_verify(organization=org)
    print(json.dumps({  # noqa: T201 - read by the test
        "runs": runs, "briefs": briefs, "run_numbers": numbers,
        "use_cases": UseCase.objects.for_org(org).count(), "audit_ok": report.ok,
        "journal_mode": connection.cursor().execute("PRAGMA journal_mode").fetchone()[0],
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
