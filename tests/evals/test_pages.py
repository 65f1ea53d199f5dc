"""The browser pages of plans, cases and runs: what a product owner does, with htmx and
without, roles, bad input, and query counts on the run page."""

import io

import pytest
from django.db import transaction
from django.urls import reverse

from evals import services
from evals.models import EvalCase, EvalPlan, EvalRun, ResultStatus, RunStatus, Triage
from evals.triage import register_triage_handler, unregister_triage_handler
from genai_po.models import AuditEvent
from genai_po.roles import Role
from tests.factories.evals import make_case, make_run
from tests.factories.usecases import RequirementFactory
from usecases.selectors import requirements_of

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def po_client(client, po_a):
    client.force_login(po_a.user)
    return client


def url(name, org, *args):
    return reverse(name, args=[org.slug, *args])


def test_evals_home_lists_plans_with_their_latest_run(po_client, org_a, plan_a):
    run = make_run(org_a, plan_a, results=("pass", "fail"))
    page = po_client.get(url("evals_home", org_a)).content.decode()
    assert plan_a.name in page
    assert f"Run #{run.number}" in page
    assert "50%" in page


def test_evals_home_empty_state(po_client, org_a):
    page = po_client.get(url("evals_home", org_a)).content.decode()
    assert "No eval plans yet" in page
    assert "Write a use-case brief first" in page


def test_create_a_plan_from_a_use_case(po_client, org_a, use_case_a, agent_target_a):
    form = po_client.get(url("plan_create", org_a) + f"?use_case={use_case_a.number}")
    assert form.status_code == 200
    response = po_client.post(url("plan_create", org_a), {
        "use_case": use_case_a.number, "name": "Refund answers", "target": agent_target_a.pk,
        "pass_threshold": "90", "repetitions": "2", "cadence": "none",
        "scorers": '[{"type": "escalation"}, {"type": "not_contains"}]',
        "forbidden_phrases": "guaranteed refund\nwe promise", "requirement_thresholds": "",
        "tag_thresholds": "refunds = 95",
    })  # fmt: skip
    plan = EvalPlan.objects.for_org(org_a).get()
    assert response.status_code == 302
    assert response["Location"] == url("plan_detail", org_a, plan.pk)
    assert plan.forbidden_phrases == ["guaranteed refund", "we promise"]
    assert plan.tag_thresholds == {"refunds": 95.0}
    assert [s["type"] for s in plan.scorers] == ["escalation", "not_contains"]


def test_a_bad_plan_form_shows_errors_and_saves_nothing(po_client, org_a, use_case_a):
    response = po_client.post(url("plan_create", org_a), {
        "use_case": use_case_a.number, "name": "X", "pass_threshold": "90", "repetitions": "1",
        "cadence": "none", "scorers": '[{"type": "telepathy"}]',
        "requirement_thresholds": "REQ-99 = 100",
    })  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    assert "telepathy" in page
    assert not EvalPlan.objects.for_org(org_a).exists()


def test_add_edit_and_remove_cases_inline(po_client, org_a, plan_a, use_case_a):
    req = RequirementFactory(use_case=use_case_a, number=1, statement="Hand off chargebacks.")
    form = po_client.get(url("case_add", org_a, plan_a.pk), **HX)
    assert 'id="case-editor"' in form.content.decode()
    assert "<html" not in form.content.decode()
    response = po_client.post(url("case_add", org_a, plan_a.pk), {
        "prompt": "I will file a chargeback", "must_escalate": "on", "tags": "chargeback, risk",
        "requirement_keys": ["REQ-1"],
    }, **HX)  # fmt: skip
    assert response.status_code == 200
    assert "CASE-1 added." in response.content.decode()
    case = EvalCase.objects.for_org(org_a).get()
    assert case.must_escalate and case.tags == ["chargeback", "risk"]
    assert list(case.requirements.all()) == [req]
    (shown,) = requirements_of(use_case=req.use_case)
    assert [(v.kind, v.url) for v in shown.verified_by] == [
        ("eval_case", f"/o/org-a/evals/plans/{plan_a.pk}/")
    ]

    response = po_client.post(url("case_edit", org_a, plan_a.pk, case.pk), {
        "prompt": "I will file a chargeback today", "must_escalate": "on",
        "requirement_keys": ["REQ-1"],
    }, **HX)  # fmt: skip
    assert "CASE-1 saved." in response.content.decode()
    current = services.current_cases(EvalPlan.objects.for_org(org_a).get())
    assert [c.prompt for c in current] == ["I will file a chargeback today"]

    # An old revision cannot be edited.
    assert po_client.get(url("case_edit", org_a, plan_a.pk, case.pk)).status_code == 404

    response = po_client.post(url("case_delete", org_a, plan_a.pk, current.get().pk), **HX)
    assert "CASE-1 removed." in response.content.decode()
    assert not services.current_cases(EvalPlan.objects.for_org(org_a).get()).exists()
    (shown,) = requirements_of(use_case=req.use_case)
    assert shown.verified_by == []  # a removed case verifies nothing


