"""Lifecycle gates (section 05 of the guide), stage moves and their overrides, and the
readiness list: "If a behavior cannot be tested, monitored, or reviewed by an owner, it
is not ready for production"."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from evals import services as eval_services
from genai_po.actors import Actor
from genai_po.roles import Role
from tests.factories.evals import EvalPlanFactory, make_case
from tests.factories.usecases import UseCaseFactory
from tests.usecases.helpers import Trail, _actor, _fresh
from usecases import gates, selectors, services
from usecases.models import StageTransition, UseCase

pytestmark = pytest.mark.django_db

BRIEF = "Brief describes problem, workflow and users"
OWNER = "An owner is named"
METRIC = "Success metric with baseline and target"
PRD = "An AI PRD is written"
REQUIREMENTS = "The PRD lists behavioral requirements"
EVAL_PLAN = "An eval plan exists"
READY = "Every launch-blocking requirement has a verification and an owner"
RISK = "Risk tier allows launch"
LATEST_RUN = "The latest run of the plan meets its thresholds"
RELEASE = "A release is approved"
DASHBOARDS = "Dashboards and an escalation process are live"
BACKLOG = "Failures are triaged into a backlog"

EVAL_PLAN_MISSING = "Create an eval plan with at least one case (Evals → New eval plan)."


def release_missing(use_case) -> str:
    return (
        "No approved release: create one under Governance → Releases, attach its "
        "evidence and get it signed off."
    )


def _checks(use_case, stage: str) -> list[tuple[str, str, str]]:
    uc = _fresh(use_case)
    readiness = selectors.readiness_of(use_case=uc)
    return [(c.label, c.state, c.detail) for c in gates.checks_for(uc, stage, readiness)]


def _gate(use_case, to_stage: str) -> list[str]:
    uc = _fresh(use_case)
    readiness = selectors.readiness_of(use_case=uc)
    return [c.label for c in gates.gate_for_move(uc, to_stage, readiness)]


def _transitions(use_case) -> list[tuple[str, str, bool]]:
    return [
        (t.from_stage, t.to_stage, t.overridden)
        for t in StageTransition.objects.for_org(use_case.organization_id)
        .filter(use_case=use_case)
        .order_by("pk")
    ]


def link_case(actor, requirement):
    """An eval case, in a plan of the requirement's use case, that verifies it."""
    plan = EvalPlanFactory(use_case=requirement.use_case)
    return eval_services.case_add(
        actor=actor, plan=plan,
        data={"prompt": "Where is my refund?", "requirement_keys": [requirement.key]},
    )  # fmt: skip


def _unverified(use_case) -> list[tuple[str, list[str]]]:
    readiness = selectors.readiness_of(use_case=use_case)
    return [(r.key, reasons) for r, reasons in readiness.unverified]


@pytest.fixture
def po(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="po@a.example")


@pytest.fixture
def actor(po) -> Actor:
    return _actor(po)


@pytest.fixture
def sme(org_a, member_factory):
    return member_factory(org_a, Role.SME, email="sme@a.example")


@pytest.fixture
def bare(actor) -> UseCase:
    """A use case with a title and nothing else."""
    return services.use_case_create(actor=actor, data={"title": "Refund answers"})


@pytest.fixture
def briefed(actor, sme) -> UseCase:
    """A use case whose brief meets the prototype gate."""
    return services.use_case_create(
        actor=actor,
        data={
            "title": "Refund answers",
            "problem": "Agents search for the refund policy on every ticket.",
            "workflow": "Tier-1 refund replies",
            "target_users": "Tier-1 agents",
            "owner": sme.user,
            "metric_name": "Handling time",
            "metric_baseline": "12",
            "metric_target": "6",
        },
    )


# --- the checks of each stage


def test_prototype_needs_a_brief_an_owner_and_a_metric(bare):
    assert _checks(bare, "prototype") == [
        (BRIEF, "missing", "Fill in: problem, workflow, target users."),
        (OWNER, "missing", "Choose the use case's owner."),
        (METRIC, "missing", "Give the business metric a name, a baseline and a target."),
    ]


