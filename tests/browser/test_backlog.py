"""The backlog in a real browser: a product owner adds a feature item, sees it among the
other areas' work, and keeps a rank of their own by keyboard and by drag and drop."""

import pytest
from playwright.sync_api import expect

from genai_po.actors import Actor
from genai_po.roles import Role
from tests.factories import TEST_PASSWORD
from tests.factories.usecases import UseCaseFactory
from usecases import backlog_services


def _order(page) -> list[str]:
    return page.locator("table.backlog tbody tr").evaluate_all(
        "rows => rows.map(r => r.querySelector('td:nth-child(3) a').textContent)"
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_product_owner_adds_work_and_ranks_it_by_keyboard_and_by_dragging(
    page, live_server, org_a, member_factory
):
    po = member_factory(org_a, Role.PRODUCT_OWNER, email="rank@example.com", full_name="Pia PO")
    uc = UseCaseFactory(organization=org_a, title="Refund answers")
    actor = Actor.system(organization=org_a, label="test")
    for title, value in (("Cite the policy section", 5), ("Answer in French", 2)):
        backlog_services.backlog_item_create(
            actor=actor, data={"title": title, "value": value, "effort": 1, "use_case": uc}
        )
    page.set_default_timeout(10_000)
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill("rank@example.com")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Backlog").click()

    # A new item, with its owner shown by name.
    form = page.locator("#new-item")
    form.get_by_label("Title").fill("Show the answer's sources")
    form.get_by_label("Value").select_option("4")
    form.get_by_label("Effort").select_option("1")
    form.get_by_label("Owner").select_option(label="Pia PO")
    form.get_by_role("button", name="Add to the backlog").click()
    expect(page.get_by_text("BL-3 added to the backlog.")).to_be_visible()
    assert _order(page) == ["BL-1", "BL-3", "BL-2"]  # by score: 10, 8, 4
    expect(page.locator("tr", has_text="BL-3").get_by_text("Pia PO")).to_be_visible()

    # By keyboard: the ↓ button of BL-1, reached and pressed without a mouse.
    page.get_by_role("button", name="Move BL-1 down").focus()
    page.keyboard.press("Enter")
    expect(page.locator("table.backlog tbody tr").first).to_contain_text("BL-3")
    assert _order(page) == ["BL-3", "BL-1", "BL-2"]

    # By dragging: BL-2 dropped on the top half of the first row goes first (the events a
    # mouse drag fires, dispatched to the rows; htmx swaps in the re-ordered list).
    page.evaluate("""() => {
        const rows = document.querySelectorAll('table.backlog tbody tr');
        const moved = rows[2], first = rows[0];
        const data = new DataTransfer();
        const top = first.getBoundingClientRect().top + 2;
        moved.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: data}));
        first.dispatchEvent(new DragEvent('dragover',
            {bubbles: true, cancelable: true, clientY: top, dataTransfer: data}));
        first.dispatchEvent(new DragEvent('drop',
            {bubbles: true, cancelable: true, clientY: top, dataTransfer: data}));
        moved.dispatchEvent(new DragEvent('dragend', {bubbles: true, dataTransfer: data}));
    }""")
    expect(page.locator("table.backlog tbody tr").first).to_contain_text("BL-2")
    page.reload()
    assert _order(page) == ["BL-2", "BL-3", "BL-1"]  # kept, in my own rank
    assert po.user.pk  # the rank is the member's own (tests/usecases cover other members)
