"""`make run`'s web server serves a request per thread: it never keeps connections."""

from unittest import mock

from django.db import connections
from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as RunserverCommand,
)

from genai_po.management.commands.serve_local import Command


def test_the_local_server_closes_each_requests_database_connection():
    settings = connections.settings["default"]
    kept = settings["CONN_MAX_AGE"]
    settings["CONN_MAX_AGE"] = 60  # as PostgreSQL is configured for gunicorn
    try:
        with mock.patch.object(RunserverCommand, "handle", return_value=None) as serve:
            Command().handle(addrport="127.0.0.1:0")
        serve.assert_called_once()
        assert settings["CONN_MAX_AGE"] == 0
    finally:
        settings["CONN_MAX_AGE"] = kept
