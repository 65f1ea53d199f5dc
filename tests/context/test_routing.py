"""Routing a gap to the SME whose expertise matches, with a backup, or by hand; its SLA."""

from datetime import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from context import services
from context.models import ContextGap, ExpertiseTag, GapStatus, SmeExpertise
from tests.context.conftest import actor_of
from tests.factories.context import make_gap

pytestmark = pytest.mark.django_db


def profile(member, *tags, backup=None, available=True):
    return services.sme_profile_set(
        actor=actor_of(member),
        user=member.user,
        tags=list(tags),
        backup=backup,
        available=available,
    )


def test_tags_are_normalized_rows_queried_the_same_on_every_database(org_a, sme):
    profile(sme, "Gift Cards", "refunds", " refunds ", "Shipping;")
    names = sorted(ExpertiseTag.objects.for_org(org_a).values_list("name", flat=True))
    assert names == ["gift-cards", "refunds", "shipping"]
    # The lookup the JSON list could not do on SQLite: SMEs having a tag.
    assert SmeExpertise.objects.for_org(org_a).filter(tag__name="refunds").count() == 1


def test_a_gap_goes_to_the_sme_matching_most_of_its_tags_with_a_backup(org_a, po, sme, sme2):
    profile(sme, "refunds")
    profile(sme2, "refunds", "gift-cards", backup=po.user)
    gap = make_gap(org_a, tags=["gift-cards", "refunds"])

    route = services.route_for(gap)
    assert (route.assignee, route.backup) == (sme2.user, po.user)
    assert route.reason == "Expertise matches: gift-cards, refunds."

    routed = services.gap_route(actor=actor_of(po), gap=gap)
    assert (routed.status, routed.assigned_to, routed.backup) == ("routed", sme2.user, po.user)


def test_a_tie_goes_to_the_sme_with_fewer_open_questions_and_the_other_backs_up(
    org_a, po, sme, sme2
):
    profile(sme, "refunds")
    profile(sme2, "refunds")
    services.gap_route(actor=actor_of(po), gap=make_gap(org_a, tags=["refunds"]), assignee=sme.user)
    route = services.route_for(make_gap(org_a, question="Refund of a refund?", tags=["refunds"]))
    assert (route.assignee, route.backup) == (sme2.user, sme.user)


def test_an_unavailable_sme_gets_nothing_and_no_match_asks_for_a_hand(org_a, po, sme):
    profile(sme, "refunds", available=False)
    gap = make_gap(org_a, tags=["refunds"])
    with pytest.raises(ValidationError) as exc:
        services.gap_route(actor=actor_of(po), gap=gap)
    assert "No available SME has an expertise tag of this gap. Assign it by hand." in str(exc.value)
    assert ContextGap.objects.for_org(org_a).get(pk=gap.pk).status == GapStatus.OPEN


def test_assigned_by_hand_only_to_someone_who_may_answer(org_a, po, sme, member_factory):
    gap = make_gap(org_a)
    viewer = member_factory(org_a, "viewer")
    with pytest.raises(ValidationError):
        services.gap_route(actor=actor_of(po), gap=gap, assignee=viewer.user)
    assert (
        services.gap_route(actor=actor_of(po), gap=gap, assignee=sme.user).assigned_to == sme.user
    )


def test_the_due_date_is_the_org_sla_in_business_days_and_a_reassignment_keeps_it(
    org_a, po, sme, sme2, monkeypatch
):
    friday = timezone.make_aware(datetime(2026, 12, 11, 16, 0))
    monkeypatch.setattr(timezone, "now", lambda: friday)
    services.context_settings_update(actor=actor_of(po), sla_business_days=2)
    gap = services.gap_route(actor=actor_of(po), gap=make_gap(org_a), assignee=sme.user)
    assert gap.due_at == timezone.make_aware(datetime(2026, 12, 15, 16, 0))  # Tuesday
    again = services.gap_route(actor=actor_of(po), gap=gap, assignee=sme2.user)
    assert (again.assigned_to, again.due_at, again.routed_at) == (sme2.user, gap.due_at, friday)


def test_an_assignment_emails_the_sme_after_commit(
    org_a, po, sme, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        gap = services.gap_route(actor=actor_of(po), gap=make_gap(org_a), assignee=sme.user)
    assert [m.to for m in mailoutbox] == [["sara@a.example"]]
    assert f"{gap.key} is yours to answer by" in mailoutbox[0].subject
    assert f"/o/{org_a.slug}/context/gaps/{gap.number}/" in mailoutbox[0].body


def test_an_sla_breach_emails_the_sme_and_backup_once(org_a, po, sme, sme2, mailoutbox):
    from context.tasks import gaps_sla_check

    gap = services.gap_route(
        actor=actor_of(po), gap=make_gap(org_a), assignee=sme.user, backup=sme2.user
    )
    ContextGap.objects.for_org(org_a).filter(pk=gap.pk).update(
        due_at=timezone.now() - timezone.timedelta(hours=1)
    )
    mailoutbox.clear()
    assert gaps_sla_check() == 1
    assert gaps_sla_check() == 0
    assert [sorted(m.to) for m in mailoutbox] == [["sam@a.example", "sara@a.example"]]
    assert "past its SLA" in mailoutbox[0].subject