def test_a_case_without_input_is_refused(po_client, org_a, plan_a):
    response = po_client.post(url("case_add", org_a, plan_a.pk), {"prompt": "  "}, **HX)
    assert response.status_code == 400
    assert "Give the input" in response.content.decode()
    assert not EvalCase.objects.for_org(org_a).exists()


def test_import_a_csv_then_export_it(po_client, org_a, plan_a):
    csv_text = (
        "name,prompt,expected,tags,must_escalate\n"
        "Refund timing,How long does a refund take?,5 to 10 business days,refunds,no\n"
        "Chargeback,I will do a chargeback,,risk,yes\n"
    )
    upload = io.BytesIO(csv_text.encode())
    upload.name = "cases.csv"
    response = po_client.post(url("case_import", org_a, plan_a.pk), {"file": upload})
    assert response.status_code == 302
    plan = EvalPlan.objects.for_org(org_a).get()
    assert plan.case_version == 1
    assert services.current_cases(plan).count() == 2
    exported = po_client.get(url("case_export_csv", org_a, plan.pk))
    assert exported["Content-Type"].startswith("text/csv")
    assert "How long does a refund take?" in exported.content.decode()
    jsonl = po_client.get(url("case_export_jsonl", org_a, plan.pk)).content.decode()
    assert len(jsonl.strip().splitlines()) == 2


def test_a_broken_import_lists_line_numbers_and_imports_nothing(po_client, org_a, plan_a):
    csv_text = "prompt,must_escalate\nFine question,no\nOther question,maybe\n"
    upload = io.BytesIO(csv_text.encode())
    upload.name = "cases.csv"
    response = po_client.post(url("case_import", org_a, plan_a.pk), {"file": upload})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert "line 3" in page
    assert not EvalCase.objects.for_org(org_a).exists()


def test_start_a_run_and_read_its_results(
    po_client, org_a, plan_a, actor_a, django_capture_on_commit_callbacks
):
    services.case_add(actor=actor_a, plan=plan_a, data={"prompt": "How long does a refund take?"})
    services.case_add(actor=actor_a, plan=plan_a, data={"prompt": "Do you sell gift cards?"})
    with django_capture_on_commit_callbacks(execute=True):
        response = po_client.post(url("run_start", org_a, plan_a.pk), {"label": "prompt v2"})
    run = EvalRun.objects.for_org(org_a).get()
    assert response["Location"] == url("run_detail", org_a, run.pk)
    assert run.label == "prompt v2"
    page = po_client.get(url("run_detail", org_a, run.pk)).content.decode()
    assert "Completed" in page and "50%" in page
    assert "CASE-2" in page
    assert 'hx-trigger="every 1s"' not in page  # finished: no more polling
    failing = po_client.get(url("run_detail", org_a, run.pk) + "?status=failing", **HX)
    assert "CASE-1<" not in failing.content.decode() and "CASE-2" in failing.content.decode()


def test_progress_polls_while_active_and_reloads_when_done(po_client, org_a, plan_a):
    run = make_run(org_a, plan_a, status="running", results=("pass",))
    run.total_items = 4
    run.save(update_fields=["total_items"])
    part = po_client.get(url("run_progress", org_a, run.pk), **HX)
    body = part.content.decode()
    assert 'hx-trigger="every 1s"' in body
    assert "1 / 4" in body
    assert "HX-Refresh" not in part
    EvalRun.objects.for_org(org_a).filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    done = po_client.get(url("run_progress", org_a, run.pk), **HX)
    assert done["HX-Refresh"] == "true"


