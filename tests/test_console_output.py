"""What a newcomer sees on the console of `make run`: a refused request is one line, and
the embedded broker connects without a warning."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from genai_po.actors import Actor
from genai_po.models import User
from genai_po.services import membership_add, organization_create
owner = User.objects.create_user("o@example.com", "pass-123456-x")
viewer = User.objects.create_user("v@example.com", "pass-123456-x")
org = organization_create(user=owner, name="Console")
membership_add(actor=Actor.system(organization=org, label="t"), user=viewer, role="viewer")
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(viewer)
assert client.get(f"/o/{org.slug}/settings/tokens/").status_code == 403
assert client.get("/o/nope/").status_code == 404
from genai_po.celery import app
with app.connection_for_write() as connection:
    connection.ensure_connection(max_retries=1)
print("done")
"""


def test_a_403_logs_one_line_and_the_embedded_broker_no_warning(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "genai_po.settings",
        "GENAI_PO_VAR_DIR": str(tmp_path / "var"),
    }  # the embedded defaults
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    forbidden = [line for line in result.stderr.splitlines() if "Forbidden" in line]
    assert len(forbidden) == 1, result.stderr
    assert "No hostname was supplied" not in result.stderr
