"""Incident reports: the Article 73 clock computed with frozen time and its reminder sent
once, the rules of the record (times in order, serious needs its clock and reason, closing
needs every follow-up settled), and the two ways an incident feeds the loop."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from context import selectors as context_selectors
from evals.selectors import current_cases
from governance import gate as release_gate
from governance.models import Incident, IncidentFollowUp, IncidentGap
from governance.services import incidents
from governance.tasks import incident_deadline_reminders
from tests.factories.governance import (
    incident_data,
    make_incident,
    make_release,
    make_use_case_with_plan,
)
from tests.factories.usecases import UseCaseFactory
from tests.governance.conftest import actor_of

pytestmark = pytest.mark.django_db

AWARE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "due"),
    [
        ("standard", datetime(2026, 3, 17, 9, 30, tzinfo=UTC)),  # 15 days
        ("death", datetime(2026, 3, 12, 9, 30, tzinfo=UTC)),  # 10 days
        ("widespread", datetime(2026, 3, 4, 9, 30, tzinfo=UTC)),  # 2 days
    ],
)
def test_the_article_73_deadline_runs_from_the_time_the_organization_became_aware(
    org_a, po, kind, due
):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(AWARE + timedelta(hours=5), tick=False):
        incident = make_incident(
            org_a, uc, owner=po, serious=True, serious_kind=kind,
            serious_rationale="A customer was harmed", aware_at=AWARE,
            discovered_at=AWARE - timedelta(hours=1), occurred_at=AWARE - timedelta(days=1),
        )  # fmt: skip
    assert incident.deadline_at == due
    assert Incident.objects.for_org(org_a).get(pk=incident.pk).deadline_at == due


def test_a_later_awareness_or_another_clock_moves_the_deadline_and_unmarking_clears_it(org_a, po):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(AWARE + timedelta(days=1), tick=False):
        incident = make_incident(
            org_a, uc, owner=po, aware_at=AWARE, discovered_at=AWARE, occurred_at=AWARE,
        )  # fmt: skip
        assert incident.deadline_at is None  # not serious: no clock
        actor = actor_of(po)
        incidents.incident_update(
            actor=actor, incident=incident,
            data={"serious": True, "serious_kind": "standard", "serious_rationale": "Harm"},
        )  # fmt: skip
        incident.refresh_from_db()
        assert incident.deadline_at == AWARE + timedelta(days=15)
        incidents.incident_update(
            actor=actor, incident=incident, data={"serious_kind": "widespread"}
        )
        incident.refresh_from_db()
        assert incident.deadline_at == AWARE + timedelta(days=2)
        incidents.incident_update(actor=actor, incident=incident, data={"serious": False})
        incident.refresh_from_db()
        assert incident.deadline_at is None and incident.serious_kind == ""


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"serious": True, "serious_rationale": "Harm"}, "serious_kind"),
        ({"serious": True, "serious_kind": "death"}, "serious_rationale"),
        ({"discovered_at": AWARE - timedelta(days=3)}, "discovered_at"),  # before it occurred
        ({"aware_at": AWARE - timedelta(hours=5)}, "aware_at"),  # before discovery
        ({"occurred_at": AWARE + timedelta(days=30)}, "occurred_at"),  # in the future
        ({"severity": 5}, "severity"),
        ({"severity": True}, "severity"),
        ({"incident_type": "meteor"}, "incident_type"),
        ({"harm_types": ["boredom"]}, "harm_types"),
        ({"evidence_links": ["javascript:alert(1)"]}, "evidence_links"),
        ({"evidence_links": ["https://e.example/x"] * 21}, "evidence_links"),
        ({"title": "  "}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"reporter_label": "", "reporter": None}, "reporter_label"),
        ({"affected_users": -1}, "affected_users"),
        ({"affected_users": 2**40}, "affected_users"),
    ],
)
def test_a_bad_report_is_refused_on_its_field_and_nothing_is_recorded(org_a, po, data, field):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(AWARE + timedelta(hours=1), tick=False):
        base = incident_data(
            uc, occurred_at=AWARE - timedelta(hours=2), discovered_at=AWARE - timedelta(hours=1),
            aware_at=AWARE, reporter=None,
        )  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            incidents.incident_create(actor=actor_of(po), data={**base, **data})
    assert field in caught.value.message_dict
    assert not Incident.objects.for_org(org_a).exists()


def test_another_organizations_use_case_release_or_member_is_refused(
    org_a, org_b, po, member_factory
):
    uc = UseCaseFactory(organization=org_a)
    other_uc = UseCaseFactory(organization=org_b)
    other_release = make_release(org_b, other_uc)
    outsider = member_factory(org_b, "product_owner")
    for data, field in [
        ({"use_case": other_uc}, "use_case"),
        ({"release": other_release}, "release"),
        ({"owner": outsider.user}, "owner"),
        ({"reporter": outsider.user}, "reporter"),
    ]:
        with pytest.raises(ValidationError) as caught:
            incidents.incident_create(actor=actor_of(po), data=incident_data(uc, **data))
        assert field in caught.value.message_dict
    assert not Incident.objects.across_orgs().exists()


def test_numbers_follow_per_organization_and_the_creator_owns_and_reports_it(org_a, org_b, po):
    first = make_incident(org_a, UseCaseFactory(organization=org_a), owner=po, reporter_label="")
    second = make_incident(org_a, UseCaseFactory(organization=org_a), owner=po)
    other = make_incident(org_b, UseCaseFactory(organization=org_b))
    assert (first.key, second.key, other.key) == ("INC-1", "INC-2", "INC-1")
    assert first.owner == po.user and first.reporter == po.user
    assert first.reporter_label == po.user.email


def test_closing_needs_every_follow_up_done_or_accepted_with_a_note(org_a, po):
    actor = actor_of(po)
    incident = make_incident(org_a, UseCaseFactory(organization=org_a), owner=po)
    fix = incidents.follow_up_add(
        actor=actor, incident=incident, data={"title": "Fix the refund rule", "owner": po.user}
    )
    train = incidents.follow_up_add(actor=actor, incident=incident, data={"title": "Train"})
    with pytest.raises(ValidationError, match="2 follow-ups are still open"):
        incidents.incident_set_status(actor=actor, incident=incident, status="closed")
    incidents.follow_up_update(actor=actor, follow_up=fix, data={"status": "done"})
    with pytest.raises(ValidationError) as caught:
        incidents.follow_up_update(actor=actor, follow_up=train, data={"status": "accepted"})
    assert "note" in caught.value.message_dict
    with pytest.raises(ValidationError, match="1 follow-up is still open"):
        incidents.incident_set_status(actor=actor, incident=incident, status="closed")
    incidents.follow_up_update(
        actor=actor, follow_up=train,
        data={"status": "accepted", "note": "Covered by the new prompt; Dana decided"},
    )  # fmt: skip
    incidents.incident_set_status(actor=actor, incident=incident, status="closed")
    incident.refresh_from_db()
    assert incident.status == "closed" and incident.closed_at is not None
    # A closed incident is read-only until it is reopened.
    with pytest.raises(ValidationError, match="reopen"):
        incidents.incident_update(actor=actor, incident=incident, data={"title": "New"})
    with pytest.raises(ValidationError, match="reopen"):
        incidents.follow_up_add(actor=actor, incident=incident, data={"title": "Late"})
    incidents.incident_set_status(actor=actor, incident=incident, status="investigating")
    incident.refresh_from_db()
    assert incident.closed_at is None


def test_reports_are_recorded_in_order_and_only_for_a_serious_incident(org_a, po):
    actor = actor_of(po)
    uc = UseCaseFactory(organization=org_a)
    plain = make_incident(org_a, uc, owner=po)
    with pytest.raises(ValidationError, match="not marked serious"):
        incidents.incident_record_report(actor=actor, incident=plain, which="initial")
    with time_machine.travel(AWARE + timedelta(days=1), tick=False):
        incident = make_incident(
            org_a, uc, owner=po, serious=True, serious_kind="standard",
            serious_rationale="Harm", aware_at=AWARE, discovered_at=AWARE, occurred_at=AWARE,
        )  # fmt: skip
        with pytest.raises(ValidationError, match="initial report first"):
            incidents.incident_record_report(actor=actor, incident=incident, which="complete")
        with pytest.raises(ValidationError, match="precede"):
            incidents.incident_record_report(
                actor=actor, incident=incident, which="initial", at=AWARE - timedelta(hours=1)
            )
        with pytest.raises(ValidationError, match="future"):
            incidents.incident_record_report(
                actor=actor, incident=incident, which="initial", at=AWARE + timedelta(days=3)
            )
        incidents.incident_record_report(
            actor=actor, incident=incident, which="initial", at=AWARE + timedelta(hours=2)
        )
        incidents.incident_record_report(actor=actor, incident=incident, which="complete")
    incident.refresh_from_db()
    assert incident.initial_report_at == AWARE + timedelta(hours=2)
    assert incident.complete_report_at == AWARE + timedelta(days=1)


def test_the_owner_is_reminded_once_before_the_deadline(org_a, po):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(AWARE, tick=False):
        incident = make_incident(
            org_a, uc, owner=po, serious=True, serious_kind="standard",
            serious_rationale="Harm", aware_at=AWARE, discovered_at=AWARE, occurred_at=AWARE,
        )  # fmt: skip
    # 15 days: the reminder is due three days before the deadline.
    with time_machine.travel(AWARE + timedelta(days=11, hours=23), tick=False):
        assert incident_deadline_reminders() == 0
    assert mail.outbox == []
    with time_machine.travel(AWARE + timedelta(days=12, minutes=1), tick=False):
        assert incident_deadline_reminders() == 1
        assert incident_deadline_reminders() == 0  # sent once
    with time_machine.travel(AWARE + timedelta(days=14), tick=False):
        assert incident_deadline_reminders() == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [po.user.email]
    assert incident.key in message.subject and "Article 73" in message.subject
    assert f"/governance/incidents/{incident.number}/" in message.body
    incident.refresh_from_db()
    assert incident.reminder_sent_at == AWARE + timedelta(days=12, minutes=1)


def test_a_two_day_clock_reminds_halfway_and_a_complete_report_needs_no_reminder(org_a, po):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(AWARE, tick=False):
        short = make_incident(
            org_a, uc, owner=po, serious=True, serious_kind="widespread",
            serious_rationale="Outage", aware_at=AWARE, discovered_at=AWARE, occurred_at=AWARE,
        )  # fmt: skip
        done = make_incident(
            org_a, uc, owner=po, serious=True, serious_kind="widespread",
            serious_rationale="Outage", aware_at=AWARE, discovered_at=AWARE, occurred_at=AWARE,
        )  # fmt: skip
        incidents.incident_record_report(actor=actor_of(po), incident=done, which="initial")
        incidents.incident_record_report(actor=actor_of(po), incident=done, which="complete")
    assert incidents.reminder_due_at(short) == AWARE + timedelta(days=1)
    with time_machine.travel(AWARE + timedelta(hours=23), tick=False):
        assert incident_deadline_reminders() == 0
    with time_machine.travel(AWARE + timedelta(days=1, minutes=1), tick=False):
        assert incident_deadline_reminders() == 1
    assert [m.subject.split()[2] for m in mail.outbox] == [f"{short.key}:"]


def test_the_regression_case_joins_the_use_cases_plan_with_the_origin_incident(org_a, po):
    uc, requirement, plan = make_use_case_with_plan(org_a)
    other_uc, _, other_plan = make_use_case_with_plan(org_a)
    incident = make_incident(org_a, uc, owner=po)
    actor = actor_of(po)
    data = {"prompt": "Can I get a refund after 60 days?", "expected_behavior": "Say no"}
    with pytest.raises(ValidationError) as caught:
        incidents.incident_add_regression_case(
            actor=actor, incident=incident, plan=other_plan, data=data
        )
    assert "plan" in caught.value.message_dict
    before = current_cases(plan).count()
    case = incidents.incident_add_regression_case(
        actor=actor, incident=incident, plan=plan, data=data
    )
    plan.refresh_from_db()
    assert current_cases(plan).count() == before + 1
    assert (case.origin, case.origin_ref) == ("incident", incident.key)
    assert case.prompt == data["prompt"] and "incident" in case.tags
    incident.refresh_from_db()
    assert incident.regression_case == case
    with pytest.raises(ValidationError, match="already produced"):
        incidents.incident_add_regression_case(actor=actor, incident=incident, plan=plan, data=data)
    assert current_cases(plan).count() == before + 1


def test_open_context_gap_feeds_the_loop_and_links_the_gap(org_a, po):
    uc = UseCaseFactory(organization=org_a)
    incident = make_incident(org_a, uc, owner=po, severity=1)
    gap = incidents.incident_open_gap(
        actor=actor_of(po), incident=incident, question="What is the refund window for B2B?"
    )
    assert gap.detected_by == "incident" and gap.severity == "critical"
    assert list(context_selectors.gaps_of(org_a, use_case=uc)) == [gap]
    assert list(
        IncidentGap.objects.for_org(org_a)
        .filter(incident=incident)
        .values_list("gap_id", flat=True)
    ) == [gap.pk]
    # The contributing gaps can be set to any of the organization's gaps, not another's.
    incidents.incident_link_gaps(actor=actor_of(po), incident=incident, gap_ids=[])
    assert not IncidentGap.objects.for_org(org_a).filter(incident=incident).exists()
    with pytest.raises(ValidationError):
        incidents.incident_link_gaps(actor=actor_of(po), incident=incident, gap_ids=[10**12])


def test_an_open_follow_up_of_a_severe_incident_blocks_the_release_gate_with_its_link(org_a, po):
    uc, _, _ = make_use_case_with_plan(org_a)
    release = make_release(org_a, uc, owner=po)
    incident = make_incident(org_a, uc, owner=po, severity=2)
    minor = make_incident(org_a, uc, owner=po, severity=3)
    incidents.follow_up_add(actor=actor_of(po), incident=minor, data={"title": "Tidy up"})

    def state():
        gate = release_gate.evaluate(release)
        return next(s for s in gate.items if s.item.check_key == "incident_follow_ups")

    blocked = state()  # the severity-2 incident is open: nothing mitigated it yet
    assert blocked.state == "blocked" and f"{incident.key} (severity 2)" in blocked.detail
    incidents.incident_set_status(actor=actor_of(po), incident=incident, status="mitigated")
    assert state().state == "met"  # and a severity-3 follow-up does not block
    row = incidents.follow_up_add(
        actor=actor_of(po), incident=incident, data={"title": "Fix the refund rule"}
    )
    blocked = state()
    assert blocked.state == "blocked" and incident.key in blocked.detail
    assert f"/governance/incidents/{incident.number}/#follow-ups" in blocked.url
    incidents.follow_up_update(actor=actor_of(po), follow_up=row, data={"status": "done"})
    assert state().state == "met"
    assert IncidentFollowUp.objects.for_org(org_a).count() == 2


def test_a_closed_incident_takes_no_report_nor_case_and_a_serious_one_closes_once_reported(
    org_a, po
):
    uc, _, plan = make_use_case_with_plan(org_a)
    actor = actor_of(po)
    with time_machine.travel(AWARE + timedelta(days=1), tick=False):
        incident = make_incident(
            org_a, uc, owner=po, serious=True, serious_kind="standard",
            serious_rationale="Harm", aware_at=AWARE, discovered_at=AWARE, occurred_at=AWARE,
        )  # fmt: skip
        with pytest.raises(ValidationError, match="complete Article 73 report"):
            incidents.incident_set_status(actor=actor, incident=incident, status="closed")
        incidents.incident_record_report(
            actor=actor, incident=incident, which="initial", at=AWARE + timedelta(hours=2)
        )
        with pytest.raises(ValidationError, match="recorded already"):
            incidents.incident_record_report(actor=actor, incident=incident, which="initial")
        incidents.incident_record_report(
            actor=actor, incident=incident, which="complete", at=AWARE + timedelta(hours=3)
        )
        # Reports are on record: the awareness time cannot move after them, nor the mark go.
        with pytest.raises(ValidationError) as caught:
            incidents.incident_update(
                actor=actor, incident=incident, data={"serious": False, "aware_at": AWARE
                                                      + timedelta(hours=5)},
            )  # fmt: skip
        assert {"serious", "aware_at"} <= set(caught.value.message_dict)
        incidents.incident_set_status(actor=actor, incident=incident, status="closed")
        with pytest.raises(ValidationError, match="reopen"):
            incidents.incident_add_regression_case(
                actor=actor, incident=incident, plan=plan, data={"prompt": "x"}
            )


def test_a_reminder_after_the_deadline_says_it_is_overdue(org_a, po):
    uc = UseCaseFactory(organization=org_a)
    with time_machine.travel(AWARE, tick=False):
        make_incident(
            org_a, uc, owner=po, serious=True, serious_kind="widespread",
            serious_rationale="Outage", aware_at=AWARE, discovered_at=AWARE, occurred_at=AWARE,
        )  # fmt: skip
    with time_machine.travel(AWARE + timedelta(days=4), tick=False):
        assert incident_deadline_reminders() == 1
    (message,) = mail.outbox
    assert "OVERDUE" in message.subject and "OVERDUE by 2" in message.body