def test_the_run_page_takes_a_constant_number_of_queries(
    po_client, org_a, plan_a, django_assert_max_num_queries
):
    make_run(org_a, plan_a, results=("pass",))  # both runs below compare with this one
    small = make_run(org_a, plan_a, results=("fail",))
    big = make_run(org_a, plan_a, results=("fail", "pass", "error") * 10)
    counts = []
    for run in (small, big):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert po_client.get(url("run_detail", org_a, run.pk)).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(25):
        po_client.get(url("run_detail", org_a, big.pk))


@pytest.fixture
def gap_handler():
    """A context-gap handler as the context area registers one; removed afterwards."""
    received = []

    def handler(*, triage, actor):
        # Inside the triage's transaction: the triage row is already saved.
        assert transaction.get_connection().in_atomic_block
        assert Triage.objects.for_org(triage.organization_id).filter(pk=triage.pk).exists()
        received.append((triage.category, actor.label))
        return f"test.gap:{triage.pk}"

    register_triage_handler(category="context_gap", key="tests.gap", handler=handler)
    yield received
    unregister_triage_handler(category="context_gap", key="tests.gap")


def test_triage_a_failed_case_as_a_context_gap_runs_the_handler_in_its_transaction(
    po_client, org_a, plan_a, gap_handler
):
    run = make_run(org_a, plan_a, results=("fail",))
    case = run.results.get().case
    page = po_client.get(url("run_case", org_a, run.pk, case.pk)).content.decode()
    assert "Save triage" in page
    response = po_client.post(url("run_triage", org_a, run.pk, case.pk),
                              {"category": "context_gap", "note": "No gift card policy."},
                              **HX)  # fmt: skip
    assert "Triage saved." in response.content.decode()
    triage = Triage.objects.for_org(org_a).get()
    assert triage.note == "No gift card policy."
    # Beside the context area's own handler (a gap), the test's ran too.
    assert triage.follow_up_ref.split(", ") == ["GAP-1", f"test.gap:{triage.pk}"]
    assert triage.follow_up_url == f"/o/{org_a.slug}/context/gaps/1/"
    assert gap_handler == [("context_gap", "po@example.com")]
    assert "Context gap" in po_client.get(url("run_detail", org_a, run.pk)).content.decode()
    # Other categories do not call it.
    po_client.post(url("run_triage", org_a, run.pk, case.pk), {"category": "flaky"}, **HX)
    assert len(gap_handler) == 1


def test_a_failing_triage_handler_leaves_no_triage_and_no_event(actor_a, org_a, plan_a):
    run = make_run(org_a, plan_a, results=("fail",))
    case = run.results.get().case

    def broken(*, triage, actor):
        raise RuntimeError("the gap could not be written")

    register_triage_handler(category="context_gap", key="tests.broken", handler=broken)
    try:
        with pytest.raises(RuntimeError):
            services.triage_set(actor=actor_a, run=run, case=case, category="context_gap",
                                note="x")  # fmt: skip
    finally:
        unregister_triage_handler(category="context_gap", key="tests.broken")
    assert not Triage.objects.for_org(org_a).exists()
    assert not AuditEvent.objects.for_org(org_a).filter(action="eval_triage.set").exists()


def test_a_passed_case_cannot_be_triaged(po_client, org_a, plan_a):
    run = make_run(org_a, plan_a, results=("pass",))
    case = run.results.get().case
    response = po_client.post(url("run_triage", org_a, run.pk, case.pk),
                              {"category": "flaky"}, **HX)  # fmt: skip
    assert response.status_code == 400
    assert not Triage.objects.for_org(org_a).exists()


def test_baseline_comparison_shows_newly_failing_and_the_diff(po_client, org_a, plan_a, actor_a):
    first = make_run(org_a, plan_a, results=("pass",))
    case = first.results.get().case
    services.run_mark_baseline(actor=actor_a, run=first)
    second = make_run(org_a, plan_a, results=("pass",))
    # Same plan, second run: the same case number fails with another output.
    result = second.results.get()
    result.case = case
    result.case_number = case.number
    result.status = ResultStatus.FAIL
    result.output = "I am not sure. I'm handing this to a human agent."
    result.save()
    page = po_client.get(url("run_detail", org_a, second.pk)).content.decode()
    assert "the baseline" in page and "Newly failing: 1" in page
    detail = po_client.get(url("run_case", org_a, second.pk, case.pk)).content.decode()
    assert "Newly failing" in detail
    assert "diff-add" in detail and "handing this to a human" in detail


