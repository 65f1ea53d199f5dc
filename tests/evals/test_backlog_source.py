"""The evals backlog source: each plan's latest finished run with failures nobody triaged."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evals import compare, services
from evals.backlog import eval_failure_entries
from evals.models import EvalResult, EvalRun, Triage
from evals.selectors import current_cases
from genai_po.actors import Actor
from genai_po.roles import Role
from tests.factories import UserFactory
from tests.factories.evals import EvalPlanFactory, make_case
from tests.factories.usecases import RequirementFactory, UseCaseFactory
from usecases.backlog import backlog_of

pytestmark = pytest.mark.django_db

KIND = "eval_failure"


def plan_with_cases(org, use_case, name, cases=3, requirement=None):
    plan = EvalPlanFactory(use_case=use_case, organization=org, name=name)
    for n in range(cases):
        extra = {"requirement_keys": [requirement.key]} if requirement and n == 0 else {}
        make_case(org, plan, prompt=f"Question {n} of {name}?", **extra)
    plan.refresh_from_db()
    return plan


def run_of(org, plan, outcomes, *, ago=timedelta(0), status="completed", **fields):
    """A run of the plan's current cases: outcomes[i] is case i's statuses (one a
    repetition), finished `ago`."""
    cases = list(current_cases(plan))
    plan.run_seq += 1
    plan.save(update_fields=["run_seq"])
    finished = timezone.now() - ago if status in ("completed", "failed") else None
    run = EvalRun.objects.create(
        organization=org, plan=plan, number=plan.run_seq, trigger="api", status=status,
        case_version=plan.case_version, target=plan.target, started_at=finished,
        finished_at=finished, **fields,
    )  # fmt: skip
    EvalResult.objects.bulk_create(
        EvalResult(organization=org, run=run, case=case, case_number=case.number,
                   repetition=rep, status=outcome)
        for case, statuses in zip(cases, outcomes, strict=True)
        for rep, outcome in enumerate(statuses.split())
    )  # fmt: skip
    return run


def triage(org, run, case_index, member):
    actor = Actor.for_member(user=member.user, organization=org, role=member.role)
    case = list(current_cases(run.plan))[case_index]
    return services.triage_set(actor=actor, run=run, case=case, category="model_error", note="")


def url_of(run) -> str:
    return f"/o/{run.organization.slug}/evals/runs/{run.pk}/?status=failing"


@pytest.fixture
def pat(org_a):
    return UserFactory(email="pat@a.example", full_name="Pat Owner")


@pytest.fixture
def use_case(org_a, pat):
    return UseCaseFactory(organization=org_a, number=1, title="Refunds", owner=pat)


@pytest.fixture
def tester(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="tess@a.example")


def test_one_entry_per_plan_for_the_untriaged_failures_of_its_latest_finished_run(
    org_a, use_case, pat
):
    refunds = plan_with_cases(org_a, use_case, "Refund answers")
    run_of(org_a, refunds, ["pass", "pass", "pass"], ago=timedelta(days=10))
    # CASE-1 passed before and fails now (newly failing); CASE-2 errored in one repetition.
    latest = run_of(org_a, refunds, ["fail fail", "pass error", "pass pass"],
                    ago=timedelta(days=4, hours=1))  # fmt: skip
    run_of(org_a, refunds, ["pass", "pass", "pass"], status="running")  # not finished
    run_of(org_a, refunds, ["pass", "pass", "pass"], status="cancelled")  # no verdict
    tone = plan_with_cases(org_a, use_case, "Tone", cases=2)
    run_of(org_a, tone, ["fail", "pass"], ago=timedelta(days=3))
    still = run_of(org_a, tone, ["fail", "pass"], ago=timedelta(hours=2), status="failed")

    entries = sorted(eval_failure_entries(org_a), key=lambda e: e.title)

    assert [(e.key, e.title, e.url, e.obj, e.impact, e.urgency, e.effort, e.why)
            for e in entries] == [
        ("Run #2", "1 failure of Tone waits for triage", url_of(still), still, 3, 2, 1,
         "finished 2 h ago"),
        ("Run #2", "2 failures of Refund answers wait for triage", url_of(latest), latest, 4, 4,
         1, "finished 4 days ago"),
    ]  # fmt: skip
    assert {(e.kind, e.owner, e.use_case) for e in entries} == {(KIND, pat, use_case)}
    assert entries[1].created_at == latest.finished_at


def test_the_rule_of_newly_failing_is_the_run_page_s_comparison(org_a, use_case):
    """Against the marked baseline, not the previous run, as the page compares it."""
    plan = plan_with_cases(org_a, use_case, "Refund answers", cases=2)
    baseline = run_of(org_a, plan, ["pass", "fail"], ago=timedelta(days=3), is_baseline=True)
    previous = run_of(org_a, plan, ["fail", "fail"], ago=timedelta(days=2))
    latest = run_of(org_a, plan, ["fail", "fail"], ago=timedelta(days=1))
    Triage.objects.bulk_create(
        Triage(organization=org_a, run=previous, case=case, category="flaky", author_label="t")
        for case in current_cases(plan)
    )
    assert compare.compare(latest).groups[compare.NEWLY_FAILING] == [1]
    assert compare.baseline_for(latest) == baseline

    [entry] = eval_failure_entries(org_a)
    assert (entry.obj, entry.impact, entry.urgency) == (latest, 4, 3)

    # Only CASE-2, failing in the baseline too, is left to triage: back to 3.
    case_1 = list(current_cases(plan))[0]
    Triage.objects.create(organization=org_a, run=latest, case=case_1, category="flaky",
                          author_label="t")  # fmt: skip
    [entry] = eval_failure_entries(org_a)
    assert (entry.title, entry.impact) == ("1 failure of Refund answers waits for triage", 3)


def test_a_failure_behind_a_launch_blocking_requirement_weighs_4(org_a, use_case):
    blocking = RequirementFactory(use_case=use_case, organization=org_a, launch_blocking=True)
    plain = RequirementFactory(use_case=use_case, organization=org_a, launch_blocking=False)
    first = plan_with_cases(org_a, use_case, "A blocking", cases=2, requirement=blocking)
    second = plan_with_cases(org_a, use_case, "B plain", cases=2, requirement=plain)
    run_of(org_a, first, ["fail", "pass"], ago=timedelta(days=8))  # no baseline: all new
    run_of(org_a, second, ["fail", "pass"], ago=timedelta(days=8))

    entries = sorted(eval_failure_entries(org_a), key=lambda e: e.title)
    assert [(e.title, e.impact, e.urgency, e.why) for e in entries] == [
        ("1 failure of A blocking waits for triage", 4, 5, "finished 8 days ago"),
        ("1 failure of B plain waits for triage", 3, 5, "finished 8 days ago"),
    ]


def test_the_entry_leaves_when_every_failure_is_triaged(org_a, use_case, tester):
    plan = plan_with_cases(org_a, use_case, "Refund answers")
    run = run_of(org_a, plan, ["fail", "error", "pass"])

    triage(org_a, run, 0, tester)
    [entry] = eval_failure_entries(org_a)
    assert entry.title == "1 failure of Refund answers waits for triage"

    triage(org_a, run, 1, tester)
    assert eval_failure_entries(org_a) == []


def test_a_newer_clean_run_or_an_archived_plan_leaves_no_entry(org_a, use_case):
    fixed = plan_with_cases(org_a, use_case, "Fixed", cases=1)
    run_of(org_a, fixed, ["fail"], ago=timedelta(days=1))
    run_of(org_a, fixed, ["pass"])
    archived = plan_with_cases(org_a, use_case, "Archived", cases=1)
    run_of(org_a, archived, ["fail"])
    archived.archived_at = timezone.now()
    archived.save(update_fields=["archived_at"])
    recheck = plan_with_cases(org_a, use_case, "Re-checked", cases=1)
    source = run_of(org_a, recheck, ["pass"])
    run_of(org_a, recheck, ["fail"], scope="cases", rechecks=source)  # no plan verdict

    assert eval_failure_entries(org_a) == []


@pytest.mark.parametrize(("failures", "effort"), [(10, 1), (11, 2), (50, 2), (51, 3)])
def test_effort_grows_with_the_failures_to_triage(org_a, use_case, failures, effort):
    plan = plan_with_cases(org_a, use_case, "Big", cases=1)
    # One case failing `failures` times counts once: give each failure its own case row.
    run = run_of(org_a, plan, ["fail"])
    case = list(current_cases(plan))[0]
    clones = [
        type(case).objects.create(organization=org_a, plan=plan, number=100 + i,
                                  version_added=plan.case_version, prompt="q")
        for i in range(failures - 1)
    ]  # fmt: skip
    EvalResult.objects.bulk_create(
        EvalResult(organization=org_a, run=run, case=c, case_number=c.number, status="fail")
        for c in clones
    )
    [entry] = eval_failure_entries(org_a)
    assert (entry.title, entry.effort) == (f"{failures} failures of Big wait for triage", effort)


def test_the_use_case_filter_keeps_its_plans_only(org_a, use_case):
    other = UseCaseFactory(organization=org_a, number=2, title="Shipping")
    mine = run_of(org_a, plan_with_cases(org_a, use_case, "Mine", cases=1), ["fail"])
    theirs = run_of(org_a, plan_with_cases(org_a, other, "Theirs", cases=1), ["fail"])

    assert [e.obj for e in eval_failure_entries(org_a, use_case=use_case)] == [mine]
    assert [e.obj for e in eval_failure_entries(org_a, use_case=other)] == [theirs]


def test_another_organization_s_failures_never_show(org_a, org_b, use_case):
    mine = run_of(org_a, plan_with_cases(org_a, use_case, "Mine", cases=1), ["fail"])
    use_case_b = UseCaseFactory(organization=org_b, number=1)
    theirs = run_of(org_b, plan_with_cases(org_b, use_case_b, "Theirs", cases=1), ["fail"])

    assert [e.obj for e in eval_failure_entries(org_a)] == [mine]
    assert [e.obj for e in eval_failure_entries(org_b)] == [theirs]
    # Nor through another organization's use case.
    assert eval_failure_entries(org_a, use_case=use_case_b) == []


def _plans_with_failures(org, use_case, n):
    for i in range(n):
        plan = plan_with_cases(org, use_case, f"Plan {i}", cases=2)
        run_of(org, plan, ["pass", "pass"], ago=timedelta(days=2))
        run_of(org, plan, ["fail fail", "error pass"])


def _read(org, **kwargs):
    return [
        (e.owner_name, e.use_case.key, e.obj.plan.name) for e in eval_failure_entries(org, **kwargs)
    ]


@pytest.mark.parametrize("scoped", [False, True])
def test_a_fixed_number_of_queries_whatever_the_number_of_plans(
    org_a, use_case, django_assert_num_queries, scoped
):
    kwargs = {"use_case": use_case} if scoped else {}
    _plans_with_failures(org_a, use_case, 2)
    with CaptureQueriesContext(connection) as few:
        assert len(_read(org_a, **kwargs)) == 2
    assert len(few) == 1

    _plans_with_failures(org_a, use_case, 28)
    with django_assert_num_queries(len(few)):
        assert len(_read(org_a, **kwargs)) == 30


def test_the_source_is_registered_with_the_backlog(org_a, use_case):
    run = run_of(org_a, plan_with_cases(org_a, use_case, "Refund answers", cases=1), ["fail"])
    backlog = backlog_of(org_a, kinds=[KIND])
    assert [(e.kind, e.kind_label, e.obj) for e in backlog.entries] == [
        (KIND, "Eval failures", run)
    ]
