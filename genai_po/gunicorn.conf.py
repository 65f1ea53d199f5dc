"""Gunicorn settings for the container image (docker-compose.yml's web service).

Read with `gunicorn --config genai_po/gunicorn.conf.py genai_po.wsgi:application`.
Everything can be tuned by environment; the defaults suit a small team on 2 cores.
"""

import os

# Inside the container; docker-compose.yml publishes the port on 127.0.0.1 only.
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers: measured faster than more workers on 2 cores (TOOLCHAIN.md).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200
# The heartbeat file on tmpfs: a container's overlay filesystem can stall it.
worker_tmp_dir = "/dev/shm"  # noqa: S108
# No home directory for the control socket, and nothing to control it from.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
