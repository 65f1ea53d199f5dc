"""A real Celery worker process, on the real Redis broker, does work in the test database."""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from kombu import Exchange, Queue

from genai_po import services
from genai_po.actors import Actor
from genai_po.celery import app as celery_app
from genai_po.roles import Role
from genai_po.tasks import invitation_send_email
from tests.worker_env import cache_url, worker_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT_TIMEOUT = 30  # seconds; a cold worker start on a busy 2-core machine takes a few
STOP_TIMEOUT = 15  # seconds of warm shutdown before SIGKILL


@contextmanager
def _celery_eager(eager: bool):
    """Run tasks in this process (True) or publish them to the broker (False)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


@contextmanager
def _worker(*, queue: str, mail_dir: Path, log_path: Path):
    """A `celery worker` subprocess on `queue`; always stopped (TERM, then KILL) and purged."""
    env = dict(
        os.environ,
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        CACHE_URL=cache_url(),
        EMAIL_HOST="",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
        PYTHONUNBUFFERED="1",
    )
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "genai_po",
        "worker",
        "--pool=solo",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
        "--loglevel=INFO",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C on the test run doesn't hit it twice
        )
        try:
            yield process
        finally:
            _stop(process)
            _purge(queue)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def _purge(queue: str) -> None:
    """Drop the test's queue and its binding from Redis (no messages are left when it passed)."""
    with celery_app.connection_for_write() as conn:
        declared = Queue(queue, Exchange(queue, type="direct"), routing_key=queue)
        bound = declared(conn.default_channel)
        bound.declare()  # this channel must know the binding for delete() to remove it
        bound.purge()
        bound.delete()


def _sent_messages(mail_dir: Path) -> list[str]:
    """Messages the file backend wrote: each ends with a line of 79 dashes."""
    messages = []
    for path in sorted(mail_dir.glob("*.log")):
        for chunk in path.read_text().split("-" * 79 + "\n"):
            if chunk.strip():
                messages.append(chunk)
    return messages


def _wait_until(condition, *, process, log_path: Path, what: str) -> None:
    """Poll `condition` for at most WAIT_TIMEOUT seconds; fail early if the worker died."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    log = log_path.read_text(errors="replace")[-4000:]
    pytest.fail(
        f"Not within {WAIT_TIMEOUT}s: {what} (worker exit status {process.poll()}). "
        f"Worker log:\n{log}"
    )


def _link_token(message: str) -> str:
    prefix = f"{settings.SITE_URL}/invitations/"
    (line,) = [line for line in message.splitlines() if line.startswith(prefix)]
    return line.removeprefix(prefix).rstrip("/")


def test_a_worker_process_sends_the_invitation_email_from_the_test_database(
    org_a, owner_a, tmp_path
):
    """Tasks published to Redis run in another process that reads and obeys our tables."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip("needs CELERY_BROKER_URL=redis://… (the full stack's broker)")
    actor = Actor.for_member(user=owner_a.user, organization=org_a, role=Role.OWNER)
    # The service sends the email after commit; here that runs in-process, into Django's
    # test outbox, so nothing reaches the broker but the two tasks published below.
    with _celery_eager(True):
        revoked = services.invitation_create(actor=actor, email="gone@example.com", role="viewer")
        services.invitation_revoke(actor=actor, invitation=revoked)
        invitation = services.invitation_create(
            actor=actor, email="Worker.Test@Example.com", role=Role.ENGINEER
        )
    assert [m.to for m in mail.outbox] == [["gone@example.com"], ["worker.test@example.com"]]
    queue = f"test-worker-{uuid.uuid4().hex[:12]}"
    mail_dir, log_path = tmp_path / "mail", tmp_path / "worker.log"

    with _worker(queue=queue, mail_dir=mail_dir, log_path=log_path) as process:
        with _celery_eager(False):
            skipped = invitation_send_email.apply_async(args=[revoked.pk], queue=queue)
            sent = invitation_send_email.apply_async(args=[invitation.pk], queue=queue)

        def both_done() -> bool:
            log = log_path.read_text(errors="replace")
            return all(f"[{task.id}] succeeded" in log for task in (skipped, sent))

        _wait_until(both_done, process=process, log_path=log_path, what="both tasks succeeded")

    messages = _sent_messages(mail_dir)
    assert len(messages) == 1, messages  # the revoked invitation, read from the DB: no email
    (message,) = messages
    assert "To: worker.test@example.com" in message
    assert "Subject: You are invited to Organization A on GenAI PO Workspace" in message
    assert "to join Organization A on GenAI PO Workspace as Engineer." in message
    # The worker signed the link with the same key: it opens this very invitation.
    assert services.invitation_from_link(_link_token(message)).pk == invitation.pk
