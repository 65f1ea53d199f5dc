"""What the reviews of the context loop found, each kept from coming back: a returned answer
in the inbox, a token's answer approved by its own creator, ids beyond 64 bits, duplicate
cycles and chains, tags split into letters, answers published onto closed gaps, retired
knowledge leaving gaps verified, a second pending version of an item, spoofed eval
failures, and a settings page that answered 405."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from context import services
from context.models import AnswerStatus, ContextGap, GapStatus
from genai_po.actors import Actor
from tests.context.conftest import actor_of
from tests.factories.context import make_answer, make_gap, make_knowledge, system

pytestmark = pytest.mark.django_db


def test_an_answer_sent_back_shows_in_its_authors_inbox_and_revise_page(client, org_a, po, sme):
    answer = make_answer(org_a, author=sme)
    services.answer_review(
        actor=actor_of(po), answer=answer, decision="request_changes", comment="Cite the policy."
    )
    client.force_login(sme.user)
    inbox = client.get(f"/o/{org_a.slug}/context/inbox/")
    assert inbox.status_code == 200
    assert "Cite the policy." in inbox.content.decode()
    revise = client.get(f"/o/{org_a.slug}/context/answers/{answer.pk}/revise/")
    assert revise.status_code == 200 and "Cite the policy." in revise.content.decode()


def test_an_answer_in_review_stays_in_view_of_its_author(client, org_a, sme):
    answer = make_answer(org_a, author=sme)
    client.force_login(sme.user)
    page = client.get(f"/o/{org_a.slug}/context/inbox/").content.decode()
    assert "Your answers in review (1)" in page and answer.title in page


def test_the_creator_of_a_token_never_reviews_what_the_token_answered(org_a, po, member_factory):
    from genai_po.services import api_token_create

    owner = member_factory(org_a, "owner", email="own@a.example")
    token, _ = api_token_create(actor=actor_of(owner), name="own", scopes=["read", "write"])
    gap = make_gap(org_a)
    answer = services.answer_submit(
        actor=Actor.for_token(token=token),
        gap=gap,
        data={"title": "T", "question": gap.question, "body": "B", "confidence": "high"},
    )
    assert answer.author_id == owner.user.pk
    with pytest.raises(PermissionDenied, match="Nobody reviews their own answer"):
        services.answer_review(actor=actor_of(owner), answer=answer, decision="approve")
    services.answer_review(actor=actor_of(po), answer=answer, decision="approve")


@pytest.mark.parametrize("value", ["99999999999999999999999", "9223372036854775808"])
def test_ids_beyond_64_bits_in_a_multiple_choice_are_a_form_error(client, org_a, sme, value):
    gap = services.gap_route(actor=system(org_a), gap=make_gap(org_a), assignee=sme.user)
    client.force_login(sme.user)
    response = client.post(
        f"/o/{org_a.slug}/context/gaps/{gap.number}/answer/",
        {"title": "T", "question": "Q", "body": "B", "confidence": "high", "citations": value},
    )
    assert response.status_code == 400
    assert not gap.answers.exists()


def test_a_duplicate_of_a_duplicate_points_at_the_original(org_a, po):
    x, y, z = (make_gap(org_a, question=f"Question {n}?") for n in "xyz")
    services.gap_set_status(actor=actor_of(po), gap=x, status="duplicate", duplicate_of=y)
    services.gap_set_status(actor=actor_of(po), gap=y, status="duplicate", duplicate_of=z)
    x.refresh_from_db()
    assert x.duplicate_of_id == z.pk
    with pytest.raises(ValidationError, match="itself a duplicate"):
        services.gap_set_status(actor=actor_of(po), gap=z, status="duplicate", duplicate_of=y)
    z.refresh_from_db()
    assert z.status == GapStatus.OPEN


def test_a_gap_does_not_merge_into_a_verified_one(org_a, po):
    done = make_gap(org_a, question="Done?")
    ContextGap.objects.for_org(org_a).filter(pk=done.pk).update(status=GapStatus.VERIFIED)
    gap = make_gap(org_a, question="New?")
    with pytest.raises(ValidationError, match="stands on its own"):
        services.gap_set_status(actor=actor_of(po), gap=gap, status="duplicate", duplicate_of=done)
    gap.refresh_from_db()
    assert gap.status == GapStatus.OPEN


def test_tags_typed_in_the_gap_form_stay_words(client, org_a, po):
    client.force_login(po.user)
    response = client.post(
        f"/o/{org_a.slug}/context/gaps/new/",
        {"question": "Can I return a toaster?", "detected_by": "manual", "severity": "medium",
         "tags": "refunds, gift-cards"},
    )  # fmt: skip
    assert response.status_code == 302
    gap = ContextGap.objects.for_org(org_a).get(question="Can I return a toaster?")
    assert sorted(gap.tag_links.values_list("tag__name", flat=True)) == ["gift-cards", "refunds"]


def test_eval_failures_are_recorded_by_triage_not_by_hand(org_a, po, api_a):
    with pytest.raises(ValidationError, match="triaging"):
        services.gap_create(actor=actor_of(po), question="Q?", detected_by="eval_failure")
    response = api_a.post(
        "/api/v1/gaps/", {"question": "Q?", "detected_by": "eval_failure"}, format="json"
    )
    assert response.status_code == 400


def test_an_answer_to_a_closed_gap_is_not_published(org_a, po, sme, sme2):
    answer = make_answer(org_a, author=sme)
    services.gap_set_status(actor=actor_of(po), gap=answer.gap, status="closed")
    with pytest.raises(ValidationError, match="reopen it"):
        services.answer_review(actor=actor_of(sme2), answer=answer, decision="approve")
    answer.refresh_from_db()
    assert answer.status == AnswerStatus.IN_REVIEW
    services.answer_review(actor=actor_of(sme2), answer=answer, decision="reject")
    answer.gap.refresh_from_db()
    assert answer.gap.status == GapStatus.CLOSED  # a rejection does not reopen it


def test_retiring_knowledge_reopens_the_gaps_it_answered(org_a, po, sme, sme2):
    answer = make_answer(org_a, author=sme)
    services.answer_review(actor=actor_of(sme2), answer=answer, decision="approve")
    gap = ContextGap.objects.for_org(org_a).get(pk=answer.gap_id)
    ContextGap.objects.for_org(org_a).filter(pk=gap.pk).update(status=GapStatus.VERIFIED)
    item = gap.knowledge
    with pytest.raises(ValidationError, match="Say why"):
        services.knowledge_retire(actor=actor_of(po), item=item, reason=" ")
    services.knowledge_retire(actor=actor_of(po), item=item, reason="Policy withdrawn")
    gap.refresh_from_db()
    assert (gap.status, gap.knowledge_id) == (GapStatus.ROUTED, None)
    assert "KB-" in gap.events.order_by("-pk").first().text


def test_one_new_version_of_an_item_waits_for_review_at_a_time(org_a, sme):
    item = make_knowledge(org_a)
    data = {"title": "T", "question": "Q", "body": "New body", "confidence": "high"}
    services.answer_submit(actor=actor_of(sme), knowledge=item, data=data)
    with pytest.raises(ValidationError, match="already in review"):
        services.answer_submit(actor=actor_of(sme), knowledge=item, data=data)


def test_the_context_settings_url_leads_to_the_sla_form(client, org_a, po):
    client.force_login(po.user)
    response = client.get(f"/o/{org_a.slug}/context/settings/")
    assert response.status_code == 302 and response.url.endswith("/context/smes/#sla")


def test_the_gap_list_shows_every_gap_waiting_on_someone_by_default(client, org_a, po, sme):
    make_gap(org_a, question="Open one?")
    services.gap_route(actor=system(org_a), gap=make_gap(org_a, question="Routed one?"),
                       assignee=sme.user)  # fmt: skip
    client.force_login(po.user)
    page = client.get(f"/o/{org_a.slug}/context/gaps/").content.decode()
    assert "Open one?" in page and "Routed one?" in page
