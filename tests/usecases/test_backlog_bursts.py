"""Backlog writes under a burst: feature items numbered once each, a member's rank moved by
many requests at once stays one entry per place, a view saved twice at once is one view."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from genai_po.actors import Actor
from genai_po.roles import Role
from usecases import backlog, backlog_services
from usecases.models import BacklogItem, BacklogRank, BacklogView

BURST = 12


def _burst(work):
    def run(n):
        try:
            return work(n)
        finally:
            connection.close()

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(run, range(BURST)))


@pytest.mark.django_db(transaction=True)  # the threads write through their own connections
def test_a_burst_of_backlog_writes_gives_no_error_and_no_duplicate(org_a, member_factory):
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    actor = Actor.for_member(user=po.user, organization=org_a, role=Role.PRODUCT_OWNER)

    items = _burst(lambda n: backlog_services.backlog_item_create(
        actor=actor, data={"title": f"Item {n}", "value": 1 + n % 5, "effort": 1}))  # fmt: skip
    assert sorted(i.number for i in items) == list(range(1, BURST + 1))

    refs = [e.ref for e in backlog.backlog_of(org_a).entries]
    _burst(lambda n: backlog_services.backlog_rank_move(
        actor=actor, ref=refs[n], to_top=True))  # fmt: skip
    ranks = BacklogRank.objects.for_org(org_a).filter(user=po.user)
    assert ranks.count() == BURST
    assert sorted(ranks.values_list("position", flat=True)) == list(range(BURST))

    _burst(lambda n: backlog_services.backlog_view_save(
        actor=actor, name="Mine", filters={"order": "mine"}))  # fmt: skip
    assert BacklogView.objects.for_org(org_a).filter(user=po.user).count() == 1
    assert BacklogItem.objects.for_org(org_a).count() == BURST
