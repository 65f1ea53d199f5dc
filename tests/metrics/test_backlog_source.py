"""Alert breaches on the unified backlog: each open alert, most urgent until someone
acknowledges it, gone once the metric is back (or, for a "backlog" rule, once it is
acknowledged), in one query."""

from datetime import timedelta

import pytest
import time_machine

from genai_po.actors import Actor
from metrics import alerts, backlog, rollups, services
from metrics.models import Alert
from tests.factories.usecases import UseCaseFactory
from tests.metrics.helpers import NOW
from tests.metrics.helpers import alert_rule as _rule
from tests.metrics.helpers import send_outcomes as _send
from usecases.backlog import backlog_of

pytestmark = pytest.mark.django_db
ALERTS = "/o/org-a/metrics/alerts/"


def _breach(org, *use_cases, at=NOW):
    """Errors on each use case (25% errors, 20% escalations), rolled up and checked."""
    with time_machine.travel(at, tick=False):
        for uc in use_cases:
            _send(org, uc, f"bad-{uc.pk}-{at:%H%M}", errors=5, ok=11, escalated=4, at=at)
        rollups.rollup_organization(org.pk)
        return alerts.evaluate_organization(org.pk)


def _recover(org, uc, at):
    with time_machine.travel(at, tick=False):
        _send(org, uc, f"good-{uc.pk}", errors=0, ok=800, at=at)
        rollups.rollup_organization(org.pk)
        alerts.evaluate_organization(org.pk)


def entries(org, *, at=NOW + timedelta(hours=3), **kwargs):
    with time_machine.travel(at, tick=False):
        return backlog.alert_entries(org, **kwargs)


def shape(entry):
    return (entry.key, entry.impact, entry.urgency, entry.effort, entry.owner, entry.url)


def _acknowledge(org, alert, note=""):
    services.alert_acknowledge(
        actor=Actor.system(organization=org, label="pat"), alert=alert, note=note
    )


def test_an_open_alert_waits_for_acknowledgment_then_for_the_metric(org_a, po):
    uc = UseCaseFactory(organization=org_a, owner=po.user)
    _rule(org_a, uc)  # AR-1, error rate: impact 5
    _rule(org_a, uc, metric="escalation_rate", threshold=10)  # AR-2: impact 4
    errors, escalations = sorted(_breach(org_a, uc), key=lambda a: a.rule.number)
    found = entries(org_a)
    assert [shape(e) for e in found] == [
        ("AR-1", 5, 5, 2, po.user, f"{ALERTS}?state=open#alert-{errors.pk}"),
        ("AR-2", 4, 5, 2, po.user, f"{ALERTS}?state=open#alert-{escalations.pk}"),
    ]
    first = {e.key: e for e in found}["AR-1"]
    assert first.kind == "alert" and first.kind_label == "Alert breaches"
    assert first.obj == errors and first.use_case == uc and first.created_at == NOW
    assert first.title == errors.summary
    assert "error rate 25% over the last 24 h, above 5%" in first.title
    assert first.why == "fired 3 h ago, not acknowledged"
    assert entries(org_a, at=NOW + timedelta(minutes=20))[0].why.startswith("fired 20 min ago")
    assert entries(org_a, at=NOW + timedelta(days=3))[0].why.startswith("fired 3 days ago")

    _acknowledge(org_a, errors, "Rolled back the prompt")
    acknowledged = {e.key: e for e in entries(org_a)}["AR-1"]
    assert shape(acknowledged) == ("AR-1", 5, 3, 2, po.user, f"{ALERTS}#alert-{errors.pk}")
    assert acknowledged.why == "fired 3 h ago, acknowledged by pat: Rolled back the prompt"

    _recover(org_a, uc, NOW + timedelta(hours=2))
    assert Alert.objects.for_org(org_a).filter(resolved_at__isnull=True).count() == 0
    assert entries(org_a) == []


def test_a_backlog_rule_keeps_its_alert_until_acknowledged(org_a, po):
    uc = UseCaseFactory(organization=org_a, owner=po.user)
    _rule(org_a, uc, action="backlog")
    (alert,) = _breach(org_a, uc)
    _recover(org_a, uc, NOW + timedelta(hours=1))
    (entry,) = entries(org_a)
    assert shape(entry) == (f"AR-1 · {alert.key}", 5, 5, 2, po.user,
                            f"{ALERTS}?state=open#alert-{alert.pk}")  # fmt: skip
    assert entry.why == "fired 3 h ago, not acknowledged; back within threshold 2 h ago"
    _acknowledge(org_a, alert)
    assert entries(org_a) == []


def test_a_disabled_rule_leaves_the_backlog(org_a, po):
    uc = UseCaseFactory(organization=org_a, owner=po.user)
    rule = _rule(org_a, uc)
    _breach(org_a, uc)
    assert len(entries(org_a)) == 1
    services.rule_save(actor=Actor.system(organization=org_a, label="test"), rule=rule,
                       data={"enabled": False})  # fmt: skip
    assert entries(org_a) == []


def test_no_owner_when_the_use_case_has_none(org_a):
    uc = UseCaseFactory(organization=org_a)
    _rule(org_a, uc)
    _breach(org_a, uc)
    (entry,) = entries(org_a)
    assert entry.owner is None and entry.owner_name == ""


def test_alerts_by_use_case_and_organization(org_a, org_b, po):
    uc1, uc2 = UseCaseFactory(organization=org_a), UseCaseFactory(organization=org_a)
    uc_b = UseCaseFactory(organization=org_b)
    for org, uc in ((org_a, uc1), (org_a, uc2), (org_b, uc_b)):
        _rule(org, uc)
    _breach(org_a, uc1, uc2)
    _breach(org_b, uc_b)
    assert [e.use_case for e in entries(org_a, use_case=uc2)] == [uc2]
    assert {e.obj.organization_id for e in entries(org_a)} == {org_a.pk}
    assert len(entries(org_a)) == 2 and len(entries(org_b)) == 1
    assert entries(org_a, use_case=uc_b) == []


def test_alerts_read_in_one_query_whatever_their_number(org_a, po, django_assert_num_queries):
    def read():
        return [(e.url, e.owner_name, e.use_case.key, e.key, e.why) for e in entries(org_a)]

    first = UseCaseFactory(organization=org_a, owner=po.user)
    _rule(org_a, first)
    _breach(org_a, first)
    with django_assert_num_queries(1):
        assert len(read()) == 1
    more = [UseCaseFactory(organization=org_a, owner=po.user) for _ in range(5)]
    for uc in more:
        _rule(org_a, uc)
        _rule(org_a, uc, metric="hallucination_rate", threshold=50)  # not breached
    _breach(org_a, *more, at=NOW + timedelta(minutes=5))
    with django_assert_num_queries(1):
        assert len(read()) == 6


def test_alerts_are_registered_on_the_backlog(org_a, po):
    uc = UseCaseFactory(organization=org_a, owner=po.user)
    _rule(org_a, uc)
    (alert,) = _breach(org_a, uc)
    found = backlog_of(org_a, kinds=["alert"]).entries
    assert [(e.kind, e.obj) for e in found] == [("alert", alert)]
