"""Use-case briefs in the browser: list, create, edit, archive, lifecycle, scores."""

import pytest

from genai_po.models import AuditEvent
from genai_po.roles import Role
from tests.factories.usecases import UseCaseFactory
from usecases.models import StageTransition, UseCase

pytestmark = pytest.mark.django_db

BRIEF = {
    "title": "Refund answers",
    "problem": "Agents search three wikis.",
    "workflow": "Tier-1 refund tickets.",
    "target_users": "Tier-1 agents",
    "user_count": "40",
    "risk_tier": "limited",
    "human_involvement": "review_exceptions",
    "status": "proposed",
    "metric_name": "Handling time",
    "metric_unit": "minutes",
    "metric_baseline": "11.5",
    "metric_target": "7",
}
SCORES = {"volume": "5", "owner": "4", "observable": "3", "risk": "4", "context": "2", "reuse": "3"}


@pytest.fixture
def po(org_a, member_factory, client):
    membership = member_factory(org_a, Role.PRODUCT_OWNER)
    client.force_login(membership.user)
    return membership


def test_empty_list_invites_the_first_brief(client, po):
    html = client.get("/o/org-a/use-cases/").content.decode()
    assert "No use cases yet." in html
    assert 'href="/o/org-a/use-cases/new/"' in html


def test_creating_a_brief_numbers_it_and_audits_it(client, po):
    response = client.post("/o/org-a/use-cases/new/", {**BRIEF, "owner": str(po.user_id)})
    use_case = UseCase.objects.for_org(po.organization).get()
    assert response["Location"] == "/o/org-a/use-cases/1/"
    assert (use_case.key, use_case.owner, str(use_case.metric_baseline)) == (
        "UC-1",
        po.user,
        "11.50",
    )
    event = AuditEvent.objects.for_org(po.organization).get(action="use_case.create")
    assert event.after["key"] == "UC-1" and event.actor_role == "product_owner"


def test_an_owner_from_another_organization_is_refused(client, po, org_b, member_factory):
    outsider = member_factory(org_b, Role.OWNER)
    response = client.post("/o/org-a/use-cases/new/", {**BRIEF, "owner": str(outsider.user_id)})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not UseCase.objects.for_org(po.organization).exists()


def test_a_missing_title_keeps_what_was_typed(client, po):
    response = client.post("/o/org-a/use-cases/new/", {**BRIEF, "title": ""})
    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html and "Agents search three wikis." in html


def test_editing_records_only_what_changed(client, po):
    use_case = UseCaseFactory(organization=po.organization, number=1, title="Old title")
    response = client.post(
        "/o/org-a/use-cases/1/edit/",
        {**BRIEF, "title": "New title", "problem": use_case.problem,
         "workflow": use_case.workflow, "target_users": use_case.target_users},
    )  # fmt: skip
    assert response.status_code == 302
    event = AuditEvent.objects.for_org(po.organization).get(action="use_case.update")
    assert event.before["title"] == "Old title" and event.after["title"] == "New title"
    assert "problem" not in event.after


def test_archive_hides_from_the_list_and_restore_brings_back(client, po):
    UseCaseFactory(organization=po.organization, number=1, title="Outage notices")
    client.post("/o/org-a/use-cases/1/archive/", {"archive": "1"})
    assert "Outage notices" not in client.get("/o/org-a/use-cases/").content.decode()
    assert "Outage notices" in client.get("/o/org-a/use-cases/?archived=1").content.decode()
    client.post("/o/org-a/use-cases/1/archive/", {"archive": "0"})
    assert "Outage notices" in client.get("/o/org-a/use-cases/").content.decode()