def test_prototype_names_what_is_still_missing(actor, bare):
    services.use_case_update(
        actor=actor,
        use_case=_fresh(bare),
        data={"problem": "Slow refunds.", "metric_name": "Handling time", "metric_baseline": 0},
    )

    assert _checks(bare, "prototype") == [
        (BRIEF, "missing", "Fill in: workflow, target users."),
        (OWNER, "missing", "Choose the use case's owner."),
        (METRIC, "missing", "Give the business metric a name, a baseline and a target."),
    ]

    # A baseline of 0 is a baseline.
    services.use_case_update(actor=actor, use_case=_fresh(bare), data={"metric_target": "5"})
    assert _checks(bare, "prototype")[2] == (METRIC, "met", "")


def test_a_metric_needs_its_name(actor, briefed):
    services.use_case_update(actor=actor, use_case=_fresh(briefed), data={"metric_name": ""})

    assert _checks(briefed, "prototype")[2] == (
        METRIC,
        "missing",
        "Give the business metric a name, a baseline and a target.",
    )


def test_a_complete_brief_meets_the_prototype_gate(briefed):
    assert _checks(briefed, "prototype") == [
        (BRIEF, "met", ""),
        (OWNER, "met", ""),
        (METRIC, "met", ""),
    ]
    assert _checks(briefed, "discover") == []


def test_evaluate_needs_a_prd_with_requirements_and_an_eval_plan_with_cases(actor, briefed):
    assert _checks(briefed, "evaluate") == [
        (PRD, "missing", "Write the PRD."),
        (REQUIREMENTS, "missing", "Add at least one requirement to the PRD."),
        (EVAL_PLAN, "missing", EVAL_PLAN_MISSING),
    ]

    services.prd_save(
        actor=actor, use_case=briefed, sections={"user_goal": "Answer fast."}, summary="Draft"
    )
    assert _checks(briefed, "evaluate")[:2] == [
        (PRD, "met", ""),
        (REQUIREMENTS, "missing", "Add at least one requirement to the PRD."),
    ]

    services.requirement_add(actor=actor, use_case=briefed, data={"statement": "Cite."})
    services.requirement_add(actor=actor, use_case=briefed, data={"statement": "Escalate."})
    uc = _fresh(briefed)
    checks = gates.checks_for(uc, "evaluate", selectors.readiness_of(use_case=uc))

    assert [(c.label, c.state, c.detail) for c in checks] == [
        (PRD, "met", ""),
        (REQUIREMENTS, "met", "2 requirement(s)."),
        (EVAL_PLAN, "missing", EVAL_PLAN_MISSING),
    ]
    assert [c.met for c in checks] == [True, True, False]

    # A plan alone is not enough: it needs cases.
    plan = EvalPlanFactory(use_case=uc, name="Refund answers")
    assert _checks(uc, "evaluate")[2] == (EVAL_PLAN, "missing", EVAL_PLAN_MISSING)
    make_case(uc.organization, plan)
    assert _checks(_fresh(uc), "evaluate")[2] == (EVAL_PLAN, "met", "Refund answers (1 case).")


def test_deploy_checks_readiness_risk_and_asks_for_an_approved_release(actor, briefed, sme):
    services.requirement_add(
        actor=actor, use_case=briefed, data={"statement": "Cite.", "launch_blocking": True}
    )
    services.use_case_update(
        actor=actor, use_case=_fresh(briefed), data={"risk_tier": "unacceptable"}
    )

    assert _checks(briefed, "deploy") == [
        (READY, "missing", "1 launch-blocking requirement(s) without verification or owner: "
                           "see the readiness list."),
        (RISK, "missing", "An unacceptable-risk use case must not be deployed."),
        (LATEST_RUN, "missing", "No eval plan with cases: create one and run it."),
        (RELEASE, "missing", release_missing(briefed)),
    ]  # fmt: skip

    (req,) = selectors.requirements_of(use_case=briefed)
    services.requirement_update(actor=actor, requirement=req, data={"owner": sme.user})
    services.verification_add(
        actor=actor, requirement=req, kind="human_review", name="Weekly sample", owner=sme.user
    )
    services.use_case_update(actor=actor, use_case=_fresh(briefed), data={"risk_tier": "high"})

    assert _checks(briefed, "deploy") == [
        (READY, "met", ""),
        (RISK, "met", ""),
        (LATEST_RUN, "missing", "No eval plan with cases: create one and run it."),
        (RELEASE, "missing", release_missing(briefed)),
    ]


