"""Online scoring: the plan's scorers that need no expected answer grade a stable sample of
the production answers, once each, and their failures reach the rollups."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from genai_po.actors import Actor
from metrics import ingest, online, rollups, services
from metrics.models import MetricRollup, OnlineScoring, TelemetryEvent
from metrics.tasks import score_online
from tests.factories.evals import EvalPlanFactory
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SCORERS = [
    {"type": "not_contains", "label": "never claims a refund was issued"},
    {"type": "escalation"},
    {"type": "equals"},  # needs an expected answer: not used online
    {"type": "llm_judge", "rubric": "Polite?"},  # needs a judge: not used online
]


def _plan(org, uc, **extra):
    return EvalPlanFactory(
        use_case=uc, scorers=SCORERS, forbidden_phrases=["refund has been issued"], **extra
    )


def _answers(uc, rows, prefix="o", at=NOW):
    return [
        {"event_id": f"{prefix}-{n}", "use_case": uc.key, "type": "interaction",
         "occurred_at": (at - timedelta(minutes=5)).isoformat(), "outcome": outcome,
         "input": "Refund?", "output": output}
        for n, (output, outcome) in enumerate(rows)
    ]  # fmt: skip


def test_only_scorers_that_need_no_expected_answer_run_online():
    kinds = [s["type"] for s in online.online_specs(SCORERS + [
        {"type": "contains", "values": ["KB-"]}, {"type": "contains"}, "junk",
    ])]  # fmt: skip
    assert kinds == ["not_contains", "escalation", "contains"]


def test_the_sample_is_stable_and_near_its_share():
    ids = [f"evt-{n}" for n in range(20_000)]
    chosen = [i for i in ids if online.in_sample(i, 10)]
    assert 0.09 < len(chosen) / len(ids) < 0.11
    assert chosen == [i for i in ids if online.in_sample(i, 10)]
    assert all(online.in_sample(i, 100) for i in ids[:100])


def test_sampled_answers_are_scored_once_and_their_failures_reach_the_rollups(
    org_a, django_capture_on_commit_callbacks
):
    uc = UseCaseFactory(organization=org_a)
    plan = _plan(org_a, uc)
    actor = Actor.system(organization=org_a, label="test")
    with time_machine.travel(NOW - timedelta(minutes=30), tick=False):
        services.online_scoring_set(
            actor=actor, use_case=uc, plan=plan, sample_percent=100, enabled=True
        )
    with (
        time_machine.travel(NOW, tick=False),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        # Ingest enqueues the scoring (eager in tests): it runs after the batch commits.
        ingest.ingest(org_a.pk, _answers(uc, [
            ("Per KB-3 you can return it within 30 days.", "success"),
            ("Good news: the refund has been issued.", "success"),  # forbidden phrase
            ("I'm transferring you to a live agent.", "success"),  # hands off, not escalated
            ("I'm transferring you to a live agent.", "escalated"),  # as it should
            ("", "abandoned"),  # no answer: nothing to score
        ]))  # fmt: skip
    assert len(callbacks) >= 1
    rows = {e.event_id: e for e in TelemetryEvent.objects.for_org(org_a)}
    assert [rows[f"o-{n}"].online_passed for n in range(5)] == [True, False, False, True, None]
    assert rows["o-1"].online_hallucination is True
    assert rows["o-1"].online_failures[0]["type"] == "not_contains"
    assert rows["o-2"].online_hallucination is False
    assert rows["o-4"].scored_at is None
    hour = MetricRollup.objects.for_org(org_a).get(granularity="hour", use_case=uc)
    assert (hour.online_scored, hour.online_failures, hour.online_hallucinations) == (4, 2, 1)
    scored_at = rows["o-1"].scored_at
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert score_online() == 0  # nothing new: nothing scored twice
    assert TelemetryEvent.objects.for_org(org_a).get(event_id="o-1").scored_at == scored_at


def test_scoring_starts_with_recent_interactions_and_stops_when_off(org_a):
    uc = UseCaseFactory(organization=org_a)
    plan = _plan(org_a, uc)
    actor = Actor.system(organization=org_a, label="test")
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        ingest.ingest(
            org_a.pk,
            _answers(uc, [("Old answer", "success")], prefix="old", at=NOW - timedelta(days=2)),
        )
    with time_machine.travel(NOW, tick=False):
        services.online_scoring_set(
            actor=actor, use_case=uc, plan=plan, sample_percent=100, enabled=True
        )
        online.score_organization(org_a.pk)
    assert TelemetryEvent.objects.for_org(org_a).get(event_id="old-0").scored_at is None
    services.online_scoring_set(
        actor=actor, use_case=uc, plan=None, sample_percent=100, enabled=False
    )
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        ingest.ingest(
            org_a.pk,
            _answers(uc, [("New", "success")], prefix="new", at=NOW + timedelta(minutes=3)),
        )
        online.score_organization(org_a.pk)
    assert TelemetryEvent.objects.for_org(org_a).get(event_id="new-0").scored_at is None


def test_scoring_settings_are_checked(org_a, org_b):
    uc = UseCaseFactory(organization=org_a)
    actor = Actor.system(organization=org_a, label="test")
    other_plan = _plan(org_a, UseCaseFactory(organization=org_a))
    judge_only = EvalPlanFactory(use_case=uc, scorers=[{"type": "llm_judge", "rubric": "x"}])
    for plan, percent, field, message in [
        (None, 10, "plan", "Choose an eval plan of this use case"),
        (other_plan, 10, "plan", "Choose an eval plan of this use case"),
        (judge_only, 10, "plan", "no scorer that can grade"),
        (_plan(org_a, uc), 0, "sample_percent", "between 0.01 and 100"),
        (_plan(org_a, uc), "lots", "sample_percent", "between 0.01 and 100"),
        (_plan(org_a, uc), 101, "sample_percent", "between 0.01 and 100"),
    ]:
        with pytest.raises(ValidationError) as caught:
            services.online_scoring_set(
                actor=actor, use_case=uc, plan=plan, sample_percent=percent, enabled=True
            )
        assert message in caught.value.message_dict[field][0]
    assert not OnlineScoring.objects.for_org(org_a).exists()


def test_rollups_and_scoring_of_another_organization_do_not_meet(org_a, org_b):
    uc_a, uc_b = UseCaseFactory(organization=org_a), UseCaseFactory(organization=org_b)
    services.online_scoring_set(
        actor=Actor.system(organization=org_b, label="test"), use_case=uc_b,
        plan=_plan(org_b, uc_b), sample_percent=100, enabled=True,
    )  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        ingest.ingest(org_a.pk, _answers(uc_a, [("refund has been issued", "success")]))
        online.score_organization(org_b.pk)
        rollups.rollup_organization(org_a.pk)
    assert TelemetryEvent.objects.for_org(org_a).get().scored_at is None
