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
