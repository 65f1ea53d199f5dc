"""The Celery app: the broker comes from CELERY_BROKER_URL (filesystem or Redis)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_po.settings")

app = Celery("genai_po")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
