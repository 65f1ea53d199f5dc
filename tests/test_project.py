"""The project's promises about itself: docs that match the code, pinned dependencies."""

import tomllib
from pathlib import Path

from genai_po.roles import permission_matrix_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_readme_documents_the_permission_matrix_in_code():
    assert permission_matrix_markdown() in (ROOT / "README.md").read_text()


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


def test_every_dependency_is_pinned_and_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = project["project"]["dependencies"] + project["dependency-groups"]["dev"]
    unpinned = [d for d in deps if "==" not in d]
    assert unpinned == []
    lock = (ROOT / "uv.lock").read_text()
    for dep in deps:
        name = dep.split("[")[0].split("==")[0].lower().replace("_", "-")
        assert f'name = "{name}"' in lock, f"{name} missing from uv.lock"


def test_ci_installs_services_and_calls_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "pg_isready" in ci and "redis-cli" in ci


def test_the_openapi_schema_is_valid_and_has_no_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/api/v1/use-cases/{id}/prd/" in (tmp_path / "s.yml").read_text()
