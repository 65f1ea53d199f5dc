"""What a real worker subprocess started by a test needs to reach the test's services."""

from urllib.parse import quote

from django.conf import settings
from django.db import connection


def worker_database_url() -> str:
    """The database this test writes to (test_<name>), for the worker process."""
    db = connection.settings_dict
    assert db["ENGINE"] == "django.db.backends.postgresql", db["ENGINE"]
    user = quote(db["USER"] or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def cache_url() -> str:
    """The Redis cache of the tests, if they use one."""
    location = settings.CACHES["default"].get("LOCATION", "")
    return location if str(location).startswith(("redis://", "rediss://")) else ""
