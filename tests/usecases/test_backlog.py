"""The unified backlog in the browser: feature items, every area's work in one list, the
filters, the suggested order, a member's own rank, saved views, the CSV, roles, the queries
of a big backlog, and tenant isolation."""

import csv
import io
import re
import time
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from genai_po.actors import Actor
from genai_po.models import AuditEvent
from genai_po.roles import Role
from governance.models import IncidentFollowUp
from governance.services.incidents import follow_up_add
from governance.services.releases import release_submit as submit_release
from governance.templates import DEFAULT_MANUAL_ITEMS
from metrics.models import Alert
from metrics.services import rule_save
from tests.factories.context import make_gap
from tests.factories.evals import EvalPlanFactory, make_run
from tests.factories.governance import make_incident, make_release
from tests.factories.usecases import UseCaseFactory
from usecases import backlog, backlog_services
from usecases.models import BacklogItem, BacklogRank, BacklogView

pytestmark = pytest.mark.django_db

BACKLOG = "/o/org-a/backlog/"
RANK = "/o/org-a/backlog/rank/"
MANUAL_ITEMS = len(DEFAULT_MANUAL_ITEMS)


def system(org) -> Actor:
    return Actor.system(organization=org, label="test setup")


def add_item(org, title, **data) -> BacklogItem:
    return backlog_services.backlog_item_create(
        actor=system(org), data={"title": title, "value": 3, "effort": 3, **data}
    )


def add_alert(org, use_case, summary="Error rate 25% over the last 24 h, above 5%"):
    rule = rule_save(actor=system(org), data={
        "use_case": use_case, "metric": "error_rate", "condition": "above", "threshold": 5,
        "window_hours": 24,
    })  # fmt: skip
    now = timezone.now()
    return Alert.objects.create(
        organization=org, rule=rule, use_case=use_case, value=25.0, threshold=5.0,
        summary=summary, window_start=now - timedelta(hours=24), window_end=now, fired_at=now,
    )  # fmt: skip


def one_of_each_kind(org, *, owner=None, prefix="") -> dict:
    """One source object of every kind, all on one use case (as the source tests make them):
    a feature item, a run with an untriaged failure, an open gap, a draft release (one entry
    per unmet manual item), an incident follow-up and an open alert."""
    use_case = UseCaseFactory(
        organization=org, number=1, title=f"{prefix}Refunds", owner=owner.user if owner else None
    )
    feature = add_item(org, f"{prefix}Export refunds as CSV", use_case=use_case, value=4)
    run = make_run(org, EvalPlanFactory(use_case=use_case, organization=org), results=("fail",))
    gap = make_gap(org, f"{prefix}Are gift cards refundable?", use_cases=[use_case])
    release = make_release(org, use_case)
    follow_up = follow_up_add(
        actor=system(org), incident=make_incident(org, use_case),
        data={"title": f"{prefix}Add the 60-day rule to the prompt"},
    )  # fmt: skip
    alert = add_alert(org, use_case, summary=f"{prefix}Error rate above 5%")
    return {
        "use_case": use_case, "feature": feature, "eval_failure": run, "context_gap": gap,
        "release": release, "incident_follow_up": follow_up, "alert": alert,
    }  # fmt: skip


EXPECTED_COUNTS = {
    "feature": 1,
    "eval_failure": 1,
    "context_gap": 1,
    "governance": MANUAL_ITEMS,
    "incident_follow_up": 1,
    "alert": 1,
}


def rows_of(response) -> list[tuple[str, str]]:
    """(ref, key) of each row of the backlog table, in the order shown."""
    html = response.content.decode()
    if "<tbody>" not in html:
        return []
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for chunk in body.split('<tr data-ref="')[1:]:
        ref = chunk.split('"', 1)[0]
        key = re.search(r'<td><a href="[^"]*">([^<]*)</a>', chunk).group(1)
        rows.append((ref, unescape(key)))
    return rows


def keys_of(response) -> list[str]:
    return [key for _, key in rows_of(response)]


def move_form(response, key: str, direction: str) -> dict:
    """The hidden fields of the ↑ or ↓ form of the row `key`, as the browser posts them."""
    html = response.content.decode()
    label = f'aria-label="Move {key} {direction}"'
    form = next(f for f in re.findall(r"<form [^>]*>.*?</form>", html) if label in f)
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form)
    return {name: unescape(value) for name, value in fields}


def ref_of(obj) -> str:
    from django.contrib.contenttypes.models import ContentType

    return f"{ContentType.objects.get_for_model(type(obj)).pk}.{obj.pk}"


@pytest.fixture
def po2(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="sam@example.com", full_name="Sam PO")


def client_of(membership) -> Client:
    """A browser session of another member, beside the test's own."""
    client = Client()
    client.force_login(membership.user)
    return client


