"""Governance on the unified backlog: what a draft or in-review release waits for (manual
items not met, sign-offs not given, waivers running out) and the open follow-ups of
incidents, each leaving once its work is done, in a fixed number of queries."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from governance import backlog
from governance.models import ChecklistItem, Release, ReleaseReviewer, ReleaseStatus, Waiver
from governance.services import checklist, incidents, releases, signoffs
from governance.templates import DEFAULT_MANUAL_ITEMS
from tests.factories.governance import (
    make_incident,
    make_plan_run,
    make_policy,
    make_release,
    make_use_case_with_plan,
)
from tests.factories.usecases import UseCaseFactory
from tests.governance.conftest import actor_of
from usecases.backlog import backlog_of

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
MANUAL_KEYS = [key for key, *_ in DEFAULT_MANUAL_ITEMS]
REL = "/o/org-a/governance/releases"


def governance(org, **kwargs):
    return {e.key: e for e in backlog.governance_entries(org, **kwargs)}


def follow_ups(org, **kwargs):
    return backlog.incident_follow_up_entries(org, **kwargs)


def shape(entry):
    return (entry.impact, entry.urgency, entry.effort, entry.owner, entry.url)


def meet(po, item):
    checklist.item_update(
        actor=actor_of(po), item=item, status="met", attestation="Checked by Pat.",
        evidence_url="https://wiki.example.com/evidence",
    )  # fmt: skip


def waive(po, approver, item, expires_at):
    waiver = checklist.waiver_request(
        actor=actor_of(po), item=item, justification="Covered by the pilot's manual review.",
        expires_at=expires_at,
    )  # fmt: skip
    return checklist.waiver_decide(actor=actor_of(approver), waiver=waiver, approve=True)


def assign(po, release, role, member):
    releases.release_assign_reviewer(
        actor=actor_of(po), release=release, reviewer_role=role, user=member.user
    )


def ready_release(org, po, *, risk_tier="limited"):
    """A submitted release whose every item counts (as in test_releases)."""
    from context.models import SourceUseCase
    from tests.factories.context import make_source

    uc, _, plan = make_use_case_with_plan(org)
    make_plan_run(org, plan, [True] * 3, baseline=True)
    make_plan_run(org, plan, [True] * 3)
    SourceUseCase.objects.create(organization=org, source=make_source(org), use_case=uc)
    make_policy(org, uc)
    release = make_release(org, uc, owner=po, risk_tier=risk_tier)
    for item in release.items.filter(kind="manual"):
        meet(po, item)
    releases.release_submit(actor=actor_of(po), release=release)
    return release


# --------------------------------------------------------------------------- releases


def test_a_draft_lists_its_unmet_manual_items_and_no_automatic_one(org_a, po):
    uc = UseCaseFactory(organization=org_a, risk_tier="minimal")
    with time_machine.travel(NOW, tick=False):
        release = make_release(org_a, uc, owner=po)
    entries = governance(org_a)
    assert list(entries) == [f"REL-1 · {key}" for key in MANUAL_KEYS]
    for key in MANUAL_KEYS:
        entry = entries[f"REL-1 · {key}"]
        assert shape(entry) == (4, 3, 2, po.user, f"{REL}/1/#item-{key}")
        assert entry.kind == "governance" and entry.use_case == uc
        assert isinstance(entry.obj, ChecklistItem) and entry.obj.key == key
        assert entry.created_at == NOW
    risk = entries["REL-1 · risk_review"]
    assert risk.title == release.items.get(key="risk_review").text
    assert risk.why == "not started: waits for evidence and an attestation; REL-1 is a draft"
    assert risk.kind_label == "Governance"


def test_in_review_items_are_more_urgent_and_sign_offs_wait_on_their_reviewer(org_a, po, reviewer):
    uc = UseCaseFactory(organization=org_a, risk_tier="high")
    with time_machine.travel(NOW, tick=False):
        release = make_release(org_a, uc, owner=po)
        assign(po, release, "security", reviewer)
        releases.release_submit(actor=actor_of(po), release=release)
        entries = governance(org_a)
    assert list(entries) == [f"REL-1 · {key}" for key in MANUAL_KEYS] + [
        "REL-1 · security sign-off",
        "REL-1 · sign-offs",
    ]
    assert shape(entries["REL-1 · monitoring"]) == (5, 4, 2, po.user, f"{REL}/1/#item-monitoring")
    assert entries["REL-1 · monitoring"].why.endswith("; REL-1 is in review")
    security = entries["REL-1 · security sign-off"]
    assert shape(security) == (5, 3, 1, reviewer.user, f"{REL}/1/review/#decision")
    assert security.obj == ReleaseReviewer.objects.for_org(org_a).get(reviewer_role="security")
    assert security.title == "Security sign-off of REL-1 v1"
    assert security.why == "in review for 0 days: waits for Rita Reviewer's decision"
    assert security.created_at == NOW and security.use_case == uc
    anyone = entries["REL-1 · sign-offs"]
    assert shape(anyone) == (5, 3, 1, None, f"{REL}/1/review/#decision")
    assert anyone.obj == release
    assert anyone.title == "Sign-off of REL-1 v1: legal, compliance, business owner, sme lead"
    # The longer a sign-off waits, the more urgent it is.
    for days, urgency in ((1.9, 3), (2, 4), (6.9, 4), (7, 5), (30, 5)):
        with time_machine.travel(NOW + timedelta(days=days), tick=False):
            assert governance(org_a)["REL-1 · security sign-off"].urgency == urgency
    with time_machine.travel(NOW + timedelta(days=3), tick=False):
        assert governance(org_a)["REL-1 · sign-offs"].why.startswith("in review for 3 days:")


def test_an_item_leaves_once_met_or_not_applicable(org_a, po):
    uc = UseCaseFactory(organization=org_a, risk_tier="minimal")
    release = make_release(org_a, uc, owner=po)
    meet(po, release.items.get(key="risk_review"))
    checklist.item_update(
        actor=actor_of(po), item=release.items.get(key="sme_sample"), status="not_applicable",
        attestation="No SME reviews this internal tool.",
    )  # fmt: skip
    checklist.item_update(
        actor=actor_of(po), item=release.items.get(key="monitoring"), status="not_met",
        attestation="No on-call owner yet.",
    )  # fmt: skip
    entries = governance(org_a)
    assert "REL-1 · risk_review" not in entries and "REL-1 · sme_sample" not in entries
    assert entries["REL-1 · monitoring"].why.startswith("not met:")
    assert len(entries) == len(MANUAL_KEYS) - 2


def test_a_sign_off_leaves_once_given_and_an_approved_release_waits_for_nothing(
    org_a, po, reviewer, reviewer2
):
    release = ready_release(org_a, po, risk_tier="limited")  # 2 approvals needed
    assign(po, release, "security", reviewer)
    assign(po, release, "legal", reviewer2)
    assert list(governance(org_a)) == [
        "REL-1 · security sign-off",
        "REL-1 · legal sign-off",
        "REL-1 · sign-offs",
    ]
    signoffs.sign_off(actor=actor_of(reviewer), release=release, reviewer_role="security",
                      decision="approve")  # fmt: skip
    entries = governance(org_a)
    assert list(entries) == ["REL-1 · legal sign-off", "REL-1 · sign-offs"]
    assert entries["REL-1 · legal sign-off"].owner == reviewer2.user
    signoffs.sign_off(actor=actor_of(reviewer2), release=release, reviewer_role="legal",
                      decision="approve")  # fmt: skip
    release.refresh_from_db()
    assert release.status == ReleaseStatus.APPROVED
    assert governance(org_a) == {}


def test_a_rejected_release_leaves_until_it_is_submitted_again(org_a, po, reviewer):
    uc = UseCaseFactory(organization=org_a, risk_tier="minimal")
    release = make_release(org_a, uc, owner=po)
    releases.release_submit(actor=actor_of(po), release=release)
    signoffs.sign_off(actor=actor_of(reviewer), release=release, reviewer_role="security",
                      decision="reject", comment="No rollback plan.")  # fmt: skip
    assert governance(org_a) == {}
    releases.release_submit(actor=actor_of(po), release=release)
    entries = governance(org_a)
    assert "REL-1 · sign-offs" in entries and "REL-1 · risk_review" in entries


def test_a_waiver_shows_when_it_runs_out_and_stands_for_its_item(org_a, po, reviewer):
    uc = UseCaseFactory(organization=org_a, risk_tier="minimal")
    with time_machine.travel(NOW, tick=False):
        release = make_release(org_a, uc, owner=po)
        item = release.items.get(key="risk_review")
        soon = waive(po, reviewer, item, NOW + timedelta(days=5))
        waive(po, reviewer, release.items.get(key="monitoring"), NOW + timedelta(days=30))
        waive(po, reviewer, release.items.get(key="eval_run_current"), NOW + timedelta(days=14))
        checklist.waiver_request(  # pending: the item still waits
            actor=actor_of(po), item=release.items.get(key="documentation"),
            justification="Docs follow in v2.", expires_at=NOW + timedelta(days=3),
        )  # fmt: skip
        entries = governance(org_a)
    waivers = {k: e for k, e in entries.items() if "waiver" in k}
    assert list(waivers) == ["REL-1 · waiver of risk_review", "REL-1 · waiver of eval_run_current"]
    entry = waivers["REL-1 · waiver of risk_review"]
    assert shape(entry) == (4, 3, 2, po.user, f"{REL}/1/#item-risk_review")
    assert entry.obj == soon and entry.use_case == uc
    assert entry.title == f"Waiver of “{item.text}”"
    assert entry.why == "waiver expires in 5 days: meet the item or ask for a new waiver"
    assert waivers["REL-1 · waiver of eval_run_current"].urgency == 2  # 14 days away
    # An item under an approved waiver is its waiver's entry; a pending waiver changes nothing.
    assert "REL-1 · risk_review" not in entries and "REL-1 · monitoring" not in entries
    assert "REL-1 · documentation" in entries
    for at, urgency, why in (
        (NOW + timedelta(days=4, hours=12), 4, "waiver expires within a day"),
        (NOW + timedelta(days=5, hours=2), 5, "waiver expired today"),
        (NOW + timedelta(days=7, hours=1), 5, "waiver expired 2 days ago"),
    ):
        with time_machine.travel(at, tick=False):
            expired = governance(org_a)["REL-1 · waiver of risk_review"]
        assert (expired.urgency, expired.why.split(":")[0]) == (urgency, why)
    with time_machine.travel(NOW + timedelta(days=6), tick=False):
        renewed = waive(po, reviewer, item, NOW + timedelta(days=60))  # outlasts the first
        entries = governance(org_a)
    assert "REL-1 · waiver of risk_review" not in entries and "REL-1 · risk_review" not in entries
    with time_machine.travel(NOW + timedelta(days=50), tick=False):
        assert governance(org_a)["REL-1 · waiver of risk_review"].obj == renewed
        meet(po, Release.objects.for_org(org_a).get().items.get(key="risk_review"))
        assert "REL-1 · waiver of risk_review" not in governance(org_a)


def test_the_use_case_filter_keeps_that_use_case_only(org_a, po):
    uc1 = UseCaseFactory(organization=org_a, risk_tier="minimal")
    uc2 = UseCaseFactory(organization=org_a, risk_tier="minimal")
    make_release(org_a, uc1, owner=po)
    second = make_release(org_a, uc2, owner=po)
    releases.release_submit(actor=actor_of(po), release=second)
    entries = governance(org_a, use_case=uc2)
    assert entries and {e.use_case for e in entries.values()} == {uc2}
    assert all(key.startswith("REL-2 · ") for key in entries)
    assert len(governance(org_a)) == len(entries) + len(MANUAL_KEYS)


def test_another_organizations_releases_never_show(org_a, org_b, po, member_factory):
    po_b = member_factory(org_b, "product_owner")
    uc_b = UseCaseFactory(organization=org_b, risk_tier="minimal")
    releases.release_submit(actor=actor_of(po_b), release=make_release(org_b, uc_b, owner=po_b))
    assert governance(org_b)
    assert governance(org_a) == {}
    make_release(org_a, UseCaseFactory(organization=org_a, risk_tier="minimal"), owner=po)
    assert {e.obj.organization_id for e in governance(org_a).values()} == {org_a.pk}
    assert governance(org_a, use_case=uc_b) == {}


def _read_all(org):
    """The entries, and everything a page shows of them."""
    entries = backlog.governance_entries(org)
    return [(e.url, e.owner_name, e.use_case.key, e.obj.pk, e.impact) for e in entries]


def test_releases_read_in_five_queries_whatever_their_number(
    org_a, po, reviewer, reviewer2, django_assert_num_queries
):
    def in_review_release(tier):
        release = make_release(org_a, UseCaseFactory(organization=org_a, risk_tier=tier),
                               owner=po)  # fmt: skip
        assign(po, release, "security", reviewer)
        assign(po, release, "legal", reviewer2)
        waive(po, reviewer, release.items.get(key="monitoring"), timezone.now() + timedelta(days=3))
        releases.release_submit(actor=actor_of(po), release=release)
        return release

    in_review_release("minimal")
    with django_assert_num_queries(5):  # items, waivers, releases, reviewers, sign-offs
        few = _read_all(org_a)
    for tier in ("high", "limited", "minimal", "high"):
        in_review_release(tier)
    make_release(org_a, UseCaseFactory(organization=org_a), owner=po)
    with django_assert_num_queries(5):
        many = _read_all(org_a)
    assert len(few) == len(MANUAL_KEYS) - 1 + 1 + 3  # items, a waiver, 2 reviewers, anyone
    assert len(many) == 5 * len(few) + len(MANUAL_KEYS)
    refs = [(type(e.obj), e.obj.pk) for e in backlog.governance_entries(org_a)]
    assert len(refs) == len(set(refs))  # each entry its own object, for its rank


# --------------------------------------------------------------------------- incidents


def test_open_follow_ups_with_their_owner_severity_and_due_date(org_a, po, reviewer):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(NOW, tick=False):
        incident = make_incident(org_a, uc, owner=po, severity=2)
        add = lambda **data: incidents.follow_up_add(  # noqa: E731
            actor=actor_of(po), incident=incident, data=data
        )
        soon = add(title="Add a refund-policy eval case", owner=po.user,
                   due_date=NOW.date() + timedelta(days=5))  # fmt: skip
        today = add(title="Retrain support", owner=reviewer.user, due_date=NOW.date())
        open_ended = add(title="Review the prompt")
        entries = follow_ups(org_a)
    assert [(e.key, e.title, e.obj) for e in entries] == [
        ("INC-1 · follow-up", "Retrain support", today),
        ("INC-1 · follow-up", "Add a refund-policy eval case", soon),
        ("INC-1 · follow-up", "Review the prompt", open_ended),
    ]
    url = "/o/org-a/governance/incidents/1/#follow-up-"
    assert [shape(e) for e in entries] == [
        (4, 4, 3, reviewer.user, f"{url}{today.pk}"),
        (4, 3, 3, po.user, f"{url}{soon.pk}"),
        (4, 3, 3, None, f"{url}{open_ended.pk}"),
    ]
    assert [e.why for e in entries] == [
        "severity 2 incident; due within 2 days",
        "severity 2 incident; due in 5 days",
        "severity 2 incident; no due date",
    ]
    assert {e.kind for e in entries} == {"incident_follow_up"}
    assert {e.use_case for e in entries} == {uc}
    assert {e.created_at for e in entries} == {incident.created_at}
    with time_machine.travel(NOW + timedelta(days=8), tick=False):
        late = [e for e in follow_ups(org_a) if e.obj == soon][0]
    assert (late.urgency, late.why) == (5, "severity 2 incident; 3 days overdue")


@pytest.mark.parametrize(("severity", "impact"), [(1, 5), (2, 4), (3, 3), (4, 2)])
def test_a_follow_up_matters_as_much_as_its_incident_is_severe(org_a, po, severity, impact):
    incident = make_incident(org_a, UseCaseFactory(organization=org_a), owner=po,
                             severity=severity)  # fmt: skip
    incidents.follow_up_add(actor=actor_of(po), incident=incident, data={"title": "Fix it"})
    (entry,) = follow_ups(org_a)
    assert entry.impact == impact


def test_a_follow_up_leaves_once_done_or_accepted(org_a, po):
    incident = make_incident(org_a, UseCaseFactory(organization=org_a), owner=po)
    rows = [
        incidents.follow_up_add(actor=actor_of(po), incident=incident, data={"title": title})
        for title in ("Done soon", "Accepted", "Still open")
    ]
    incidents.follow_up_update(actor=actor_of(po), follow_up=rows[0], data={"status": "done"})
    incidents.follow_up_update(
        actor=actor_of(po),
        follow_up=rows[1],
        data={"status": "accepted", "note": "Risk accepted by Pat."},
    )
    assert [e.obj for e in follow_ups(org_a)] == [rows[2]]
    incidents.follow_up_update(actor=actor_of(po), follow_up=rows[2], data={"status": "done"})
    assert follow_ups(org_a) == []


def test_follow_ups_by_use_case_and_organization(
    org_a, org_b, po, member_factory, django_assert_num_queries
):
    uc1, uc2 = UseCaseFactory(organization=org_a), UseCaseFactory(organization=org_a)
    po_b = member_factory(org_b, "product_owner")
    uc_b = UseCaseFactory(organization=org_b)
    for org, uc, owner in ((org_a, uc1, po), (org_a, uc2, po), (org_b, uc_b, po_b)):
        incident = make_incident(org, uc, owner=owner)
        incidents.follow_up_add(
            actor=actor_of(owner),
            incident=incident,
            data={"title": f"Follow-up of {uc.key}", "owner": owner.user},
        )
    assert [e.title for e in follow_ups(org_a, use_case=uc2)] == [f"Follow-up of {uc2.key}"]
    assert {e.obj.organization_id for e in follow_ups(org_a)} == {org_a.pk}
    assert len(follow_ups(org_a)) == 2 and len(follow_ups(org_b)) == 1
    assert follow_ups(org_a, use_case=uc_b) == []

    def read():
        return [(e.url, e.owner_name, e.use_case.key, e.impact) for e in follow_ups(org_a)]

    with django_assert_num_queries(1):
        assert len(read()) == 2
    for n in range(6):
        incident = make_incident(org_a, uc1, owner=po, severity=1 + n % 4)
        for title in ("One", "Two"):
            incidents.follow_up_add(actor=actor_of(po), incident=incident,
                                    data={"title": title, "owner": po.user})  # fmt: skip
    with django_assert_num_queries(1):
        assert len(read()) == 14


def test_both_kinds_are_registered_on_the_backlog(org_a, po):
    uc = UseCaseFactory(organization=org_a, risk_tier="minimal")
    make_release(org_a, uc, owner=po)
    incident = make_incident(org_a, uc, owner=po)
    incidents.follow_up_add(actor=actor_of(po), incident=incident, data={"title": "Fix it"})
    found = backlog_of(org_a, kinds=["governance", "incident_follow_up"]).entries
    assert {e.kind for e in found} == {"governance", "incident_follow_up"}
    assert len(found) == len(MANUAL_KEYS) + 1
    assert {e.kind_label for e in found} == {"Governance", "Incident follow-ups"}
    assert all(isinstance(e.obj, ChecklistItem | Waiver) or e.kind != "governance" for e in found)