def test_filters_search_and_htmx_partial(client, po):
    UseCaseFactory(organization=po.organization, number=1, title="Refund answers", stage="evaluate")
    UseCaseFactory(organization=po.organization, number=2, title="Outage notices")
    html = client.get("/o/org-a/use-cases/?stage=evaluate").content.decode()
    assert "Refund answers" in html and "Outage notices" not in html
    partial = client.get("/o/org-a/use-cases/?q=outage", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "Outage notices" in body and "Refund answers" not in body and "<html" not in body
    assert "HX-Request" in partial["Vary"]
    none = client.get("/o/org-a/use-cases/?q=nothing-like-this").content.decode()
    assert "No use case matches these filters." in none


def test_the_gate_says_what_is_met_missing_and_not_checkable(client, po):
    UseCaseFactory(organization=po.organization, number=1, stage="prototype", owner=po.user)
    html = client.get("/o/org-a/use-cases/1/").content.decode()
    assert "Gate to Evaluate" in html
    assert "<strong>Missing:</strong> An AI PRD is written" in html
    assert "<strong>Missing:</strong> An eval plan exists" in html
    assert "Create an eval plan with at least one case" in html


def test_moving_past_an_unmet_gate_needs_a_reason_and_is_recorded(client, po):
    UseCaseFactory(organization=po.organization, number=1)
    refused = client.post("/o/org-a/use-cases/1/stage/", {"to_stage": "prototype"})
    assert refused.status_code == 400
    assert "Give a reason to override it." in refused.content.decode()
    assert UseCase.objects.for_org(po.organization).get().stage == "discover"

    client.post(
        "/o/org-a/use-cases/1/stage/", {"to_stage": "prototype", "override_reason": "Pilot agreed"}
    )
    transition = StageTransition.objects.for_org(po.organization).get()
    assert (transition.overridden, transition.override_reason) == (True, "Pilot agreed")
    assert "Overridden: Pilot agreed" in client.get("/o/org-a/use-cases/1/").content.decode()
    event = AuditEvent.objects.for_org(po.organization).get(action="use_case.stage_override")
    assert event.after["reason"] == "Pilot agreed"


def test_scores_update_the_rank_live(client, po):
    UseCaseFactory(organization=po.organization, number=1, title="A")
    other = UseCaseFactory(organization=po.organization, number=2, title="B")
    client.post("/o/org-a/use-cases/2/scores/", dict.fromkeys(SCORES, "2"))
    response = client.post("/o/org-a/use-cases/1/scores/", SCORES, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="priority-explanation"' in body and "Rank 1 of 2 with 3.667 out of 5." in body
    assert "<select" not in body  # the selects being edited are never swapped
    other.refresh_from_db()
    assert str(other.priority_score) == "2.000"


def test_partial_scores_say_what_is_missing(client, po):
    UseCaseFactory(organization=po.organization, number=1)
    body = client.post(
        "/o/org-a/use-cases/1/scores/", {"volume": "4"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Not ranked: score clear owner and reachable users" in body


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/o/org-a/use-cases/new/", BRIEF),
        ("/o/org-a/use-cases/1/edit/", BRIEF),
        ("/o/org-a/use-cases/1/archive/", {"archive": "1"}),
        ("/o/org-a/use-cases/1/stage/", {"to_stage": "prototype", "override_reason": "x"}),
        ("/o/org-a/use-cases/1/scores/", SCORES),
    ],
)
def test_viewers_cannot_write(client, org_a, member_factory, path, data):
    UseCaseFactory(organization=org_a, number=1, title="Keep")
    client.force_login(member_factory(org_a, Role.VIEWER).user)
    assert client.post(path, data).status_code == 403
    use_case = UseCase.objects.for_org(org_a).get()
    assert (use_case.title, use_case.stage, use_case.archived_at, use_case.score_volume) == (
        "Keep", "discover", None, None,
    )  # fmt: skip


def test_list_page_queries_do_not_grow_with_rows(client, po, django_assert_num_queries):
    for n in range(1, 4):
        UseCaseFactory(organization=po.organization, number=n, owner=po.user)
    with django_assert_num_queries(10) as ctx:
        client.get("/o/org-a/use-cases/")
    few = len(ctx.captured_queries)
    for n in range(4, 41):
        UseCaseFactory(organization=po.organization, number=n, owner=po.user)
    with django_assert_num_queries(few):
        client.get("/o/org-a/use-cases/")