# --------------------------------------------------------------------------- feature items


def test_a_product_owner_adds_feature_items_numbered_bl_n_and_audited(po_client, po_a, org_a):
    uc = UseCaseFactory(organization=org_a, number=3, title="Refunds")
    page = po_client.get(BACKLOG)
    html = page.content.decode()
    assert page.status_code == 200
    assert "New feature item" in html and "Add to the backlog" in html
    assert "Nothing waits" in html
    assert '<option value="3">UC-3 Refunds</option>' in html  # the use-case choice

    refused = po_client.post(BACKLOG, {"title": "", "value": "9", "effort": "3"})
    html = refused.content.decode()
    assert refused.status_code == 400
    assert "This field is required." in html  # the title
    assert "Select a valid choice. 9 is not one of the available choices." in html
    assert not BacklogItem.objects.for_org(org_a).exists()

    first = po_client.post(BACKLOG, {
        "title": "Export refunds as CSV", "description": "For finance.", "use_case": "3",
        "value": "4", "effort": "2", "due_on": "", "owner": str(po_a.user_id),
    }, follow=True)  # fmt: skip
    assert first.redirect_chain == [(BACKLOG, 302)]
    assert "BL-1 added to the backlog." in first.content.decode()
    assert keys_of(first) == ["BL-1"]
    assert "Export refunds as CSV" in first.content.decode()
    second = po_client.post(BACKLOG, {"title": "Refund FAQ", "value": "2", "effort": "5"},
                            follow=True)  # fmt: skip
    assert "BL-2 added to the backlog." in second.content.decode()

    items = list(BacklogItem.objects.for_org(org_a).order_by("number"))
    assert [(i.key, i.title, i.use_case, i.value, i.effort, i.owner, i.created_by, i.status)
            for i in items] == [
        ("BL-1", "Export refunds as CSV", uc, 4, 2, po_a.user, po_a.user, "open"),
        ("BL-2", "Refund FAQ", None, 2, 5, None, po_a.user, "open"),
    ]  # fmt: skip
    event = AuditEvent.objects.for_org(org_a).filter(action="backlog_item.create").earliest("seq")
    assert (event.actor_label, event.actor_role) == ("po@example.com", "product_owner")
    assert event.after == {
        "key": "BL-1", "title": "Export refunds as CSV", "use_case": "UC-3", "value": 4,
        "effort": 2, "due_on": None, "owner": "po@example.com", "status": "open",
    }  # fmt: skip


