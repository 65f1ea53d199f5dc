"""Suggestions (similar gaps, published knowledge) and knowledge search: the same service
and the same results on PostgreSQL (trigram, full-text) and SQLite (FTS5)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.context.search_scenario import run_scenario

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "similar_gaps": ["Can I get a refund on a gift card I bought last week?"],
    "suggested_knowledge": ["Gift card refunds"],
    "search": ["Gift card refunds"],
    "search_statuses": ["published"],
    "nothing": [],
    "tricky": ["Gift card refunds"],
    "scores_in_unit_range": True,
    "scores_readable": True,
    "published": "published",
}


@pytest.mark.django_db
def test_on_postgresql():
    assert run_scenario() == EXPECTED


def test_on_sqlite(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GENAI_PO_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }  # the embedded defaults: SQLite, no broker or cache server
    result = subprocess.run(
        [sys.executable, "-m", "tests.context.search_scenario"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == EXPECTED
