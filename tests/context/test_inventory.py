"""The context inventory: freshness (fresh, due, stale) computed daily, owners told once,
"mark verified" in one click; pages per organization and per use case, filterable."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from context import services
from context.models import ContextSource, Freshness
from context.tasks import sources_freshness
from tests.context.conftest import actor_of
from tests.factories.context import make_source
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("days_left", "every", "state"),
    [
        (30, 90, "fresh"),
        (8, 90, "fresh"),
        (7, 90, "due"),
        (0, 90, "due"),
        (-1, 90, "stale"),
        (2, 8, "due"),
        (3, 8, "fresh"),
        (1, 2, "due"),
    ],
)
def test_freshness_from_the_next_review_date(days_left, every, state):
    today = date(2026, 12, 7)
    got = services.freshness_of(
        next_review_due=today + timedelta(days=days_left), review_every_days=every, today=today
    )
    assert got == state


def _age(source, days: int) -> None:
    """Make the source's last check `days` old (history, as time passing would)."""
    checked = timezone.now() - timedelta(days=days)
    ContextSource.objects.for_org(source.organization_id).filter(pk=source.pk).update(
        last_verified_at=checked, next_review_due=(checked + timedelta(days=90)).date()
    )


def test_the_daily_task_marks_stale_sources_and_tells_their_owners_once(org_a, po, sme, mailoutbox):
    source = make_source(org_a, owner=po.user, steward=sme.user)
    fresh = make_source(org_a)
    _age(source, 100)
    assert sources_freshness() == 1
    assert sources_freshness() == 0  # still stale, but nobody is told twice
    source.refresh_from_db()
    fresh.refresh_from_db()
    assert (source.freshness, fresh.freshness) == (Freshness.STALE, Freshness.FRESH)
    assert [sorted(m.to) for m in mailoutbox] == [["po@a.example", "sara@a.example"]]
    assert f"Context source {source.name} is stale" in mailoutbox[0].subject

    services.source_mark_verified(actor=actor_of(sme), source=source)
    source.refresh_from_db()
    assert source.freshness == Freshness.FRESH
    assert (source.last_verified_by, source.stale_notified_at) == (sme.user, None)
    assert source.next_review_due == timezone.localdate() + timedelta(days=90)


def test_the_inventory_page_puts_stale_first_and_filters_by_use_case(client, org_a, po):
    use_case = UseCaseFactory(organization=org_a, number=7)
    stale = make_source(org_a, name="Old warranty terms")
    make_source(org_a, name="A fresh policy")
    covering = services.source_create(
        actor=actor_of(po),
        use_cases=[use_case],
        data={"name": "Covers UC-7", "source_type": "api", "location": "https://api.example/x"},
    )
    _age(stale, 200)
    sources_freshness()
    client.force_login(po.user)
    page = client.get(f"/o/{org_a.slug}/context/sources/").content.decode()
    assert page.index("Old warranty terms") < page.index("A fresh policy")
    assert '<strong class="bad">Stale</strong>' in page
    only = client.get(f"/o/{org_a.slug}/context/sources/?use_case=7").content.decode()
    assert covering.name in only and "Old warranty terms" not in only
    assert "Mark verified" in page


def test_mark_verified_is_one_click_that_swaps_the_row(client, org_a, sme):
    source = make_source(org_a)
    _age(source, 200)
    sources_freshness()
    client.force_login(sme.user)
    response = client.post(
        f"/o/{org_a.slug}/context/sources/{source.pk}/verify/", HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="source-{source.pk}" class="freshness-fresh">')
    assert "Fresh" in html


def test_a_viewer_cannot_verify_and_nothing_changes(client, org_a, member_factory):
    source = make_source(org_a)
    client.force_login(member_factory(org_a, "viewer").user)
    assert client.post(f"/o/{org_a.slug}/context/sources/{source.pk}/verify/").status_code == 403
    source.refresh_from_db()
    assert source.last_verified_at is None
