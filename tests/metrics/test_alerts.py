"""Alerts: a breach fires once (email and in the app), stays one alert while it lasts,
resolves when the metric is back, and a new breach is a new alert."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from genai_po.actors import Actor
from metrics import alerts, rollups, services
from metrics.models import Alert
from tests.factories.usecases import UseCaseFactory
from tests.metrics.helpers import NOW
from tests.metrics.helpers import alert_rule as _rule
from tests.metrics.helpers import send_outcomes as _send

pytestmark = pytest.mark.django_db


def test_a_breach_fires_once_emails_the_owner_and_resolves(org_a, member_factory):
    owner = member_factory(org_a, "product_owner", email="owner@a.example").user
    uc = UseCaseFactory(organization=org_a, owner=owner)
    rule = _rule(org_a, uc)
    with time_machine.travel(NOW, tick=False):
        _send(org_a, uc, "a", errors=2, ok=18)  # 2 errors ÷ (18 + 2) = 10% > 5%
        rollups.rollup_organization(org_a.pk)
        fired = alerts.evaluate_organization(org_a.pk)
    assert len(fired) == 1
    alert = fired[0]
    assert alert.value == pytest.approx(10.0) and alert.threshold == 5
    assert "error rate 10% over the last 24 h, above 5%" in alert.summary
    assert [m.to for m in mail.outbox] == [["owner@a.example"]]
    assert rule.key in mail.outbox[0].subject and alert.notified == ["owner@a.example"]
    for minutes in (5, 10, 20):  # rollups go on; the breach lasts: no second alert
        with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
            _send(org_a, uc, f"more-{minutes}", errors=1, ok=9, at=NOW + timedelta(minutes=minutes))
            rollups.rollup_organization(org_a.pk)
            assert alerts.evaluate_organization(org_a.pk) == []
    assert Alert.objects.for_org(org_a).count() == 1 and len(mail.outbox) == 1
    later = NOW + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        _send(org_a, uc, "good", errors=0, ok=400, at=later)  # now under 5%
        rollups.rollup_organization(org_a.pk)
        alerts.evaluate_organization(org_a.pk)
    alert.refresh_from_db()
    assert alert.resolved_at == later
    again = NOW + timedelta(hours=3)
    with time_machine.travel(again, tick=False):
        _send(org_a, uc, "bad", errors=200, ok=0, at=again)
        rollups.rollup_organization(org_a.pk)
        assert len(alerts.evaluate_organization(org_a.pk)) == 1  # a new breach, a new alert
    assert Alert.objects.for_org(org_a).count() == 2 and len(mail.outbox) == 2


def test_too_few_interactions_neither_fire_nor_resolve(org_a):
    uc = UseCaseFactory(organization=org_a)
    _rule(org_a, uc, min_interactions=50)
    with time_machine.travel(NOW, tick=False):
        _send(org_a, uc, "a", errors=5, ok=5)
        rollups.rollup_organization(org_a.pk)
        assert alerts.evaluate_organization(org_a.pk) == []


def test_a_rise_week_over_week_fires_with_the_factor(org_a):
    uc = UseCaseFactory(organization=org_a)
    _rule(org_a, uc, metric="escalation_rate", condition="rises_by", threshold=2,
          min_interactions=10)  # fmt: skip
    last_week = NOW - timedelta(days=8)
    with time_machine.travel(NOW, tick=False):
        _send(org_a, uc, "prev", errors=0, ok=95, escalated=5, at=last_week)  # 5%
        _send(org_a, uc, "now", errors=0, ok=88, escalated=12)  # 12%: 2.4×
        rollups.rollup_organization(org_a.pk)
        fired = alerts.evaluate_organization(org_a.pk)
    assert len(fired) == 1 and "2.40× the 5% of the week before" in fired[0].summary


def test_an_incident_rule_opens_a_draft_incident(org_a):
    from governance import selectors as governance_selectors

    uc = UseCaseFactory(organization=org_a)
    _rule(org_a, uc, action="incident")
    with time_machine.travel(NOW, tick=False):
        _send(org_a, uc, "a", errors=5, ok=15)
        rollups.rollup_organization(org_a.pk)
        (alert,) = alerts.evaluate_organization(org_a.pk)
    incident = governance_selectors.incidents_of(org_a).get(number=alert.incident_number)
    assert incident.use_case == uc and incident.severity == 3
    assert "Opened by alert AR-1 as a draft" in incident.summary


def test_the_rollup_task_checks_the_rules_after_it_commits(
    org_a, org_b, django_capture_on_commit_callbacks
):
    uc_a, uc_b = UseCaseFactory(organization=org_a), UseCaseFactory(organization=org_b)
    _rule(org_a, uc_a)
    _rule(org_b, uc_b)
    with (
        time_machine.travel(NOW, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _send(org_a, uc_a, "a", errors=5, ok=15)
        _send(org_b, uc_b, "b", errors=0, ok=20)
        rollups.rollup_organization(org_a.pk)
        rollups.rollup_organization(org_b.pk)
    assert Alert.objects.for_org(org_a).count() == 1
    assert not Alert.objects.for_org(org_b).exists()


def test_acknowledging_records_who_and_happens_once(org_a):
    uc = UseCaseFactory(organization=org_a)
    _rule(org_a, uc)
    with time_machine.travel(NOW, tick=False):
        _send(org_a, uc, "a", errors=5, ok=15)
        rollups.rollup_organization(org_a.pk)
        (alert,) = alerts.evaluate_organization(org_a.pk)
    actor = Actor.system(organization=org_a, label="pat")
    services.alert_acknowledge(actor=actor, alert=alert, note="Rolled back the prompt")
    alert.refresh_from_db()
    assert alert.acknowledged_by_label == "pat"
    assert alert.acknowledgment_note == "Rolled back the prompt"
    with pytest.raises(ValidationError, match="Acknowledged already"):
        services.alert_acknowledge(actor=actor, alert=alert)


def test_rules_are_validated(org_a, org_b):
    uc = UseCaseFactory(organization=org_a)
    for data, field, message in [
        ({"use_case": UseCaseFactory(organization=org_b)}, "use_case", "of this organization"),
        ({"threshold": 150}, "threshold", "percentage, 0 to 100"),
        ({"threshold": -1}, "threshold", "0 or more"),
        ({"condition": "rises_by", "threshold": 1}, "threshold", "factor above 1"),
        ({"window_hours": 0}, "window_hours", "1 hour to 30 days"),
        ({"metric": "active_users", "window_hours": 30}, "window_hours", "whole days"),
        ({"metric": "nonsense"}, "metric", ""),
    ]:
        with pytest.raises(ValidationError) as caught:
            _rule(org_a, uc, **data)
        assert message in caught.value.message_dict[field][0]
    assert _rule(org_a, uc).key == "AR-1" and _rule(org_a, uc).key == "AR-2"


def test_the_beat_checks_rules_of_quiet_organizations_too(org_a):
    from metrics.tasks import rollups_update

    uc = UseCaseFactory(organization=org_a)
    _rule(org_a, uc, metric="active_users", condition="below", threshold=5, window_hours=48,
          min_interactions=0)  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        assert rollups_update() == 0  # no new events anywhere
    (alert,) = Alert.objects.for_org(org_a)
    assert "active users 0 over the last 48 h, below 5" in alert.summary
