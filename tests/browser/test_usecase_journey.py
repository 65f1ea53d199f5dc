"""A product owner's journey through the use-case pages in a real browser: write a brief,
score it (the Priority panel swaps live), write its AI PRD with requirements until the
readiness panel says Ready, and compare two versions of the PRD."""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from genai_po.roles import Role
from tests.factories import TEST_PASSWORD
from tests.factories.usecases import UseCaseFactory
from usecases.models import Requirement

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PO_EMAIL = "pat.po@example.com"
PO_NAME = "Pat PO"
REVIEW = "Weekly review of 20 sampled answers"
CITES = "When it answers, the assistant cites the refund policy section it relies on."
NO_PROMISE = "The assistant never promises a refund; it hands over to an agent instead."
POLITE = "The assistant answers in a friendly, plain tone."
# Score per criterion; with the default weights (3, 2, 2, 2, 2, 1): 47 / 12 = 3.917.
SCORES = {
    "Volume or cost of the pain": "5",
    "Clear owner and reachable users": "4",
    "Observable success and failure": "4",
    "Manageable risk and escalation path": "3",
    "Available context sources or SMEs": "4",
    "Path from narrow launch to reuse": "2",
}
RANKED = (
    "Rank 1 of 1 with 3.917 out of 5. "
    "Biggest contribution: volume or cost of the pain (5/5 x weight 3). "
    "Weakest: path from narrow launch to reuse (2/5)."
)


@pytest.fixture
def product_owner(org_a, member_factory):
    """Pat is the product owner of organization A, and its only member."""
    return member_factory(org_a, Role.PRODUCT_OWNER, email=PO_EMAIL, full_name=PO_NAME).user


