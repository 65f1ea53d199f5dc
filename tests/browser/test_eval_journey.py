"""A product owner's eval journey in a real browser: import cases from a CSV, start a
run, watch the progress bar until the run completes (a worker thread drives it against
the reference agent over real HTTP), open a failed case and triage it as a context gap."""

import threading
import time

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from context.demo_policies import ACME_POLICIES
from evals import engine, tasks
from evals.models import EvalRun, Triage
from evals.reference_agent import start_in_thread
from genai_po.roles import Role
from tests.browser.test_usecase_journey import sign_in
from tests.factories.evals import EvalPlanFactory, TargetFactory, allow_loopback
from tests.factories.usecases import RequirementFactory, UseCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PO_EMAIL = "pat.po@example.com"
CSV = (
    "name,prompt,expected,tags,requirements,must_escalate\n"
    "Refund timing,How long does a refund take to reach my card?,5 to 10 business days,"
    "refunds,REQ-1,no\n"
    "Unopened return,Can I return an unopened item for a full refund?,30 days,refunds,REQ-1,no\n"
    'Lost parcel,"My parcel is lost, tracking has not changed for a week",,shipping,,no\n'
    "Chargeback,I will start a chargeback with my bank,,risk,REQ-2,yes\n"
    "Legal threat,My lawyer will sue you over this,,risk,REQ-2,yes\n"
    "Gift cards,Can I get a refund on a gift card I bought last week?,"
    "Unused gift cards are refundable within 14 days,refunds,REQ-1,no\n"
)


@pytest.fixture
def agent():
    server, _ = start_in_thread(latency_ms=250, knowledge=ACME_POLICIES)
    yield server
    server.stop()


@pytest.fixture
def plan(org_a, agent):
    allow_loopback(org_a)
    use_case = UseCaseFactory(organization=org_a, number=1, title="Refund answers")
    RequirementFactory(use_case=use_case, number=1, statement="Answers refund questions.")
    RequirementFactory(use_case=use_case, number=2, statement="Hands off chargebacks.")
    target = TargetFactory(organization=org_a, name="Reference agent", url=agent.base_url,
                           concurrency=2)  # fmt: skip
    return EvalPlanFactory(use_case=use_case, target=target, name="Refund desk suite")


@pytest.fixture
def worker(monkeypatch):
    """Stands in for a Celery worker: drives each queued run in a thread of its own,
    a moment after it was queued, so the page first shows the run waiting."""
    threads = []

    def delay(run_id):
        def work():
            time.sleep(1.0)
            try:
                engine.drive(run_id)
            finally:
                connection.close()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        threads.append(thread)

    monkeypatch.setattr(tasks.drive_run, "delay", delay)
    yield
    for thread in threads:
        thread.join(timeout=30)


def test_product_owner_imports_runs_watches_and_triages(
    page: Page, org_a, member_factory, plan, worker, tmp_path
):
    member_factory(org_a, Role.PRODUCT_OWNER, email=PO_EMAIL, full_name="Pat PO")
    sign_in(page, PO_EMAIL)
    page.goto(f"/o/{org_a.slug}/evals/plans/{plan.pk}/")
    expect(page.get_by_text("No cases yet.")).to_be_visible()

    # Import the cases from a CSV file.
    page.get_by_role("button", name="Import cases").click()
    csv_file = tmp_path / "refund-cases.csv"
    csv_file.write_text(CSV)
    page.get_by_label("File").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Imported 6 cases.")).to_be_visible()
    cases = page.locator("#cases tbody tr")
    expect(cases).to_have_count(6)
    expect(cases.first).to_contain_text("REQ-1")

    # Start a run and watch it.
    page.get_by_placeholder("Label (optional): prompt v3, commit…").fill("prompt v1")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run #1")
    progress = page.locator("#progress")
    expect(progress).to_contain_text("/ 6")
    expect(progress.locator("progress")).to_be_visible()
    # The progress bar polls until the run ends, then the page reloads with the results.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Completed", timeout=30_000)
    expect(progress).to_contain_text("6 / 6")
    expect(page.locator(".big-number")).to_contain_text("83%")
    run = EvalRun.objects.for_org(org_a).get()
    assert run.status == "completed" and run.passed == 5

    # The failed case: why it failed, then triage it.
    page.get_by_role("link", name="Not passed").click()
    failed_rows = page.locator("#results tbody tr")
    expect(failed_rows).to_have_count(1)
    expect(failed_rows).to_contain_text("expected no handoff")
    failed_rows.get_by_role("link", name="CASE-6").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("CASE-6 · Gift cards")
    expect(page.locator(".answer")).to_contain_text("I'm handing this to a human agent")
    page.get_by_label("Context gap").check()
    page.get_by_label("Note").fill("No published policy on gift-card refunds.")
    page.get_by_role("button", name="Save triage").click()
    expect(page.locator("#triage")).to_contain_text("Triage saved.")
    expect(page.locator("#triage")).to_contain_text("Triaged as Context gap by pat.po@example.com")
    triage = Triage.objects.for_org(org_a).get()
    assert triage.category == "context_gap"

    page.get_by_role("link", name="Run #1").click()
    expect(page.locator("#results")).to_contain_text("Context gap")

    # The plan's page now charts the pass rate over runs (Plotly, drawn under the CSP).
    page.get_by_role("link", name="Refund desk suite").click()
    expect(page.locator(".trend-chart .main-svg").first).to_be_attached()
    expect(page.get_by_role("link", name="Run #1")).to_be_visible()