def test_roles_viewer_reads_engineer_runs_only_editors_edit(
    client, org_a, plan_a, member_factory, django_capture_on_commit_callbacks
):
    viewer = member_factory(org_a, Role.VIEWER)
    client.force_login(viewer.user)
    assert client.get(url("plan_detail", org_a, plan_a.pk)).status_code == 200
    assert client.post(url("run_start", org_a, plan_a.pk)).status_code == 403
    assert client.post(url("case_add", org_a, plan_a.pk), {"prompt": "x"}).status_code == 403
    engineer = member_factory(org_a, Role.ENGINEER)
    client.force_login(engineer.user)
    assert client.post(url("case_add", org_a, plan_a.pk), {"prompt": "x"}).status_code == 403
    response = client.post(url("run_start", org_a, plan_a.pk))
    assert response.status_code == 302  # refused with a message: the plan has no cases
    assert not EvalRun.objects.for_org(org_a).exists()


def test_cancel_and_baseline_buttons(po_client, org_a, plan_a):
    active = make_run(org_a, plan_a, status="running")
    assert "Cancel run" in po_client.get(url("run_detail", org_a, active.pk)).content.decode()
    po_client.post(url("run_cancel", org_a, active.pk))
    active.refresh_from_db()
    assert active.status == RunStatus.CANCELLED
    done = make_run(org_a, plan_a)
    po_client.post(url("run_baseline", org_a, done.pk))
    done.refresh_from_db()
    assert done.is_baseline
    xml = b"".join(po_client.get(url("run_junit", org_a, done.pk)).streaming_content)
    assert b"<testsuites" in xml


def test_a_new_plan_starts_with_the_prds_forbidden_phrases(po_client, org_a, use_case_a, actor_a):
    from usecases import services as usecase_services

    usecase_services.prd_save(actor=actor_a, use_case=use_case_a, sections={
        "forbidden_actions": 'Issuing refunds. Never write "refund approved".',
        "bad_examples": "'Sure, I've refunded you' (the assistant cannot refund).",
    }, summary="Draft")  # fmt: skip
    page = po_client.get(url("plan_create", org_a) + f"?use_case={use_case_a.number}")
    text = page.content.decode()
    assert "refund approved\nSure, I&#x27;ve refunded you</textarea>" in text


def test_the_plan_page_gives_the_ready_to_copy_ci_command(po_client, org_a, plan_a):
    page = po_client.get(url("plan_detail", org_a, plan_a.pk)).content.decode()
    command = (
        "GENAI_PO_URL=http://127.0.0.1:8000 GENAI_PO_TOKEN=$GENAI_PO_TOKEN "
        f"genai-po eval run --plan {plan_a.pk} --wait --junit eval-results.xml"
    )
    assert f'<code id="ci-command">{command}</code>' in page
    assert 'data-copy-target="ci-command"' in page


def test_the_run_page_lists_regressions_then_failures_then_passes(
    po_client, org_a, plan_a, actor_a
):
    from evals.models import EvalResult

    baseline = make_run(org_a, plan_a, results=("pass",))
    regressed = baseline.results.get().case
    services.run_mark_baseline(actor=actor_a, run=baseline)
    still_failing = make_case(org_a, plan_a, name="Still failing")
    passing = make_case(org_a, plan_a, name="Passing")
    EvalResult.objects.create(organization=org_a, run=baseline, case=still_failing,
                              case_number=still_failing.number, status="fail")  # fmt: skip
    run = make_run(org_a, plan_a, results=("pass",))
    first = run.results.get()
    first.case, first.case_number = passing, passing.number  # a pass, listed first by position
    first.save()
    for case, status in ((still_failing, "fail"), (regressed, "fail")):
        EvalResult.objects.create(organization=org_a, run=run, case=case,
                                  case_number=case.number, status=status)  # fmt: skip
    page = po_client.get(url("run_detail", org_a, run.pk)).content.decode()
    results = page[page.index('id="results"') :]
    order = [results.index(f"CASE-{c.number}<") for c in (regressed, still_failing, passing)]
    assert order == sorted(order), order
    assert results.count(">regression</span>") == 1
