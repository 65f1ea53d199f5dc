"""The web process of `make run`: Django's development server (static files by WhiteNoise),
with a listen backlog deep enough for a burst of clients.

Django's server accepts 10 waiting connections; the 11th of a burst (30 CI jobs starting
runs at once, say) is reset before any view runs. 128 is what most servers use.
"""

from django.core.servers.basehttp import WSGIServer
from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as RunserverCommand,
)


class DeepBacklogWSGIServer(WSGIServer):
    request_queue_size = 128


class Command(RunserverCommand):
    help = "Serve the workspace for `make run` (runserver with a deeper listen backlog)."
    server_cls = DeepBacklogWSGIServer
