"""The areas plug into each other through registries filled in AppConfig.ready(), and the
import contract keeps the layers: genai_po <- usecases <- evals <- context/governance/metrics.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from genai_po import registry
from genai_po.demo import seeders
from genai_po.management.commands.run_local import processes
from usecases import gates, verification
from usecases.panels import USE_CASE_PANELS

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contract_holds():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 kept, 0 broken" in result.stdout


def test_the_core_names_no_domain_app_outside_the_root_urlconf():
    offenders = []
    for path in (ROOT / "genai_po").rglob("*.py"):
        if "migrations" in path.parts or path.name == "urls.py" and path.parent.name == "genai_po":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("from ", "import ")) and any(
                stripped.split()[1].split(".")[0] == app
                for app in ("usecases", "evals", "context", "governance", "metrics")
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {stripped}")
    assert offenders == []


def test_gate_checks_come_from_every_area_in_app_order():
    assert gates.registered_gate_checks("evaluate") == ["usecases.prd", "evals.plan_exists"]
    assert gates.registered_gate_checks("deploy") == [
        "usecases.readiness", "usecases.risk", "evals.latest_run_meets_thresholds",
        "governance.release_approved",
    ]  # fmt: skip
    assert gates.registered_gate_checks("monitor") == ["metrics.dashboards_live"]
    with pytest.raises(ValueError, match="Unknown stage"):
        gates.register_gate_check(stage="launch", key="x", evaluate=lambda uc, r: None)


def test_verification_providers_are_the_apps_that_verify():
    assert verification.provided_kinds() == ["human_review", "eval_case"]


def test_panels_seeders_and_processes_are_registered_by_their_areas():
    assert registry.HOME_PANELS.keys() == ["usecases", "evals", "context", "governance", "metrics"]
    assert USE_CASE_PANELS.keys() == ["evals.plans", "context.loop", "governance.releases"]
    # Each area feeds the unified backlog with its own work, in the order of INSTALLED_APPS.
    from usecases import backlog

    assert [s.kind for s in backlog.sources()] == [
        "feature", "eval_failure", "context_gap", "governance", "incident_follow_up", "alert",
    ]  # fmt: skip
    # Context's knowledge base comes before evals' baseline run (`before=`), its loop after.
    assert [f"{s.__module__}.{s.__name__}" for s in seeders()] == [
        "genai_po.demo.seed_organizations", "usecases.demo.seed_use_cases",
        "context.demo.seed_knowledge_base", "evals.demo.seed_evals",
        "context.demo.seed_context", "governance.demo.seed_governance",
        "metrics.demo.seed_metrics",
    ]  # fmt: skip
    names = [name for name, _ in processes()]
    assert names == ["worker", "agent", "mcp", "web"]
    agent = dict(processes())["agent"]
    assert agent[1:4] == ["-m", "evals.reference_agent", "--port"]
    # It answers from the published knowledge, through the knowledge search API.
    assert "--knowledge-url" in agent and agent[agent.index("--knowledge-url") + 1].endswith(
        "/api/v1/knowledge/search"
    )


@pytest.mark.django_db
def test_the_home_page_shows_each_registered_area_card(client, org_a, member_factory):
    client.force_login(member_factory(org_a, "viewer").user)
    html = client.get(f"/o/{org_a.slug}/").content.decode()
    for href in (
        "use-cases/",
        "evals/",
        "context/",
        "governance/",
        "metrics/",
        "settings/members/",
    ):
        assert f'href="/o/{org_a.slug}/{href}"' in html
    assert "Available: no run yet." in html  # the evals card's own context
