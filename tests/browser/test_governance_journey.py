"""Governance in a real browser: the product owner resolves a checklist item, a reviewer
signs in to their own page, opens the pending checklist and signs it off, and the product
owner sees the gate turn ready once that last blocker is gone."""

import pytest
from playwright.sync_api import Page, expect

from genai_po.roles import Role
from governance.models import ChecklistItem
from tests.browser.test_usecase_journey import sign_in
from tests.governance.test_releases import ready_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_signs_off_and_the_gate_turns_ready(page: Page, org_a, member_factory):
    po = member_factory(org_a, Role.PRODUCT_OWNER, email="pat@example.com", full_name="Pat PO")
    member_factory(org_a, Role.REVIEWER, email="rita@example.com", full_name="Rita Reviewer")
    release = ready_release(org_a, po)
    ChecklistItem.objects.for_org(org_a).filter(release=release, key="documentation").update(
        status="not_started", attestation="", evidence_url=""
    )
    url = f"/o/{org_a.slug}/governance/releases/{release.number}/"

    # The product owner sees two blockers: the documentation item and the sign-off.
    sign_in(page, "pat@example.com")
    page.goto(url)
    gate = page.locator("#gate")
    expect(gate.locator(".verdict")).to_have_text("Blocked")
    expect(gate.locator(".blockers li")).to_have_count(2)
    row = page.locator("#item-documentation")
    row.locator("summary", has_text="Update").click()
    row.get_by_label("Status").select_option("met")
    row.get_by_label("Evidence link").fill("https://wiki.example.com/refund-assistant")
    row.get_by_label("Attestation").fill("Purpose and out-of-scope uses are in the PRD.")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#gate .blockers li")).to_have_count(1)
    expect(page.locator("#gate .blockers")).to_contain_text("sign-offs required")
    page.context.clear_cookies()

    # The reviewer lands on their reviews, opens the checklist and signs it off.
    sign_in(page, "rita@example.com")
    expect(page.get_by_role("heading", level=1)).to_have_text("My reviews")
    nav = page.get_by_role("navigation", name="Areas")
    expect(nav).not_to_contain_text("Use cases")
    page.get_by_role("button", name="Review", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Review {release.key}")
    expect(page.get_by_text("Close the account", exact=True)).to_be_visible()  # the HITL policy
    page.get_by_label("Approve", exact=True).check()
    page.get_by_role("button", name="Sign").click()
    expect(page.locator(".flash")).to_contain_text(f"You approved {release.key} as security")
    expect(page.get_by_text("Nothing waits on you")).to_be_visible()
    page.context.clear_cookies()

    # The product owner sees the gate ready.
    sign_in(page, "pat@example.com")
    page.goto(url)
    expect(page.locator("#gate .verdict")).to_have_text("Ready")
    expect(page.locator("#sign-offs")).to_contain_text("Rita Reviewer")


def test_the_product_owner_reports_an_incident_works_it_and_closes_it(
    page: Page, org_a, member_factory
):
    from governance.models import Incident
    from tests.factories.governance import make_use_case_with_plan

    member_factory(org_a, Role.PRODUCT_OWNER, email="pat@example.com", full_name="Pat PO")
    uc, _, plan = make_use_case_with_plan(org_a, title="Refund answers")
    sign_in(page, "pat@example.com")
    page.goto(f"/o/{org_a.slug}/governance/incidents/")
    page.get_by_role("button", name="Report an incident").click()
    page.get_by_label("Title").fill("Promised a refund outside the policy")
    page.get_by_label("Summary").fill("A 45-day-old order was promised a refund.")
    page.get_by_label("Use case").select_option(str(uc.pk))
    page.get_by_label("or by (someone outside)").fill("Ticket 4411")
    page.get_by_label("Severity").select_option("2")
    page.get_by_label("Serious incident (EU AI Act Article 73)").check()
    page.get_by_label("Reporting clock").select_option("standard")
    page.get_by_role("button", name="Record the incident").click()
    # Serious without a reason: refused, and what was typed is still there.
    expect(page.get_by_text("Say why it is serious")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Promised a refund outside the policy")
    page.get_by_label("Why it is serious").fill("A customer lost money on our word.")
    page.get_by_role("button", name="Record the incident").click()
    expect(page.locator(".flash")).to_contain_text("INC-1 recorded. The Article 73 report is due")
    expect(page.locator("#clock")).to_contain_text("Serious incident (15 days)")

    page.get_by_label("Follow-up action").fill("Publish the refund-window answer")
    page.get_by_role("button", name="Add the follow-up").click()
    page.get_by_label("Status", exact=True).select_option("closed")
    page.get_by_role("button", name="Change").click()
    expect(page.locator(".errorlist")).to_contain_text("still open")

    row = page.locator("#follow-ups tbody tr").first
    row.get_by_label("Status of Publish the refund-window answer").select_option("done")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#follow-ups tbody tr").first).to_contain_text("Done")

    page.locator("#loop").get_by_label("Prompt").fill("Can I get a refund after 45 days?")
    page.get_by_role("button", name="Add regression case").click()
    expect(page.locator("#loop")).to_contain_text("(origin: incident)")
    # A serious incident closes once its complete Article 73 report is on record.
    for which in ("initial", "complete"):
        page.locator("#clock").get_by_label("Report").select_option(which)
        page.get_by_role("button", name="Record as sent").click()
        expect(page.locator(".flash")).to_contain_text(f"The {which} report of INC-1")
    expect(page.locator("#clock")).not_to_contain_text("Record as sent")
    page.get_by_label("Status", exact=True).select_option("closed")
    page.get_by_role("button", name="Change").click()
    expect(page.locator(".flash")).to_contain_text("INC-1 is closed")
    incident = Incident.objects.for_org(org_a).get()
    assert incident.status == "closed" and incident.regression_case.plan_id == plan.pk
