"""Portfolio page with 1,000 use cases: median server time and SQL query count.

    DATABASE_URL=postgres://... python bench/portfolio.py   (or the embedded SQLite default)

Creates a throwaway organization with 1,000 scored use cases (bulk_create) in the
database named by DATABASE_URL, requests the portfolio page through Django's test
client as a signed-in member (the whole request: middleware, view, template), and
deletes everything it made, whatever happens. It does not use the test database.
"""

import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
USE_CASES = 1000
REQUESTS = 30
TARGET_MS = 150
TARGET_QUERIES = 10


def _setup_django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_po.settings")
    import django

    django.setup()


def _migrate_if_needed() -> None:
    """A fresh embedded database has no tables yet: `make run` would migrate it too."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", verbosity=0, interactive=False)


def _make_org(tag: str):
    """An organization, its members, and USE_CASES scored use cases."""
    from genai_po.models import Membership, Organization, User
    from genai_po.roles import Role
    from usecases import scoring
    from usecases.models import Criterion, RiskTier, Stage, UseCase

    org = Organization.objects.create(name=f"Bench portfolio {tag}", slug=f"bench-portfolio-{tag}")
    users = [
        User.objects.create_user(email=f"bench-{tag}-{n}@example.invalid", full_name=f"Owner {n}")
        for n in range(10)
    ]
    Membership.objects.bulk_create(
        Membership(organization=org, user=u, role=Role.OWNER if n == 0 else Role.PRODUCT_OWNER)
        for n, u in enumerate(users)
    )
    rnd = random.Random(1000)  # noqa: S311 - sample data, the same on every run
    weights = scoring.weights_of(org)
    use_cases = []
    for number in range(1, USE_CASES + 1):
        scores = {c.value: rnd.randint(1, 5) for c in Criterion}
        use_cases.append(
            UseCase(
                organization=org,
                number=number,
                title=f"Use case {number}: answer {rnd.choice(['refund', 'billing', 'access'])} "
                f"questions for {rnd.choice(['tier-1 agents', 'field sales', 'HR'])}",
                problem="Agents spend minutes finding the right policy for each ticket.",
                department=rnd.choice(["Support", "Sales", "HR", "Finance"]),
                owner=rnd.choice(users),
                stage=rnd.choice(Stage.values),
                risk_tier=rnd.choice(RiskTier.values),
                user_count=rnd.choice([None, 5, 40, 250, 1200, 8000]),
                priority_score=scoring.priority_score(scores, weights),
                **{f"score_{c}": s for c, s in scores.items()},
            )
        )
    UseCase.objects.bulk_create(use_cases, batch_size=500)
    return org, users


def _get(client, url: str, host: dict) -> bytes:
    """The whole answer, a streamed one read to its end."""
    response = client.get(url, **host)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return b"".join(response.streaming_content) if response.streaming else response.content


def _measure(client, url: str, host: dict) -> tuple[float, int, bytes]:
    """(median milliseconds over REQUESTS requests, SQL queries of one request, its body)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm the session, the caches and the template loader
        _get(client, url, host)
    timings = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        _get(client, url, host)
        timings.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        body = _get(client, url, host)
    return statistics.median(timings), len(queries), body


def main() -> int:
    _setup_django()
    _migrate_if_needed()
    from django.conf import settings
    from django.test import Client

    from genai_po.models import Organization, User

    tag = uuid.uuid4().hex[:10]
    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h != "*"] or ["127.0.0.1"]
    host = {"HTTP_HOST": hosts[0], "secure": bool(settings.SECURE_SSL_REDIRECT)}
    client = Client()
    missed = False
    try:
        org, users = _make_org(tag)
        client.force_login(users[0])
        pages = [
            ("portfolio,", ""),
            ("portfolio filtered by stage and search,", "?stage=evaluate&q=refund"),
        ]
        for label, query in pages:
            url = f"/o/{org.slug}/use-cases/portfolio/{query}"
            median, count, body = _measure(client, url, host)
            if not query and b"1000 use cases, 1000 ranked." not in body:
                raise RuntimeError("the portfolio page does not show the 1,000 use cases")
            met = median < TARGET_MS and count <= TARGET_QUERIES
            missed |= not met
            print(
                f"{label} {USE_CASES:,} use cases: median {median:.0f} ms, {count} queries "
                f"(target < {TARGET_MS} ms, <= {TARGET_QUERIES}){'' if met else ' MISSED'}"
            )
        median, count, body = _measure(client, f"/o/{org.slug}/use-cases/portfolio.csv", host)
        if body.count(b"\n") != USE_CASES + 1:
            raise RuntimeError("the CSV export does not hold the 1,000 use cases")
        print(f"portfolio CSV export, {USE_CASES:,} use cases: median {median:.0f} ms, "
              f"{count} queries")  # fmt: skip
    finally:
        client.logout()
        from genai_po.maintenance import organization_purge

        for bench_org in Organization.objects.filter(slug=f"bench-portfolio-{tag}"):
            organization_purge(organization=bench_org)
        User.objects.filter(email__startswith=f"bench-{tag}-").delete()
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