def test_monitor_asks_for_live_dashboards_and_improve_for_the_backlog(briefed):
    assert _checks(briefed, "monitor") == [
        (DASHBOARDS, "missing",
         "Missing: no telemetry in the last 7 days (send events or OpenTelemetry traces); "
         "no alert rule (for example on the error or escalation rate)."),
    ]  # fmt: skip
    assert _checks(briefed, "improve") == [
        (BACKLOG, "met", "Every failure of the latest runs is triaged."),
    ]


def test_improve_waits_until_the_failures_of_the_latest_runs_are_triaged(org_a):
    from evals import services as eval_services
    from genai_po.actors import Actor
    from tests.factories.evals import EvalPlanFactory, make_run

    uc = UseCaseFactory(organization=org_a)
    run = make_run(org_a, EvalPlanFactory(organization=org_a, use_case=uc), results=("fail",))
    assert _checks(uc, "improve") == [
        (BACKLOG, "missing", "1 run with failures nobody triaged: triage them from the run page "
                             "or the backlog."),
    ]  # fmt: skip
    result = run.results.get()
    eval_services.triage_set(
        actor=Actor.system(organization=org_a, label="test"), run=run, case=result.case,
        category="model_error", note="Wording",
    )  # fmt: skip
    assert _checks(uc, "improve") == [
        (BACKLOG, "met", "Every failure of the latest runs is triaged.")
    ]


def test_an_unknown_stage_has_no_checks(briefed):
    with pytest.raises(ValueError, match="Unknown stage 'launch'"):
        _checks(briefed, "launch")


def test_moving_forward_checks_every_stage_passed_through(org_a):
    uc = UseCaseFactory(organization=org_a, stage="discover")

    assert _gate(uc, "prototype") == [BRIEF, OWNER, METRIC]
    assert _gate(uc, "deploy") == [
        BRIEF, OWNER, METRIC, PRD, REQUIREMENTS, EVAL_PLAN, READY, RISK, LATEST_RUN, RELEASE,
    ]  # fmt: skip
    assert _gate(uc, "improve") == [
        BRIEF, OWNER, METRIC, PRD, REQUIREMENTS, EVAL_PLAN, READY, RISK, LATEST_RUN, RELEASE,
        DASHBOARDS, BACKLOG,
    ]  # fmt: skip
    in_prototype = UseCaseFactory(organization=org_a, stage="prototype")
    assert _gate(in_prototype, "deploy") == [
        PRD, REQUIREMENTS, EVAL_PLAN, READY, RISK, LATEST_RUN, RELEASE,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("here", "there"),
    [
        ("prototype", "discover"),
        ("deploy", "evaluate"),
        ("improve", "discover"),
        ("monitor", "deploy"),
    ],
)
def test_moving_back_has_no_gate(org_a, here, there):
    uc = UseCaseFactory(organization=org_a, stage=here, risk_tier="unacceptable")

    assert _gate(uc, there) == []


# --- use_case_move_stage


def test_an_unmet_gate_without_a_reason_is_refused_and_nothing_changes(actor, bare, org_a):
    trail = Trail(org_a)

    for reason in ("", "   "):
        with pytest.raises(ValidationError) as exc:
            services.use_case_move_stage(
                actor=actor, use_case=_fresh(bare), to_stage="prototype", override_reason=reason
            )
        assert exc.value.message_dict == {
            "override_reason": [
                f"The gate is not met: {BRIEF}; {OWNER}; {METRIC}. Give a reason to override it."
            ]
        }

    assert _fresh(bare).stage == "discover"
    assert _transitions(bare) == []
    trail.assert_none()


def test_an_override_with_a_reason_moves_and_is_audited(actor, po, bare, org_a):
    trail = Trail(org_a)

    transition = services.use_case_move_stage(
        actor=actor,
        use_case=_fresh(bare),
        to_stage="prototype",
        override_reason="  Pilot agreed with the support lead.  ",
    )

    assert _fresh(bare).stage == "prototype"
    transition = StageTransition.objects.for_org(org_a).get(pk=transition.pk)
    assert (transition.from_stage, transition.to_stage, transition.overridden) == (
        "discover",
        "prototype",
        True,
    )
    assert transition.override_reason == "Pilot agreed with the support lead."
    assert (transition.actor_id, transition.actor_label) == (po.user_id, "po@a.example")
    assert transition.unmet == [
        {"label": BRIEF, "state": "missing", "detail": "Fill in: problem, workflow, target users."},
        {"label": OWNER, "state": "missing", "detail": "Choose the use case's owner."},
        {"label": METRIC, "state": "missing",
         "detail": "Give the business metric a name, a baseline and a target."},
    ]  # fmt: skip
    event = trail.one()
    assert (event.action, event.object_type, event.object_id) == (
        "use_case.stage_override",
        "usecases.usecase",
        str(bare.pk),
    )
    assert event.before == {"stage": "discover"}
    assert event.after == {
        "stage": "prototype",
        "gate_overridden": True,
        "reason": "Pilot agreed with the support lead.",
        "unmet": [BRIEF, OWNER, METRIC],
    }


