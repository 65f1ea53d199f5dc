"""The context backlog source: every open gap, weighed by severity and its SLA."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from context import services
from context.backlog import context_gap_entries
from context.models import ContextGap, GapStatus, GapUseCase
from tests.context.conftest import actor_of
from tests.factories.context import make_answer, make_gap
from tests.factories.usecases import UseCaseFactory
from usecases.backlog import backlog_of

pytestmark = pytest.mark.django_db

KIND = "context_gap"


def routed(org, po, gap, sme, *, due_in):
    gap = services.gap_route(actor=actor_of(po), gap=gap, assignee=sme.user)
    # Past the second's boundaries, so the day and hour counts are what they read.
    due_at = timezone.now() + due_in + timedelta(minutes=5 if due_in >= timedelta(0) else -5)
    ContextGap.objects.for_org(org).filter(pk=gap.pk).update(due_at=due_at)
    return gap


def gap_url(gap) -> str:
    return f"/o/org-a/context/gaps/{gap.number}/"


@pytest.fixture
def use_cases(org_a):
    return [UseCaseFactory(organization=org_a, number=n, title=f"UC {n}") for n in (1, 2)]


def test_every_open_gap_is_an_entry_weighed_by_severity_and_sla(org_a, po, sme, use_cases):
    uc1, uc2 = use_cases
    late = routed(
        org_a,
        po,
        make_gap(org_a, "Late?", severity="critical", use_cases=[uc2, uc1]),
        sme,
        due_in=-timedelta(days=2),
    )
    soon = routed(
        org_a,
        po,
        make_gap(org_a, "Soon?", severity="medium", use_cases=[uc2]),
        sme,
        due_in=timedelta(hours=5),
    )
    later = routed(
        org_a,
        po,
        make_gap(org_a, "Later?", severity="low", priority="p1"),
        sme,
        due_in=timedelta(days=3),
    )
    waiting = services.gap_create(
        actor=actor_of(po), question="Nobody yet?", severity="high", tags=["gift-cards"]
    )
    review = make_answer(org_a, make_gap(org_a, "Answered?")).gap
    review.refresh_from_db()
    # Done with, or waiting on the automatic re-check: none of these is an entry.
    for status in ("closed", "wont_fix", "verified", "duplicate", "published"):
        gap = make_gap(org_a, f"{status}?", use_cases=[uc1])
        ContextGap.objects.for_org(org_a).filter(pk=gap.pk).update(status=status)

    entries = sorted(context_gap_entries(org_a), key=lambda e: e.obj.number)

    assert [(e.key, e.title, e.url, e.obj, e.impact, e.urgency, e.effort, e.why)
            for e in entries] == [
        (late.key, "Late?", gap_url(late), late, 5, 5, 2, "SLA passed 2 days ago"),
        (soon.key, "Soon?", gap_url(soon), soon, 3, 4, 2, "SLA due in 5 h"),
        (later.key, "Later?", gap_url(later), later, 5, 3, 2, "SLA due in 3 days"),
        (waiting.key, "Nobody yet?", gap_url(waiting), waiting, 4, 2, 2, "waiting for an SME"),
        (review.key, "Answered?", gap_url(review), review, 3, 3, 2,
         "answered, waiting for review"),
    ]  # fmt: skip
    assert [(e.kind, e.owner, e.use_case) for e in entries] == [
        (KIND, sme.user, uc1),  # the linked use case of the lowest number
        (KIND, sme.user, uc2),
        (KIND, sme.user, None),
        (KIND, po.user, None),  # nobody assigned: whoever recorded it
        (KIND, review.assigned_to, None),
    ]
    assert entries[0].created_at == late.created_at
    assert late.key == f"GAP-{late.number}"


def test_an_assigned_gap_with_no_sla_waits_on_its_sme(org_a, sme):
    gap = make_gap(org_a, "Assigned by hand?")
    ContextGap.objects.for_org(org_a).filter(pk=gap.pk).update(assigned_to=sme.user)
    [entry] = context_gap_entries(org_a)
    assert (entry.urgency, entry.why, entry.owner) == (3, "with Sara SME, no SLA", sme.user)


def test_a_resolved_gap_leaves_and_a_reopened_one_comes_back(org_a, po):
    gap = make_gap(org_a, "Refund on a gift card?")
    assert [e.obj for e in context_gap_entries(org_a)] == [gap]

    services.gap_set_status(actor=actor_of(po), gap=gap, status=GapStatus.CLOSED, resolution="ok")
    assert context_gap_entries(org_a) == []

    services.gap_set_status(actor=actor_of(po), gap=gap, status=GapStatus.OPEN)
    assert [e.key for e in context_gap_entries(org_a)] == [gap.key]


def test_the_use_case_filter_keeps_the_gaps_linked_to_it(org_a, use_cases):
    uc1, uc2 = use_cases
    both = make_gap(org_a, "Both?", use_cases=[uc1, uc2])
    only_1 = make_gap(org_a, "Only 1?", use_cases=[uc1])
    make_gap(org_a, "None?")

    assert [(e.obj, e.use_case) for e in context_gap_entries(org_a, use_case=uc2)] == [(both, uc2)]
    assert sorted(
        ((e.obj.number, e.use_case) for e in context_gap_entries(org_a, use_case=uc1)),
        key=lambda row: row[0],
    ) == [(both.number, uc1), (only_1.number, uc1)]


def test_another_organization_s_gaps_never_show(org_a, org_b, use_cases):
    mine = make_gap(org_a, "Mine?", use_cases=[use_cases[0]])
    uc_b = UseCaseFactory(organization=org_b, number=1)
    theirs = make_gap(org_b, "Theirs?", use_cases=[uc_b])

    assert [e.obj for e in context_gap_entries(org_a)] == [mine]
    assert [e.obj for e in context_gap_entries(org_b)] == [theirs]
    assert context_gap_entries(org_a, use_case=uc_b) == []


def _gaps(org, use_cases, users, start, n):
    now = timezone.now()
    gaps = ContextGap.objects.bulk_create(
        ContextGap(organization=org, number=start + i, question=f"Question {start + i}?",
                   detected_by="manual", status="routed" if i % 2 else "open",
                   assigned_to=users[0] if i % 2 else None, created_by=users[1],
                   due_at=now + timedelta(days=i - 3) if i % 2 else None)
        for i in range(n)
    )  # fmt: skip
    GapUseCase.objects.bulk_create(
        GapUseCase(organization=org, gap=gap, use_case=uc) for gap in gaps for uc in use_cases
    )


def _read(org, **kwargs):
    return [
        (e.owner_name, e.use_case.key, e.why, e.ref.split(".")[1])
        for e in context_gap_entries(org, **kwargs)
    ]


@pytest.mark.parametrize("scoped", [False, True])
def test_a_fixed_number_of_queries_whatever_the_number_of_gaps(
    org_a, po, sme, use_cases, django_assert_num_queries, scoped
):
    kwargs = {"use_case": use_cases[1]} if scoped else {}
    users = [sme.user, po.user]
    _gaps(org_a, use_cases, users, 1, 2)
    _read(org_a, **kwargs)  # the content type of `ref` is cached from here on
    with CaptureQueriesContext(connection) as few:
        assert len(_read(org_a, **kwargs)) == 2
    assert len(few) == (1 if scoped else 2)

    _gaps(org_a, use_cases, users, 3, 28)
    with django_assert_num_queries(len(few)):
        assert len(_read(org_a, **kwargs)) == 30


def test_the_source_is_registered_with_the_backlog(org_a):
    gap = make_gap(org_a, "Refund on a gift card?")
    backlog = backlog_of(org_a, kinds=[KIND])
    assert [(e.kind, e.kind_label, e.obj) for e in backlog.entries] == [(KIND, "Context gaps", gap)]
