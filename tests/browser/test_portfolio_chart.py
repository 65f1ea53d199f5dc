"""The portfolio chart in a real browser, under the strict CSP (no inline style)."""

import re

import pytest
from playwright.sync_api import expect

from genai_po.roles import Role
from tests.factories import TEST_PASSWORD
from tests.usecases.test_portfolio import URL, _rank, _uc
from usecases.models import RiskTier, Stage


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_chart_draws_under_the_strict_csp_and_follows_the_filters(
    page, live_server, org_a, member_factory
):
    member_factory(org_a, Role.PRODUCT_OWNER, email="chart@example.com")
    _uc(org_a, 1, "Refund <answers>", (5, 4, 3, 4, 2, 3), risk_tier=RiskTier.HIGH,
        user_count=40, stage=Stage.EVALUATE)  # fmt: skip
    _uc(org_a, 2, "Triage", (2, 2, 2, 2, 2, 2), risk_tier=RiskTier.MINIMAL, stage=Stage.DISCOVER)
    _rank(org_a)
    errors: list[str] = []
    page.set_default_timeout(10_000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill("chart@example.com")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(URL)

    chart = page.locator("[data-plotly-figure]")
    points = chart.locator(".scatterlayer .point")
    expect(points).to_have_count(2)
    # plotly.js's own rules come from app.css, not from an inline <style>.
    assert page.locator("style").count() == 0
    assert chart.locator(".main-svg").first.evaluate("e => getComputedStyle(e).position") == (
        "absolute"
    )
    chart.scroll_into_view_if_needed()
    box = points.nth(1).bounding_box()  # the high-risk trace is drawn after the minimal one
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(chart.locator(".hoverlayer")).to_contain_text("UC-1 Refund <answers>")

    page.get_by_label("Stage").select_option("discover")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"stage=discover"))
    expect(page.locator(".portfolio-table tbody tr")).to_have_count(1)
    expect(page.locator("[data-plotly-figure] .scatterlayer .point")).to_have_count(1)
    assert [e for e in errors if "favicon" not in e] == []