def test_overriding_over_several_stages_stores_every_unmet_check(actor, briefed, org_a):
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.use_case_move_stage(actor=actor, use_case=_fresh(briefed), to_stage="deploy")
    assert exc.value.message_dict == {
        "override_reason": [
            f"The gate is not met: {PRD}; {REQUIREMENTS}; {EVAL_PLAN}; {LATEST_RUN}; {RELEASE}. "
            "Give a reason to override it."
        ]
    }
    trail.assert_none()

    transition = services.use_case_move_stage(
        actor=actor, use_case=_fresh(briefed), to_stage="deploy", override_reason="Urgent."
    )

    assert [(u["label"], u["state"]) for u in transition.unmet] == [
        (PRD, "missing"),
        (REQUIREMENTS, "missing"),
        (EVAL_PLAN, "missing"),
        (LATEST_RUN, "missing"),
        (RELEASE, "missing"),
    ]
    assert _fresh(briefed).stage == "deploy"
    assert trail.one().after["unmet"] == [PRD, REQUIREMENTS, EVAL_PLAN, LATEST_RUN, RELEASE]


def test_a_met_gate_is_a_normal_move_and_a_reason_is_not_kept(actor, briefed, org_a):
    trail = Trail(org_a)

    transition = services.use_case_move_stage(
        actor=actor, use_case=_fresh(briefed), to_stage="prototype", override_reason="Not needed"
    )

    assert (transition.overridden, transition.override_reason, transition.unmet) == (
        False,
        "",
        [],
    )
    assert _fresh(briefed).stage == "prototype"
    event = trail.one()
    assert (event.action, event.before, event.after) == (
        "use_case.stage_change",
        {"stage": "discover"},
        {"stage": "prototype"},
    )


def test_moving_back_needs_no_reason_and_the_history_is_kept(actor, briefed, org_a):
    services.use_case_move_stage(actor=actor, use_case=_fresh(briefed), to_stage="prototype")
    services.use_case_move_stage(
        actor=actor, use_case=_fresh(briefed), to_stage="evaluate", override_reason="Eval soon."
    )
    trail = Trail(org_a)

    transition = services.use_case_move_stage(
        actor=actor, use_case=_fresh(briefed), to_stage="discover"
    )

    assert (transition.overridden, transition.unmet) == (False, [])
    assert _fresh(briefed).stage == "discover"
    event = trail.one()
    assert (event.action, event.before, event.after) == (
        "use_case.stage_change",
        {"stage": "evaluate"},
        {"stage": "discover"},
    )
    assert _transitions(briefed) == [
        ("discover", "prototype", False),
        ("prototype", "evaluate", True),
        ("evaluate", "discover", False),
    ]
    # The history reads newest first.
    history = StageTransition.objects.for_org(org_a).filter(use_case=briefed)
    assert [(t.from_stage, t.to_stage) for t in history] == [
        ("evaluate", "discover"),
        ("prototype", "evaluate"),
        ("discover", "prototype"),
    ]


@pytest.mark.parametrize(
    ("to_stage", "errors"),
    [
        ("launch", {"to_stage": ["Unknown stage 'launch'."]}),
        ("", {"to_stage": ["Unknown stage ''."]}),
        ("Prototype", {"to_stage": ["Unknown stage 'Prototype'."]}),
        ("discover", {"to_stage": ["The use case is already in this stage."]}),
    ],
)
def test_unknown_and_same_stages_are_refused(actor, briefed, org_a, to_stage, errors):
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.use_case_move_stage(
            actor=actor, use_case=_fresh(briefed), to_stage=to_stage, override_reason="Because."
        )

    assert exc.value.message_dict == errors
    assert _fresh(briefed).stage == "discover"
    assert _transitions(briefed) == []
    trail.assert_none()


