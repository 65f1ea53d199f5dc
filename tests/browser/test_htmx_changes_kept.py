"""Controls that save on change never lose a change: against a deliberately slow server,
every selection made while a save is in flight is kept, on the page and in the database.

The rule (README, "htmx controls"): the form carries `hx-sync`, the swap target is the
panel beside the inputs (never the element being edited), and htmx settles at once.
"""

import time

import pytest
from playwright.sync_api import expect

from genai_po.roles import Role
from tests.browser.test_usecase_journey import SCORES, score_cell, sign_in
from tests.factories.usecases import UseCaseFactory
from usecases import services
from usecases.models import UseCase

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SERVER_LATENCY_S = 0.3
# Every criterion is changed twice in a burst, the second value being the one to keep.
FIRST_PASS = dict.fromkeys(SCORES, "1")


@pytest.fixture
def slow_scores(monkeypatch):
    """Each save of the scores takes 300 ms on the server (the live server is a thread of
    this process, so the patch applies to it)."""
    real = services.use_case_score
    calls = []

    def slow(**kwargs):
        calls.append(dict(kwargs["scores"]))
        time.sleep(SERVER_LATENCY_S)
        return real(**kwargs)

    monkeypatch.setattr(services, "use_case_score", slow)
    return calls


def test_a_burst_of_score_changes_during_slow_saves_keeps_every_last_choice(
    page, org_a, member_factory, slow_scores
):
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    use_case = UseCaseFactory(organization=org_a, title="Refund answers")
    sign_in(page, po.user.email)
    page.goto(f"/o/{org_a.slug}/use-cases/{use_case.number}/")
    panel = page.locator("#scores")

    # No waiting between changes: most of them land while an earlier save is in flight.
    for values in (FIRST_PASS, SCORES):
        for criterion, score in values.items():
            panel.get_by_label(criterion).select_option(score)

    for criterion, score in SCORES.items():
        expect(score_cell(page, criterion)).to_have_text(score, timeout=15_000)
        expect(panel.get_by_label(criterion)).to_have_value(score)
    page.wait_for_load_state("networkidle")
    stored = UseCase.objects.for_org(org_a).get(pk=use_case.pk)
    assert {c: str(stored.score_of(c)) for c in ("volume", "owner", "observable", "risk",
                                                 "context", "reuse")} == {
        "volume": "5", "owner": "4", "observable": "4", "risk": "3", "context": "4", "reuse": "2",
    }  # fmt: skip
    # The saves were queued, not one per change: hx-sync keeps only the latest waiting.
    assert 2 <= len(slow_scores) < 2 * len(SCORES)
