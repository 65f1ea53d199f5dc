"""The metrics dashboard in a real browser: its charts drawn with their data points, a new
date range swapped in by htmx with the charts redrawn, and a refresh that keeps them."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from genai_po.roles import Role
from metrics import ingest, rollups
from tests.factories import TEST_PASSWORD
from tests.factories.usecases import UseCaseFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_draws_its_charts_and_follows_the_range(
    page, live_server, org_a, member_factory
):
    member_factory(org_a, Role.PRODUCT_OWNER, email="dash@example.com")
    uc = UseCaseFactory(organization=org_a, title="Refund answers")
    now = timezone.now()
    ingest.ingest(org_a.pk, [
        {"event_id": f"b-{day}-{n}", "use_case": uc.key, "type": "interaction",
         "outcome": "success" if n % 5 else "escalated", "user": f"u{n}",
         "occurred_at": (now - timedelta(days=day, minutes=10)).isoformat()}
        for day in range(20) for n in range(6)
    ])  # fmt: skip
    rollups.rollup_organization(org_a.pk)
    page.set_default_timeout(10_000)
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill("dash@example.com")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/o/{org_a.slug}/metrics/use-cases/{uc.number}/")

    outcomes = page.locator("#chart-outcomes .metric-chart")
    expect(outcomes).to_have_attribute("data-points", "20")
    # One bar per day in the "Successful" trace, drawn by plotly.js.
    expect(outcomes.locator(".barlayer .trace").first.locator(".point")).to_have_count(20)
    expect(
        page.locator("#chart-adoption .scatterlayer .trace").first.locator(".point")
    ).to_have_count(20)
    expect(page.locator("#kpi-escalation_rate .kpi-value")).to_have_text(
        "33.3%"
    )  # n = 0 and 5 of 6
    assert page.locator("style").count() == 0  # the strict CSP holds: no inline style

    page.get_by_label("Range", exact=True).select_option("7d")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page).to_have_url(re.compile(r"range=7d"))
    outcomes = page.locator("#chart-outcomes .metric-chart")
    expect(outcomes).to_have_attribute("data-points", "7")
    expect(outcomes.locator(".barlayer .trace").first.locator(".point")).to_have_count(7)

    stamp = page.locator(".updated-at").get_attribute("datetime")
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator(".updated-at")).not_to_have_attribute("datetime", stamp)
    expect(page.locator("#chart-outcomes .barlayer .trace").first.locator(".point")).to_have_count(
        7
    )
    expect(page.locator("#chart-quality .main-svg").first).to_be_visible()

    today = timezone.localdate()
    page.get_by_label("From").fill(f"{today - timedelta(days=4):%Y-%m-%d}")
    page.get_by_label("To").fill(f"{today:%Y-%m-%d}")
    page.get_by_role("button", name="Show these dates").click()
    expect(page).to_have_url(re.compile(r"start=.*&end="))
    expect(page.locator("#chart-outcomes .metric-chart")).to_have_attribute("data-points", "5")