def test_an_archived_use_case_does_not_move(actor, briefed, org_a):
    services.use_case_archive(actor=actor, use_case=_fresh(briefed))
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.use_case_move_stage(
            actor=actor, use_case=_fresh(briefed), to_stage="prototype", override_reason="Why not"
        )

    assert exc.value.messages == ["Restore the archived use case before moving it."]
    assert _fresh(briefed).stage == "discover"
    assert _transitions(briefed) == []
    trail.assert_none()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ENGINEER, Role.SME, Role.REVIEWER])
def test_moving_is_denied_to_non_editors(briefed, org_a, member_factory, role):
    trail = Trail(org_a)

    with pytest.raises(PermissionDenied):
        services.use_case_move_stage(
            actor=_actor(member_factory(org_a, role)), use_case=_fresh(briefed),
            to_stage="prototype",
        )  # fmt: skip

    assert _fresh(briefed).stage == "discover"
    assert _transitions(briefed) == []
    trail.assert_none()


# --- readiness


@pytest.fixture
def portfolio_of_requirements(actor, briefed, sme):
    """Six requirements covering each case of the readiness rule."""

    def add(statement, **data):
        return services.requirement_add(
            actor=actor, use_case=briefed, data={"statement": statement, **data}
        )

    add("No owner, no verification.", launch_blocking=True)
    add("Owner, no verification.", launch_blocking=True, owner=sme.user)
    third = add("Eval case, no owner.", launch_blocking=True)
    link_case(actor, third)
    add("Not launch-blocking, nothing.")
    add("Retired.", launch_blocking=True, status="retired")
    sixth = add("Covered.", launch_blocking=True, owner=sme.user)
    services.verification_add(
        actor=actor, requirement=sixth, kind="human_review", name="Weekly", owner=sme.user
    )
    return briefed


def test_readiness_lists_launch_blocking_requirements_without_owner_or_verification(
    portfolio_of_requirements,
):
    readiness = selectors.readiness_of(use_case=portfolio_of_requirements)

    assert (readiness.requirement_count, readiness.launch_blocking_count) == (
        5,
        4,
    )  # the retired one does not count
    assert _unverified(portfolio_of_requirements) == [
        ("REQ-1", ["no owner", "no verification"]),
        ("REQ-2", ["no verification"]),
        ("REQ-3", ["no owner"]),
    ]
    assert readiness.ready is False


def test_readiness_becomes_ready_when_every_item_is_covered(
    actor, portfolio_of_requirements, sme, org_a
):
    uc = portfolio_of_requirements
    req = {r.key: r for r in selectors.requirements_of(use_case=uc)}

    link_case(actor, req["REQ-1"])
    assert _unverified(uc) == [
        ("REQ-1", ["no owner"]),
        ("REQ-2", ["no verification"]),
        ("REQ-3", ["no owner"]),
    ]
    services.requirement_update(actor=actor, requirement=req["REQ-1"], data={"owner": sme.user})
    services.verification_add(
        actor=actor, requirement=req["REQ-2"], kind="human_review", name="Spot check",
        owner=sme.user,
    )  # fmt: skip
    assert _unverified(uc) == [("REQ-3", ["no owner"])]
    trail = Trail(org_a)

    services.requirement_update(actor=actor, requirement=req["REQ-3"], data={"owner": sme.user})

    readiness = selectors.readiness_of(use_case=uc)
    assert (readiness.unverified, readiness.ready) == ([], True)
    assert trail.one().action == "requirement.update"
    # Making a requirement launch-blocking without verification makes it not ready again.
    services.requirement_update(
        actor=actor, requirement=req["REQ-4"], data={"launch_blocking": True}
    )
    assert _unverified(uc) == [("REQ-4", ["no owner", "no verification"])]


def test_removing_the_only_verification_puts_a_requirement_back_on_the_list(actor, briefed, sme):
    req = services.requirement_add(
        actor=actor,
        use_case=briefed,
        data={"statement": "Cite.", "launch_blocking": True, "owner": sme.user},
    )
    check = services.verification_add(
        actor=actor, requirement=req, kind="human_review", name="Spot check", owner=sme.user
    )
    assert selectors.readiness_of(use_case=briefed).ready is True

    services.verification_remove(actor=actor, verification=check)

    assert _unverified(briefed) == [("REQ-1", ["no verification"])]


