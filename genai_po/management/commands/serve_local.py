"""The web process of `make run`: Django's development server (static files by WhiteNoise),
with a listen backlog deep enough for a burst of clients.

Django's server accepts 10 waiting connections; the 11th of a burst (30 CI jobs starting
runs at once, say) is reset before any view runs. 128 is what most servers use.

It serves each request on a thread of its own, so persistent database connections would
stay open with their finished threads until PostgreSQL runs out of connections: here every
request closes its connection (gunicorn, in the full stack, keeps them).
"""

from django.conf import settings
from django.core.servers.basehttp import WSGIServer
from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as RunserverCommand,
)


class DeepBacklogWSGIServer(WSGIServer):
    request_queue_size = 128


class Command(RunserverCommand):
    help = "Serve the workspace for `make run` (runserver with a deeper listen backlog)."
    server_cls = DeepBacklogWSGIServer

    def handle(self, *args, **options):
        # The same dicts the connection handler opens each thread's connection with.
        for database in settings.DATABASES.values():
            database["CONN_MAX_AGE"] = 0
        return super().handle(*args, **options)