def test_a_title_of_spaces_is_refused_on_the_field(po_client, org_a):
    response = po_client.post(BACKLOG, {"title": "   ", "value": "3", "effort": "3"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not BacklogItem.objects.for_org(org_a).exists()


def test_an_owner_outside_the_organization_is_refused(po_client, org_a, org_b, member_factory):
    outsider = member_factory(org_b, Role.OWNER)
    response = po_client.post(
        BACKLOG, {"title": "Export", "value": "3", "effort": "3", "owner": str(outsider.user_id)}
    )
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not BacklogItem.objects.for_org(org_a).exists()


def test_editing_an_item_shows_errors_then_saves_and_records_what_changed(po_client, po_a, org_a):
    item = add_item(org_a, "Export refunds", value=2, effort=4)
    url = f"/o/org-a/backlog/items/{item.number}/"
    page = po_client.get(url).content.decode()
    assert "<h1>BL-1 Export refunds</h1>" in page and "value 2 · effort 4" in page

    refused = po_client.post(url, {"title": "", "value": "2", "effort": "4"})
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()

    saved = po_client.post(url, {
        "title": "Export refunds as CSV", "value": "5", "effort": "4", "due_on": "2030-01-15",
        "owner": str(po_a.user_id), "description": "",
    }, follow=True)  # fmt: skip
    html = saved.content.decode()
    assert saved.redirect_chain == [(url, 302)]
    assert "BL-1 saved." in html and "<h1>BL-1 Export refunds as CSV</h1>" in html
    assert "value 5 · effort 4 · due 2030-01-15 · owner Pat PO" in html
    event = AuditEvent.objects.for_org(org_a).get(action="backlog_item.update")
    assert event.before["title"] == "Export refunds" and event.after["value"] == 5
    assert event.after["owner"] == "po@example.com" and event.after["due_on"] == "2030-01-15"


def test_marking_an_item_done_takes_it_off_the_backlog_and_reopening_brings_it_back(
    po_client, org_a
):
    item = add_item(org_a, "Export refunds")
    add_item(org_a, "Refund FAQ")
    url = f"/o/org-a/backlog/items/{item.number}/"
    assert keys_of(po_client.get(BACKLOG)) == ["BL-1", "BL-2"]

    done = po_client.post(url, {"status": "done"}, follow=True)
    html = done.content.decode()
    assert "BL-1 is done." in html and '<span class="badge">Done</span>' in html
    assert "Open again" in html and "Mark done" not in html
    assert keys_of(po_client.get(BACKLOG)) == ["BL-2"]
    item.refresh_from_db()
    assert item.status == "done" and item.closed_at is not None
    event = AuditEvent.objects.for_org(org_a).get(action="backlog_item.status")
    assert (event.before, event.after) == ({"status": "open"}, {"status": "done"})

    po_client.post(url, {"status": "open"})
    assert keys_of(po_client.get(BACKLOG)) == ["BL-1", "BL-2"]
    po_client.post(url, {"status": "dropped"})
    assert keys_of(po_client.get(BACKLOG)) == ["BL-2"]

    refused = po_client.post(url, {"status": "archived"}, follow=True)
    assert "Choose one of open, done, dropped." in refused.content.decode()


# --------------------------------------------------------------------------- every source


def test_the_backlog_gathers_the_work_of_every_area_with_the_counts_per_kind(
    po_client, org_a, po_a
):
    made = one_of_each_kind(org_a, owner=po_a)
    response = po_client.get(BACKLOG)
    html = response.content.decode()

    by_kind = {}
    for entry in backlog.backlog_of(org_a).entries:
        by_kind[entry.kind] = by_kind.get(entry.kind, 0) + 1
    assert by_kind == EXPECTED_COUNTS
    total = sum(EXPECTED_COUNTS.values())
    labels = dict(backlog.kind_choices())
    counts = " · ".join(f"{labels[k]} {n}" for k, n in
                        sorted(EXPECTED_COUNTS.items(), key=lambda kv: labels[kv[0]]))  # fmt: skip
    assert f"{total} entries · {counts}." in html
    assert len(rows_of(response)) == total
    for key in ("BL-1", made["context_gap"].key, str(made["eval_failure"]), "AR-1",
                "INC-1 · follow-up", "REL-1 · risk_review"):  # fmt: skip
        assert key in keys_of(response), key
    # Each row links to where the work is done.
    gap = made["context_gap"]
    assert f'<a href="/o/org-a/context/gaps/{gap.number}/">{gap.key}</a>' in html
    assert '<a href="/o/org-a/backlog/items/1/">BL-1</a> Export refunds as CSV' in html
    # ...and to its use case's own backlog, which holds the same entries.
    assert '<a href="/o/org-a/use-cases/1/backlog/">UC-1</a>' in html
    assert sorted(keys_of(po_client.get("/o/org-a/use-cases/1/backlog/"))) == sorted(
        keys_of(response)
    )


def test_done_work_leaves_by_itself_where_it_is_done(po_client, org_a, po_a):
    made = one_of_each_kind(org_a, owner=po_a)
    from context.models import ContextGap

    ContextGap.objects.for_org(org_a).filter(pk=made["context_gap"].pk).update(status="closed")
    IncidentFollowUp.objects.for_org(org_a).filter(pk=made["incident_follow_up"].pk).update(
        status="done"
    )
    kinds = {e.kind for e in backlog.backlog_of(org_a).entries}
    assert kinds == {"feature", "eval_failure", "governance", "alert"}
    assert made["context_gap"].key not in keys_of(po_client.get(BACKLOG))


# --------------------------------------------------------------------------- filters


@pytest.fixture
def mixed(org_a, po_a, po2):
    """Two use cases; features owned by Pat, by Sam and by nobody; an alert and a gap."""
    uc1 = UseCaseFactory(organization=org_a, number=1, title="Refunds", owner=po_a.user)
    uc2 = UseCaseFactory(organization=org_a, number=2, title="Returns", owner=po2.user)
    items = [
        add_item(org_a, "Pat's refunds", use_case=uc1, owner=po_a.user, value=5, effort=1),
        add_item(org_a, "Sam's returns", use_case=uc2, owner=po2.user, value=4, effort=1),
        add_item(org_a, "Nobody's", value=1, effort=1),
    ]
    alert = add_alert(org_a, uc2)
    gap = make_gap(org_a, "Gift cards?", use_cases=[uc1])  # recorded by the system: no owner
    return {"uc1": uc1, "uc2": uc2, "items": items, "alert": alert, "gap": gap}


def test_filters_by_kind_owner_and_use_case(po_client, mixed, po_a, po2):
    gap = mixed["gap"].key
    assert keys_of(po_client.get(BACKLOG)) == ["AR-1", "BL-1", "BL-2", gap, "BL-3"]

    assert keys_of(po_client.get(BACKLOG, {"kind": "feature"})) == ["BL-1", "BL-2", "BL-3"]
    assert keys_of(po_client.get(BACKLOG, {"kind": ["alert", "context_gap"]})) == ["AR-1", gap]
    shown = po_client.get(BACKLOG, {"kind": "feature"}).content.decode()
    # Kinds filtered out are not even read: the total counts the kinds shown.
    assert "3 entries · Feature 3." in shown
    owned = po_client.get(BACKLOG, {"owner": po_a.user_id}).content.decode()
    assert "1 entry of 5 · Feature 1." in owned

    assert keys_of(po_client.get(BACKLOG, {"owner": po_a.user_id})) == ["BL-1"]
    # The alert belongs to its use case's owner.
    assert keys_of(po_client.get(BACKLOG, {"owner": po2.user_id})) == ["AR-1", "BL-2"]
    assert keys_of(po_client.get(BACKLOG, {"owner": "none"})) == [gap, "BL-3"]

    assert keys_of(po_client.get(BACKLOG, {"use_case": 1})) == ["BL-1", gap]
    assert keys_of(po_client.get(BACKLOG, {"use_case": 2})) == ["AR-1", "BL-2"]
    assert keys_of(po_client.get("/o/org-a/use-cases/2/backlog/")) == ["AR-1", "BL-2"]
    assert keys_of(po_client.get(BACKLOG, {"use_case": 2, "kind": "feature"})) == ["BL-2"]
    assert keys_of(po_client.get(BACKLOG, {"use_case": 2, "owner": po_a.user_id})) == []
    empty = po_client.get(BACKLOG, {"use_case": 2, "owner": po_a.user_id}).content.decode()
    assert "Nothing matches these filters." in empty

    # A value that does not parse is dropped, never an error.
    assert len(keys_of(po_client.get(BACKLOG, {"kind": "nonsense", "owner": "x"}))) == 5


def test_the_suggested_order_is_by_score_then_urgency(po_client, org_a):
    today = timezone.localdate()
    add_item(org_a, "Low", value=1, effort=5)  # 1 × 2 ÷ 5 = 0.4
    add_item(org_a, "Big", value=5, effort=1)  # 5 × 2 ÷ 1 = 10
    add_item(org_a, "Late", value=3, effort=3, due_on=today - timedelta(days=3))  # 3 × 5 ÷ 3
    add_item(org_a, "Medium", value=4, effort=2)  # 4 × 2 ÷ 2 = 4
    add_item(org_a, "Tie, more urgent", value=2, effort=2, due_on=today + timedelta(days=1))
    response = po_client.get(BACKLOG)  # the tie at 4: urgency 4 (due tomorrow) before 2
    assert keys_of(response) == ["BL-2", "BL-3", "BL-5", "BL-4", "BL-1"]
    html = response.content.decode()
    assert "<td><strong>10</strong></td>" in html and "<td>5 × 2 ÷ 1</td>" in html
    assert "<td><strong>0.40</strong></td>" in html
    assert "Suggested rank: <strong>impact × urgency ÷ effort</strong>" in html
    assert "3 days overdue" in html


# --------------------------------------------------------------------------- own rank


@pytest.fixture
def three(org_a):
    """BL-1 (score 10), BL-2 (8), BL-3 (2)."""
    return [
        add_item(org_a, "First", value=5, effort=1),
        add_item(org_a, "Second", value=4, effort=1),
        add_item(org_a, "Third", value=1, effort=1),
    ]


def test_moving_up_and_down_keeps_my_own_rank_across_reloads(po_client, three, po2):
    mine = BACKLOG + "?order=mine"
    page = po_client.get(mine)
    assert keys_of(page) == ["BL-1", "BL-2", "BL-3"]
    assert "Move BL-1 up" not in page.content.decode()  # the first has nowhere to go up

    up = po_client.post(RANK, move_form(page, "BL-3", "up"))
    assert (up.status_code, up["Location"]) == (302, mine)
    page = po_client.get(mine)
    assert keys_of(page) == ["BL-1", "BL-3", "BL-2"]
    assert 'class="kind-feature ranked"' in page.content.decode()
    assert keys_of(po_client.get(mine)) == ["BL-1", "BL-3", "BL-2"]  # a reload keeps it

    po_client.post(RANK, move_form(page, "BL-1", "down"))
    assert keys_of(po_client.get(mine)) == ["BL-3", "BL-1", "BL-2"]
    # The suggested order is untouched, and so is another member's own rank.
    assert keys_of(po_client.get(BACKLOG)) == ["BL-1", "BL-2", "BL-3"]
    assert keys_of(client_of(po2).get(mine)) == ["BL-1", "BL-2", "BL-3"]

    # A new entry nobody placed follows the placed ones, in the suggested order.
    add_item(three[0].organization, "New and big", value=5, effort=1)
    assert keys_of(po_client.get(mine)) == ["BL-3", "BL-1", "BL-2", "BL-4"]

    cleared = po_client.post("/o/org-a/backlog/rank/reset/", {"next": mine}, follow=True)
    assert "Your own rank is cleared" in cleared.content.decode()
    assert keys_of(cleared) == ["BL-1", "BL-4", "BL-2", "BL-3"]


def test_a_drag_and_drop_post_places_the_entry_and_answers_the_list_in_my_rank(
    po_client, three, po_a
):
    first, second, third = (ref_of(item) for item in three)
    mine = BACKLOG + "?order=mine"
    # What backlog.js posts when BL-3 is dropped on the top half of BL-1's row.
    response = po_client.post(
        RANK, {"ref": third, "before": first, "next": mine}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="backlog"')  # the partial, swapped in
    assert keys_of(response) == ["BL-3", "BL-1", "BL-2"]
    assert 'data-next="/o/org-a/backlog/?order=mine"' in html  # the page's, not /rank/
    assert 'name="next" value="/o/org-a/backlog/?order=mine"' in html
    assert response["HX-Push-Url"] == mine  # a reload shows the same list
    assert keys_of(po_client.get(mine)) == ["BL-3", "BL-1", "BL-2"]
    ranks = BacklogRank.objects.for_org(po_a.organization).filter(user=po_a.user)
    assert list(ranks.order_by("position").values_list("object_id", flat=True)) == [
        three[2].pk, three[0].pk, three[1].pk,
    ]  # fmt: skip

    # After the one it was dropped on: dropped on BL-2's lower half.
    po_client.post(RANK, {"ref": first, "after": second, "next": mine}, HTTP_HX_REQUEST="true")
    assert keys_of(po_client.get(mine)) == ["BL-3", "BL-2", "BL-1"]


def test_a_move_on_the_suggested_order_takes_the_member_to_their_own_rank(po_client, three):
    page = po_client.get(BACKLOG + "?kind=feature")
    moved = po_client.post(RANK, move_form(page, "BL-2", "up"), follow=True)
    assert moved.redirect_chain == [(BACKLOG + "?kind=feature&order=mine", 302)]
    assert keys_of(moved) == ["BL-2", "BL-1", "BL-3"]
    assert "showing <strong>my rank</strong>" in moved.content.decode()
    dropped = po_client.post(
        RANK,
        {"ref": ref_of(three[2]), "before": ref_of(three[1]), "next": BACKLOG},
        HTTP_HX_REQUEST="true",
    )
    assert keys_of(dropped) == ["BL-3", "BL-2", "BL-1"]
    assert dropped["HX-Push-Url"] == BACKLOG + "?order=mine"


def test_a_move_that_names_no_entry_of_the_backlog_is_refused(po_client, three, org_b):
    outsider = add_item(org_b, "Org B's")
    mine = BACKLOG + "?order=mine"
    refused = po_client.post(
        RANK, {"ref": ref_of(outsider), "before": ref_of(three[0]), "next": mine}, follow=True
    )
    assert "This entry is no longer in the backlog." in refused.content.decode()
    features = BACKLOG + "?kind=feature"
    partial = po_client.post(RANK, {"ref": "nonsense", "before": ref_of(three[0]),
                                    "next": features}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert partial.status_code == 400
    html = partial.content.decode()
    assert '<p class="form-error" role="alert">This entry is not in the backlog.</p>' in html
    # The list swapped in is still the page's, its forms pointing back there.
    assert keys_of(partial) == ["BL-1", "BL-2", "BL-3"]
    assert 'name="next" value="/o/org-a/backlog/?kind=feature"' in html
    assert not BacklogRank.objects.for_org(three[0].organization).exists()


def test_moving_in_a_filtered_view_lands_between_the_same_neighbours_everywhere(
    po_client, org_a, three
):
    uc = UseCaseFactory(organization=org_a, number=1)
    alert = add_alert(org_a, uc)  # 5 × 5 ÷ 2 = 12.5: first
    gap = make_gap(org_a, "Gift cards?")  # 3 × 2 ÷ 2 = 3: between BL-2 and BL-3
    everything = ["AR-1", "BL-1", "BL-2", gap.key, "BL-3"]
    assert keys_of(po_client.get(BACKLOG)) == everything

    features = BACKLOG + "?kind=feature&order=mine"
    page = po_client.get(features)
    assert keys_of(page) == ["BL-1", "BL-2", "BL-3"]
    moved = po_client.post(RANK, move_form(page, "BL-3", "up"))  # BL-3 just before BL-2
    assert moved["Location"] == features
    assert keys_of(po_client.get(features)) == ["BL-1", "BL-3", "BL-2"]
    assert keys_of(po_client.get(BACKLOG + "?order=mine")) == [
        "AR-1", "BL-1", "BL-3", "BL-2", gap.key,
    ]  # fmt: skip
    # The move placed every entry, the alert first, just where it was.
    ranks = BacklogRank.objects.for_org(org_a).order_by("position")
    assert ranks.values_list("object_id", flat=True)[0] == alert.pk

    # The same move by drag and drop, in the filtered view, answers the filtered list.
    dropped = po_client.post(
        RANK,
        {"ref": ref_of(three[1]), "before": ref_of(three[0]), "next": features},
        HTTP_HX_REQUEST="true",
    )
    assert keys_of(dropped) == ["BL-2", "BL-1", "BL-3"]


def test_moving_on_a_use_case_backlog_keeps_the_member_on_it(po_client, org_a):
    uc = UseCaseFactory(organization=org_a, number=4)
    for value in (5, 4, 1):
        add_item(org_a, f"Value {value}", use_case=uc, value=value, effort=1)
    page_url = "/o/org-a/use-cases/4/backlog/?order=mine"
    page = po_client.get(page_url)
    form = move_form(page, "BL-3", "up")
    assert form["use_case"] == "4"
    moved = po_client.post(RANK, form)
    assert moved["Location"] == page_url
    assert keys_of(po_client.get(page_url)) == ["BL-1", "BL-3", "BL-2"]


def test_next_never_leaves_the_organization(po_client, three):
    form = {"ref": ref_of(three[2]), "before": ref_of(three[1])}
    for next_url in ("https://evil.example/", "//evil.example/o/org-a/", "/o/org-b/backlog/"):
        response = po_client.post(RANK, {**form, "next": next_url})
        assert response["Location"] == BACKLOG + "?order=mine", next_url


# --------------------------------------------------------------------------- saved views


def test_saved_views_are_saved_applied_and_deleted_by_their_member_only(
    po_client, mixed, po_a, po2
):
    saved = po_client.post(
        "/o/org-a/backlog/views/",
        {"name": "Sam's work", "kind": "feature", "owner": str(po2.user_id), "next": BACKLOG},
    )
    view = BacklogView.objects.for_org(po_a.organization).get()
    assert saved["Location"] == f"{BACKLOG}?view={view.pk}"
    assert (view.user, view.name, view.filters) == (
        po_a.user, "Sam's work", {"kind": ["feature"], "owner": str(po2.user_id)},
    )  # fmt: skip

    applied = po_client.get(saved["Location"])
    html = applied.content.decode()
    assert keys_of(applied) == ["BL-2"]
    assert "view “Sam&#x27;s work”" in html
    assert f'href="{BACKLOG}?view={view.pk}" aria-current="page">Sam&#x27;s work</a>' in html
    # Saving under the same name replaces the filters.
    po_client.post("/o/org-a/backlog/views/", {"name": "Sam's work", "owner": "none"})
    assert BacklogView.objects.for_org(po_a.organization).get().filters == {"owner": "none"}
    assert keys_of(po_client.get(saved["Location"])) == [mixed["gap"].key, "BL-3"]

    # Another member's view: not theirs to apply, nor to delete.
    sam = client_of(po2)
    theirs = sam.get(saved["Location"])
    assert len(keys_of(theirs)) == 5 and "Sam&#x27;s work" not in theirs.content.decode()
    assert sam.post(f"/o/org-a/backlog/views/{view.pk}/delete/").status_code == 404
    assert BacklogView.objects.for_org(po_a.organization).exists()

    deleted = po_client.post(f"/o/org-a/backlog/views/{view.pk}/delete/", follow=True)
    assert "View “Sam&#x27;s work” deleted." in deleted.content.decode()
    assert not BacklogView.objects.for_org(po_a.organization).exists()
    assert po_client.post(f"/o/org-a/backlog/views/{view.pk}/delete/").status_code == 404


def test_a_view_needs_a_name(po_client, po_a, mixed):
    response = po_client.post("/o/org-a/backlog/views/", {"name": "", "kind": "feature"},
                              follow=True)  # fmt: skip
    assert "Name the view (at most 80 characters)." in response.content.decode()
    assert not BacklogView.objects.for_org(po_a.organization).exists()


def test_a_saved_view_keeps_its_filters_on_the_next_page_and_in_the_csv(po_client, po_a, org_a):
    for n in range(105):
        add_item(org_a, f"Item {n}", value=5 if n % 2 else 1, effort=1)
    add_alert(org_a, UseCaseFactory(organization=org_a, number=1))
    po_client.post("/o/org-a/backlog/views/", {"name": "Features", "kind": "feature"})
    view = BacklogView.objects.for_org(org_a).get()
    first = po_client.get(f"{BACKLOG}?view={view.pk}")
    html = first.content.decode()
    assert "105 entries · Feature 105." in html
    next_page = re.search(r'<a href="(\?[^"]*page=2)">Next</a>', html).group(1)
    second = po_client.get(BACKLOG + unescape(next_page))
    assert "105 entries · Feature 105." in second.content.decode()
    assert len(keys_of(second)) == 5 and "AR-1" not in keys_of(second)
    csv_link = re.search(r'<a href="([^"]*backlog\.csv[^"]*)">Download CSV</a>', html).group(1)
    rows = csv_rows(po_client.get(unescape(csv_link)))
    assert len(rows) == 1 + 105 and {row[1] for row in rows[1:]} == {"Feature"}


# --------------------------------------------------------------------------- CSV


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


CSV_HEADER = ["rank", "kind", "key", "title", "use_case", "impact", "urgency", "effort", "score",
              "age_days", "owner", "why", "url"]  # fmt: skip


def test_the_csv_has_the_page_filters_and_cells_a_spreadsheet_will_not_run(
    po_client, mixed, po_a, org_a
):
    add_item(org_a, '=HYPERLINK("https://evil.example","Click")', value=1, effort=5)
    add_item(org_a, "@SUM(A1:A9)", value=1, effort=5)
    response = po_client.get("/o/org-a/backlog/backlog.csv", {"kind": "feature"})
    assert response["Content-Disposition"] == 'attachment; filename="backlog-org-a.csv"'
    rows = csv_rows(response)
    assert rows[0] == CSV_HEADER
    assert rows[1] == ["1", "Feature", "BL-1", "Pat's refunds", "UC-1", "5", "2", "1", "10.0",
                       "0", "Pat PO", "no due date",
                       "http://testserver/o/org-a/backlog/items/1/"]  # fmt: skip
    assert [row[2] for row in rows[1:]] == ["BL-1", "BL-2", "BL-3", "BL-4", "BL-5"]
    titles = {row[2]: row[3] for row in rows[1:]}
    assert titles["BL-4"] == '\'=HYPERLINK("https://evil.example","Click")'
    assert titles["BL-5"] == "'@SUM(A1:A9)"

    owned = csv_rows(po_client.get("/o/org-a/backlog/backlog.csv", {"owner": po_a.user_id}))
    assert [row[2] for row in owned[1:]] == ["BL-1"]
    one = po_client.get("/o/org-a/use-cases/2/backlog.csv")
    assert one["Content-Disposition"] == 'attachment; filename="backlog-UC-2.csv"'
    assert [row[2] for row in csv_rows(one)[1:]] == ["AR-1", "BL-2"]
    # The page's link carries its filters.
    page = po_client.get(BACKLOG, {"kind": "feature", "owner": po_a.user_id}).content.decode()
    assert f'href="/o/org-a/backlog/backlog.csv?kind=feature&amp;owner={po_a.user_id}"' in page


# --------------------------------------------------------------------------- roles


def test_viewers_see_the_backlog_but_cannot_change_it(client, org_a, member_factory, three):
    viewer = member_factory(org_a, Role.VIEWER)
    client.force_login(viewer.user)
    page = client.get(BACKLOG)
    html = page.content.decode()
    assert page.status_code == 200 and keys_of(page) == ["BL-1", "BL-2", "BL-3"]
    assert "New feature item" not in html and "Move BL-2 up" not in html
    assert 'draggable="true"' not in html and 'data-rank-url=""' in html
    assert "Mark done" not in client.get("/o/org-a/backlog/items/1/").content.decode()

    first, second = ref_of(three[0]), ref_of(three[1])
    UseCaseFactory(organization=org_a, number=1)
    for url, data in [
        (BACKLOG, {"title": "Sneaky", "value": "3", "effort": "3"}),
        ("/o/org-a/use-cases/1/backlog/", {"title": "Sneaky", "value": "3", "effort": "3"}),
        ("/o/org-a/backlog/items/1/", {"status": "done"}),
        ("/o/org-a/backlog/items/1/", {"title": "Renamed", "value": "3", "effort": "3"}),
        (RANK, {"ref": second, "before": first}),
        ("/o/org-a/backlog/rank/reset/", {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert [(i.title, i.status) for i in BacklogItem.objects.for_org(org_a).order_by("number")] == [
        ("First", "open"), ("Second", "open"), ("Third", "open"),
    ]  # fmt: skip
    assert not BacklogRank.objects.for_org(org_a).exists()
    # A view of their own is reading, not writing.
    client.post("/o/org-a/backlog/views/", {"name": "Mine", "kind": "feature"})
    assert BacklogView.objects.for_org(org_a).get().user == viewer.user


# --------------------------------------------------------------------------- queries


def fill(org, use_cases, *, features, gaps, follow_ups, releases, failures, alerts) -> int:
    """A backlog spread over the use cases; answers how many entries it makes."""
    now = timezone.now()
    BacklogItem.objects.bulk_create(
        BacklogItem(organization=org, number=n + 1, title=f"Item {n}", use_case=use_cases[n % 5],
                    value=n % 5 + 1, effort=(n * 7) % 5 + 1, owner=use_cases[n % 5].owner,
                    due_on=(now + timedelta(days=n % 40 - 10)).date() if n % 3 else None)
        for n in range(features)
    )  # fmt: skip
    for n in range(gaps):
        make_gap(org, f"Question {n}?", use_cases=[use_cases[n % 5]])
    incidents = [make_incident(org, uc) for uc in use_cases]
    IncidentFollowUp.objects.bulk_create(
        IncidentFollowUp(organization=org, incident=incidents[n % 5], title=f"Follow-up {n}",
                         owner=use_cases[n % 5].owner)
        for n in range(follow_ups)
    )  # fmt: skip
    for n in range(releases):
        release = make_release(org, use_cases[n % 5])
    # The last one in review: its sign-offs wait for any reviewer (one more entry).
    submit_release(actor=system(org), release=release)
    for n in range(failures):
        make_run(org, EvalPlanFactory(use_case=use_cases[n % 5], organization=org),
                 results=("fail",))  # fmt: skip
    for n in range(alerts):
        add_alert(org, use_cases[n % 5], summary=f"Breach {n}")
    return features + gaps + follow_ups + releases * MANUAL_ITEMS + 1 + failures + alerts


QUERIES_FILTERED = 15
SMALL = {"features": 25, "gaps": 5, "follow_ups": 5, "releases": 1, "failures": 1, "alerts": 5}
BIG = {"features": 300, "gaps": 100, "follow_ups": 50, "releases": 3, "failures": 10, "alerts": 15}


QUERIES = 23


@pytest.mark.parametrize(("sizes", "total"), [(SMALL, 50), (BIG, 500)])
def test_the_backlog_page_runs_the_same_queries_for_50_and_500_entries(
    po_client, org_a, member_factory, django_assert_num_queries, capsys, sizes, total
):
    owners = [member_factory(org_a, Role.PRODUCT_OWNER).user for _ in range(5)]
    use_cases = [UseCaseFactory(organization=org_a, number=n + 1, owner=owners[n])
                 for n in range(5)]  # fmt: skip
    assert fill(org_a, use_cases, **sizes) == total
    po_client.get(BACKLOG)  # warm the session and the content types
    with django_assert_num_queries(QUERIES):
        started = time.perf_counter()
        response = po_client.get(BACKLOG)
        elapsed = time.perf_counter() - started
    assert f"{total} entries" in response.content.decode()
    assert len(rows_of(response)) == min(total, 100)  # a page of 100
    filtered = BACKLOG + f"?kind=feature&owner={owners[0].pk}&use_case=1&order=mine"
    with django_assert_num_queries(QUERIES_FILTERED):
        assert len(keys_of(po_client.get(filtered))) == sizes["features"] // 5
    with capsys.disabled():
        print(  # noqa: T201 - the figure for the report
            f"\n[backlog] org page, {total} entries over 5 use cases: {QUERIES} queries, "
            f"{elapsed * 1000:.0f} ms"
        )


# --------------------------------------------------------------------------- tenancy


def test_another_organizations_work_never_shows(po_client, org_a, org_b, po_a, member_factory):
    theirs = one_of_each_kind(org_b, owner=member_factory(org_b, Role.OWNER), prefix="Org B ")
    one_of_each_kind(org_a, owner=po_a)
    b_refs = {e.ref for e in backlog.backlog_of(org_b).entries}
    assert len(b_refs) == sum(EXPECTED_COUNTS.values())

    for url in (BACKLOG, BACKLOG + "?order=mine", "/o/org-a/use-cases/1/backlog/"):
        response = po_client.get(url)
        assert {ref for ref, _ in rows_of(response)} & b_refs == set(), url
        assert "Org B" not in response.content.decode(), url
    rows = csv_rows(po_client.get("/o/org-a/backlog/backlog.csv"))
    assert not [row for row in rows if "Org B" in ",".join(row)]

    # B's feature item: its number answers exactly as a number that is not there.
    b_item = add_item(org_b, "Org B's second")  # BL-2 in B; A has BL-1 only
    assert po_client.get(f"/o/org-a/backlog/items/{b_item.number}/").status_code == 404
    assert po_client.post(f"/o/org-a/backlog/items/{b_item.number}/",
                          {"status": "done"}).status_code == 404  # fmt: skip
    assert po_client.get("/o/org-b/backlog/").status_code == 404
    assert po_client.get("/o/org-b/backlog/items/1/").status_code == 404
    b_item.refresh_from_db()
    assert b_item.status == "open"
    assert BacklogItem.objects.for_org(org_b).get(pk=theirs["feature"].pk).status == "open"
    # B's use case number in A's filter is A's own use case, never B's.
    assert "Org B" not in po_client.get(BACKLOG, {"use_case": 1}).content.decode()