def test_an_eval_case_verifies_while_its_plan_is_active_and_it_links_the_requirement(
    actor, briefed, sme
):
    req = services.requirement_add(
        actor=actor, use_case=briefed,
        data={"statement": "Cite.", "launch_blocking": True, "owner": sme.user},
    )  # fmt: skip
    case = link_case(actor, req)
    (shown,) = selectors.requirements_of(use_case=briefed)
    assert [(v.kind, v.name) for v in shown.verified_by] == [
        ("eval_case", f"{case.plan.name} · {case.key}: Where is my refund?")
    ]
    assert selectors.readiness_of(use_case=briefed).ready is True

    # A new revision without the link: the requirement loses its verification.
    eval_services.case_update(actor=actor, case=case, data={"requirement_keys": []})
    assert _unverified(briefed) == [("REQ-1", ["no verification"])]

    # Linked again, then the plan archived: an archived plan verifies nothing.
    case.plan.refresh_from_db()
    current = eval_services.current_cases(case.plan).get()
    eval_services.case_update(actor=actor, case=current, data={"requirement_keys": [req.key]})
    assert selectors.readiness_of(use_case=briefed).ready is True
    eval_services.plan_archive(actor=actor, plan=case.plan, archived=True)
    assert _unverified(briefed) == [("REQ-1", ["no verification"])]


def test_a_human_review_whose_owner_left_does_not_count(actor, briefed, org_a, member_factory):
    reviewer = member_factory(org_a, Role.REVIEWER)
    req = services.requirement_add(
        actor=actor,
        use_case=briefed,
        data={"statement": "Cite.", "launch_blocking": True, "owner": actor.user},
    )
    services.verification_add(
        actor=actor, requirement=req, kind="human_review", name="Weekly", owner=reviewer.user
    )
    assert selectors.readiness_of(use_case=briefed).ready is True

    reviewer.user.delete()  # the owner's account goes; the review stays, without owner

    assert _unverified(briefed) == [("REQ-1", ["a human review has no owner"])]


def test_a_prd_without_requirements_is_not_ready(actor, briefed):
    services.prd_save(actor=actor, use_case=briefed, sections={"user_goal": "x"}, summary="S")

    readiness = selectors.readiness_of(use_case=briefed)

    assert (readiness.requirement_count, readiness.unverified, readiness.ready) == (0, [], False)


def test_retired_requirements_are_ignored(actor, briefed):
    req = services.requirement_add(
        actor=actor, use_case=briefed, data={"statement": "Cite.", "launch_blocking": True}
    )
    services.requirement_add(actor=actor, use_case=briefed, data={"statement": "Be kind."})
    assert _unverified(briefed) == [("REQ-1", ["no owner", "no verification"])]

    services.requirement_update(actor=actor, requirement=req, data={"status": "retired"})

    readiness = selectors.readiness_of(use_case=briefed)
    assert (readiness.launch_blocking_count, readiness.unverified, readiness.ready) == (0, [], True)


def test_a_prd_whose_requirements_are_all_retired_is_not_ready(actor, briefed):
    services.requirement_add(
        actor=actor, use_case=briefed, data={"statement": "Cite.", "status": "retired"}
    )

    readiness = selectors.readiness_of(use_case=briefed)

    assert (readiness.requirement_count, readiness.ready) == (0, False)


def test_readiness_reads_in_a_constant_number_of_queries(
    actor, briefed, sme, django_assert_num_queries
):
    for n in range(8):
        req = services.requirement_add(
            actor=actor,
            use_case=briefed,
            data={"statement": f"R{n}", "launch_blocking": True, "owner": sme.user},
        )
        services.verification_add(
            actor=actor, requirement=req, kind="human_review", name=f"Review {n}", owner=sme.user
        )
        link_case(actor, req)
    uc = _fresh(briefed)
    uc.organization  # noqa: B018 - as pages have it, from the request

    # The requirements with their owners, then one query per verification provider.
    with django_assert_num_queries(3):
        readiness = selectors.readiness_of(use_case=uc)

    assert (readiness.requirement_count, readiness.launch_blocking_count, readiness.ready) == (
        8,
        8,
        True,
    )