# --- What a user does, step by step


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def area(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Areas").get_by_role("link", name=name).click()


def mark_page(page: Page) -> None:
    """A marker on window that a full page load would wipe out; htmx swaps keep it."""
    page.evaluate("window.notReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"


def priority(page: Page) -> Locator:
    return page.locator("#scores")


def score_cell(page: Page, criterion: str) -> Locator:
    """The Score column of a criterion's row in the Priority panel."""
    return priority(page).locator("tbody tr").filter(has_text=criterion).locator("td").nth(1)


def version_line(number: int, summary: str) -> re.Pattern:
    """What the PRD says of its latest version (the regex does not trim: the page's text
    starts and ends with blank space)."""
    saved = rf"saved \d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}} UTC by {re.escape(PO_EMAIL)}"
    return re.compile(rf"^\s*Version {number} · {saved} · {re.escape(summary)}\s*$")


def readiness(page: Page) -> Locator:
    return page.locator("#readiness")


def prd_meta(page: Page) -> Locator:
    return page.locator("#prd-meta")


def requirement(page: Page, key: str) -> Locator:
    """The row of a requirement, found by its key (REQ-1 is not REQ-10)."""
    return page.locator("li.requirement").filter(
        has=page.locator(".req-key").get_by_text(key, exact=True)
    )


def add_requirement(page: Page, statement: str, *, blocking: bool, owner: str = "") -> None:
    """Open the inline form (it stays open only while there is no requirement), fill, add."""
    details = page.locator("details.add-requirement")
    if details.get_attribute("open") is None:
        details.get_by_text("Add a requirement", exact=True).click()
    form = details.locator("form")
    form.get_by_label("Statement").fill(statement)
    form.get_by_label("Launch-blocking").set_checked(blocking)
    if owner:
        form.get_by_label("Owner").select_option(label=owner)
    form.get_by_role("button", name="Add requirement").click()


def add_review(page: Page, key: str, name: str, reviewer: str) -> None:
    row = requirement(page, key)
    row.get_by_text(f"Add a verification to {key}", exact=True).click()
    expect(row.get_by_label("Kind")).to_have_value("human_review")
    row.get_by_label("Review name").fill(name)
    row.get_by_label("Reviewer").select_option(label=reviewer)
    row.get_by_role("button", name="Add verification").click()


def readiness_items(page: Page) -> Locator:
    return readiness(page).get_by_role("listitem")


# --- The journeys


def test_product_owner_briefs_scores_and_writes_a_ready_prd(page: Page, live_server, product_owner):
    sign_in(page, PO_EMAIL)
    expect(page).to_have_url(f"{live_server.url}/o/org-a/")

    # Use cases: none yet, so the list is an invitation to write the first brief.
    area(page, "Use cases")
    expect(page).to_have_url(f"{live_server.url}/o/org-a/use-cases/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Use cases")
    expect(page.locator("#results .empty-state")).to_have_text(
        "No use cases yet. Start with the workflow whose pain is the most frequent or costly. "
        "Write the first brief"
    )
    expect(page.locator("#results table")).to_have_count(0)
    page.get_by_role("button", name="Write the first brief").click()

    # The brief, with Pat as its owner and a metric with baseline and target.
    expect(page).to_have_url(f"{live_server.url}/o/org-a/use-cases/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New use case")
    page.get_by_label("Title").fill("Refund answers")
    page.get_by_label("Problem").fill("Agents spend minutes finding the refund policy.")
    page.get_by_label("Workflow").fill("Tier-1 support answers refund questions.")
    page.get_by_label("Target users", exact=True).fill("Tier-1 support agents")
    page.get_by_label("Number of users").fill("40")
    page.get_by_label("Owner").select_option(label=PO_NAME)
    page.get_by_label("Business metric").fill("Handling time")
    page.get_by_label("Unit").fill("minutes")
    page.get_by_label("Baseline").fill("12")
    page.get_by_label("Target", exact=True).fill("4")
    page.get_by_role("button", name="Create use case").click()

    expect(page).to_have_url(f"{live_server.url}/o/org-a/use-cases/1/")
    expect(page.get_by_role("status")).to_have_text("UC-1 created. Score it and write its PRD.")
    expect(page.get_by_role("heading", level=1)).to_have_text("UC-1 · Refund answers")
    expect(page.locator("hgroup p")).to_have_text("Discover · Limited risk · Proposed")
    expect(page.locator("dl.brief dt")).to_have_text(
        [
            "Problem",
            "Workflow it changes",
            "Target users",
            "Owner",
            "Department",
            "Value hypothesis",
            "Business metric",
            "Risk tier",
            "Human involvement",
        ]
    )
    expect(page.locator("dl.brief dd")).to_have_text(
        [
            "Agents spend minutes finding the refund policy.",
            "Tier-1 support answers refund questions.",
            "Tier-1 support agents (40 users)",
            PO_NAME,
            "—",
            "—",
            "Handling time (minutes): baseline 12.00, target 4.00",
            "Limited People use the AI and must know it; outputs reviewed or low-stakes.",
            "A human reviews escalations and samples",
        ]
    )

    # Scores: each select saves at once and htmx swaps the Priority panel in place.
    expect(priority(page).locator("p strong")).to_have_text(
        "Not ranked: score volume or cost of the pain, clear owner and reachable users, "
        "observable success and failure, manageable risk and escalation path, available "
        "context sources or SMEs, path from narrow launch to reuse first."
    )
    mark_page(page)
    for criterion, score in SCORES.items():
        priority(page).get_by_label(criterion).select_option(score)
        expect(score_cell(page, criterion)).to_have_text(score)
        expect(priority(page).get_by_label(criterion)).to_have_value(score)
    expect(priority(page).locator("p strong")).to_have_text(RANKED)
    expect(priority(page).locator("tbody tr").first.locator("td")).to_have_text(
        ["Volume or cost of the pain", "5", "3", "1.25"]
    )
    assert_not_reloaded(page)
    expect(page.get_by_role("status")).to_have_text("UC-1 created. Score it and write its PRD.")

    # The AI PRD: no PRD yet, so the sections editor is open, starting from the template.
    page.get_by_role("button", name="AI PRD").click()
    expect(page).to_have_url(f"{live_server.url}/o/org-a/use-cases/1/prd/")
    expect(page.get_by_role("heading", level=1)).to_have_text("UC-1 · AI PRD")
    expect(prd_meta(page)).to_have_text("Not saved yet: no version.")
    expect(page.locator(".notice")).to_have_text(
        "No PRD yet: the problem, the workflow and the goal start from what the brief says, the "
        "other sections from the organization's template. Saving creates version 1."
    )
    page.get_by_label("User problem").fill("Agents spend minutes finding the refund policy.")
    page.get_by_label("User goal").fill("Answer a refund question correctly, first time.")
    page.get_by_label("Required sources").fill("Refund policy v7.")
    page.get_by_label("Forbidden actions").fill("Promising a refund.")
    page.get_by_label("Handoff rules").fill("Any refund request goes to an agent.")
    page.get_by_label("Change summary").fill("First draft from the brief")
    page.get_by_role("button", name="Save as a new version").click()

    expect(page.get_by_role("status")).to_have_text("PRD saved as version 1.")
    expect(prd_meta(page)).to_have_text(version_line(1, "First draft from the brief"))
    sections = page.locator("section.prd-section")
    expect(sections.locator("h3")).to_have_count(11)
    expect(page.locator("#section-user_goal")).to_have_text(
        "User goal Answer a refund question correctly, first time."
    )
    expect(page.locator("#section-allowed_tools")).to_have_text("Allowed tools Not written yet.")
    expect(readiness(page).get_by_role("heading")).to_have_text("Not ready")
    expect(readiness(page).locator("p")).to_have_text(
        "No requirements yet. If a behavior cannot be tested, monitored, or reviewed by an "
        "owner, it is not ready for production."
    )

    # Three requirements, inline: each one is a new version of the PRD.
    mark_page(page)
    add_requirement(page, CITES, blocking=True)
    expect(requirement(page, "REQ-1").locator(".statement")).to_have_text(CITES)
    add_requirement(page, NO_PROMISE, blocking=True, owner=PO_NAME)
    expect(requirement(page, "REQ-2").locator(".statement")).to_have_text(NO_PROMISE)
    add_requirement(page, POLITE, blocking=False)
    expect(requirement(page, "REQ-3").locator(".statement")).to_have_text(POLITE)
    expect(page.locator("#requirement-list .req-key")).to_have_text(["REQ-1", "REQ-2", "REQ-3"])
    expect(requirement(page, "REQ-1").locator(".requirement-head")).to_have_text(
        "REQ-1 Behavior Launch-blocking Draft"
    )
    expect(requirement(page, "REQ-3").locator(".requirement-head")).to_have_text(
        "REQ-3 Behavior Draft"
    )
    expect(page.locator(".req-facts")).to_have_text(
        [
            "Owner: none · Verification method: Eval",
            f"Owner: {PO_NAME} · Verification method: Eval",
            "Owner: none · Verification method: Eval",
        ]
    )
    expect(prd_meta(page)).to_have_text(version_line(4, "REQ-3 added"))

    # Not ready: both launch-blocking requirements, with what each one lacks.
    expect(readiness(page).get_by_role("heading")).to_have_text("Not ready")
    expect(readiness(page).locator("p")).to_have_text(
        "2 of 2 launch-blocking requirements cannot yet be tested, monitored or reviewed "
        "by an owner:"
    )
    expect(readiness_items(page)).to_have_text(
        ["REQ-1: no owner, no verification", "REQ-2: no verification"]
    )

    # REQ-2 has its owner: a named human review takes it off the list.
    add_review(page, "REQ-2", REVIEW, PO_NAME)
    expect(requirement(page, "REQ-2").locator(".verifications li")).to_have_text(
        f"Named human review: {REVIEW} · owner {PO_NAME} Remove {REVIEW}"
    )
    expect(readiness_items(page)).to_have_text(["REQ-1: no owner, no verification"])
    expect(readiness(page).locator("p")).to_have_text(
        "1 of 2 launch-blocking requirements cannot yet be tested, monitored or reviewed "
        "by an owner:"
    )

    # REQ-1: edited in place to give it an owner, then a review.
    requirement(page, "REQ-1").get_by_role("button", name="Edit REQ-1").click()
    row = requirement(page, "REQ-1")
    expect(row.get_by_label("Statement")).to_be_focused()
    expect(row.get_by_label("Statement")).to_have_value(CITES)
    row.get_by_label("Owner").select_option(label=PO_NAME)
    row.get_by_role("button", name="Save REQ-1").click()
    expect(requirement(page, "REQ-1").locator(".req-facts")).to_have_text(
        f"Owner: {PO_NAME} · Verification method: Eval"
    )
    expect(readiness_items(page)).to_have_text(["REQ-1: no verification"])
    expect(prd_meta(page)).to_have_text(version_line(5, "REQ-1 changed: owner"))

    add_review(page, "REQ-1", "Policy citations checked by the support lead", PO_NAME)
    expect(readiness(page).get_by_role("heading")).to_have_text("Ready")
    expect(readiness(page).locator("p")).to_have_text(
        "Every launch-blocking requirement (2) has a verification and an owner."
    )
    expect(readiness_items(page)).to_have_count(0)
    assert_not_reloaded(page)

    # Versions: compare 3 (two requirements) with 4 (REQ-3 added).
    page.get_by_role("navigation", name="PRD").get_by_role("link", name="Versions and diff").click()
    expect(page).to_have_url(f"{live_server.url}/o/org-a/use-cases/1/prd/versions/")
    expect(page.get_by_role("heading", level=1)).to_have_text("UC-1 · PRD versions")
    history = page.locator("table tbody tr")
    expect(history.locator("td:nth-child(1)")).to_have_text(["v5", "v4", "v3", "v2", "v1"])
    expect(history.locator("td:nth-child(4)")).to_have_text(
        [
            "REQ-1 changed: owner",
            "REQ-3 added",
            "REQ-2 added",
            "REQ-1 added",
            "First draft from the brief",
        ]
    )
    page.get_by_label("From version (A)").fill("3")
    page.get_by_label("To version (B)").fill("4")
    page.get_by_role("button", name="Compare").click()

    expect(page).to_have_url(f"{live_server.url}/o/org-a/use-cases/1/prd/versions/?a=3&b=4")
    compare = page.locator("#compare")
    expect(compare.get_by_role("heading", level=2)).to_have_text("From version 3 to version 4")
    # Only the requirements changed; the sections did not.
    expect(compare.get_by_role("heading", level=3)).to_have_text(["Requirements"])
    lines = compare.get_by_role("listitem")
    expect(lines).to_have_text(
        [
            f"REQ-1 [behavior; eval; draft; launch-blocking; owner -] {CITES}",
            f"REQ-2 [behavior; eval; draft; launch-blocking; owner {PO_EMAIL}] {NO_PROMISE}",
            f"Added: REQ-3 [behavior; eval; draft; owner -] {POLITE}",
        ]
    )
    expect(compare.locator("ins.diff-added")).to_have_count(1)
    expect(compare.locator("del.diff-removed")).to_have_count(0)


def test_a_requirement_without_statement_shows_the_error_inline_and_adds_nothing(
    page: Page, live_server, org_a, product_owner
):
    UseCaseFactory(organization=org_a, number=1, title="Refund answers")
    sign_in(page, PO_EMAIL)
    page.goto("/o/org-a/use-cases/1/prd/")
    expect(page.get_by_role("heading", level=1)).to_have_text("UC-1 · AI PRD")
    form = page.locator("details.add-requirement form")
    expect(form).to_be_visible()  # open: there is no requirement yet

    mark_page(page)
    form.get_by_label("Type").select_option(label="Forbidden action")
    form.get_by_label("Launch-blocking").check()
    form.get_by_role("button", name="Add requirement").click()

    # The panel comes back (a 400) with the error at the statement and the choices kept.
    statement = form.get_by_label("Statement")
    expect(form.locator(".field-statement .errorlist")).to_have_text("State the expected behavior.")
    expect(statement).to_have_attribute("aria-invalid", "true")
    expect(statement).to_have_value("")
    expect(form.get_by_label("Type")).to_have_value("forbidden")
    expect(form.get_by_label("Launch-blocking")).to_be_checked()
    expect(page.locator("#requirements .empty-state")).to_have_text(
        "No requirements yet. Write each expected behavior as one testable statement."
    )
    expect(page.locator("li.requirement")).to_have_count(0)
    expect(prd_meta(page)).to_have_text("Not saved yet: no version.")
    assert_not_reloaded(page)
    assert not Requirement.objects.for_org(org_a).exists()
