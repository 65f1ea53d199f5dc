"""Use-case writes through their services: briefs, PRD versions, requirements and their
keys, verifications. Every successful write records exactly one audit event; every
refused one records none and changes nothing."""

import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from genai_po.actors import Actor
from genai_po.audit import audit_chain_verify
from genai_po.roles import Role
from tests.factories import UserFactory
from tests.usecases.helpers import Trail, _actor, _fresh
from usecases import selectors, services
from usecases.models import Prd, PrdTemplate, PrdVersion, Requirement, UseCase


def _use_cases(org) -> list[str]:
    return [uc.key for uc in UseCase.objects.for_org(org).order_by("number")]


def _versions(use_case) -> list[tuple[int, str]]:
    prd = selectors.prd_of(use_case=use_case)
    if prd is None:
        return []
    return [(v.number, v.summary) for v in selectors.prd_versions(prd=prd).order_by("number")]


pytestmark = pytest.mark.django_db

EDITORS = [Role.OWNER, Role.ADMIN, Role.PRODUCT_OWNER]
NON_EDITORS = [Role.VIEWER, Role.ENGINEER, Role.SME, Role.REVIEWER]


# --- helpers


@pytest.fixture
def po_a(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="po@a.example")


@pytest.fixture
def actor(po_a) -> Actor:
    return _actor(po_a)


@pytest.fixture
def use_case(actor) -> UseCase:
    return services.use_case_create(actor=actor, data={"title": "Refund answers"})


# --- use_case_create


def test_use_cases_are_numbered_per_organization(org_a, org_b, member_factory):
    actor_a = _actor(member_factory(org_a, Role.PRODUCT_OWNER))
    actor_b = _actor(member_factory(org_b, Role.PRODUCT_OWNER))

    first = services.use_case_create(actor=actor_a, data={"title": "Refund answers"})
    second = services.use_case_create(actor=actor_a, data={"title": "Order status"})
    other = services.use_case_create(actor=actor_b, data={"title": "Invoice questions"})

    assert (first.number, first.key, str(first)) == (1, "UC-1", "UC-1 Refund answers")
    assert (second.number, second.key) == (2, "UC-2")
    assert (other.number, other.key) == (1, "UC-1")
    assert (first.organization_id, other.organization_id) == (org_a.pk, org_b.pk)
    assert _use_cases(org_a) == ["UC-1", "UC-2"]
    assert _use_cases(org_b) == ["UC-1"]


def test_numbers_continue_after_the_highest_even_when_archived(actor, org_a):
    first = services.use_case_create(actor=actor, data={"title": "One"})
    services.use_case_archive(actor=actor, use_case=first)

    second = services.use_case_create(actor=actor, data={"title": "Two"})

    assert second.key == "UC-2"


def test_create_stores_the_brief_and_records_one_event(actor, po_a, org_a, member_factory):
    owner = member_factory(org_a, Role.SME, email="owner@a.example")
    trail = Trail(org_a)

    uc = services.use_case_create(
        actor=actor,
        data={
            "title": "  Refund answers  ",
            "problem": "Agents search for the refund policy on every ticket.",
            "workflow": "Tier-1 refund replies",
            "target_users": "Tier-1 agents",
            "user_count": 40,
            "owner": owner.user,
            "department": "Support",
            "value_hypothesis": "Halve handling time.",
            "metric_name": "Handling time",
            "metric_unit": "minutes",
            "metric_baseline": "12.5",
            "metric_target": 6,
            "risk_tier": "high",
            "human_involvement": "review_each",
            "status": "active",
        },
    )

    uc = _fresh(uc)
    assert uc.title == "Refund answers"
    assert uc.owner_id == owner.user_id
    assert uc.created_by_id == po_a.user_id
    assert (uc.metric_baseline, uc.metric_target) == (Decimal("12.50"), Decimal("6.00"))
    assert (uc.stage, uc.risk_tier, uc.human_involvement, uc.status) == (
        "discover",
        "high",
        "review_each",
        "active",
    )
    assert (uc.archived_at, uc.priority_score, uc.requirement_seq) == (None, None, 0)
    event = trail.one()
    assert (event.action, event.object_type, event.object_id) == (
        "use_case.create",
        "usecases.usecase",
        str(uc.pk),
    )
    assert (event.actor_user_id, event.actor_label, event.actor_role) == (
        po_a.user_id,
        "po@a.example",
        "product_owner",
    )
    assert event.before is None
    assert event.after == {
        "key": "UC-1",
        "title": "Refund answers",
        "problem": "Agents search for the refund policy on every ticket.",
        "workflow": "Tier-1 refund replies",
        "target_users": "Tier-1 agents",
        "user_count": 40,
        "owner": "owner@a.example",
        "department": "Support",
        "value_hypothesis": "Halve handling time.",
        "metric_name": "Handling time",
        "metric_unit": "minutes",
        "metric_baseline": "12.5",
        "metric_target": "6",
        "risk_tier": "high",
        "human_involvement": "review_each",
        "status": "active",
    }


def test_owner_may_be_given_by_id(actor, org_a, member_factory):
    owner = member_factory(org_a, Role.VIEWER)

    uc = services.use_case_create(actor=actor, data={"title": "T", "owner": owner.user_id})

    assert _fresh(uc).owner_id == owner.user_id


TOO_MANY_PLACES = "Use at most 2 decimal places."


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"title": ["Give the use case a title."]}),
        ({"title": "   "}, {"title": ["Give the use case a title."]}),
        ({"title": None}, {"title": ["Give the use case a title."]}),
        ({"title": "T", "colour": "red"}, {"colour": ["Unknown field."]}),
        ({"title": "T", "stage": "deploy"}, {"stage": ["Unknown field."]}),
        ({"title": "T", "number": 7}, {"number": ["Unknown field."]}),
        ({"title": "T", "department": 12}, {"department": ["Enter text."]}),
        ({"title": "T", "metric_baseline": "abc"}, {"metric_baseline": ["Enter a number."]}),
        ({"title": "T", "metric_target": "NaN"},
         {"metric_target": ["Enter a number below a trillion."]}),
        ({"title": "T", "metric_target": "1e12"},
         {"metric_target": ["Enter a number below a trillion."]}),
        ({"title": "T", "metric_baseline": "-Infinity"},
         {"metric_baseline": ["Enter a number below a trillion."]}),
        ({"title": "T", "metric_baseline": "1.234"}, {"metric_baseline": [TOO_MANY_PLACES]}),
        ({"title": "T", "user_count": -1},
         {"user_count": ["Enter a whole number of users, 0 or more."]}),
        ({"title": "T", "user_count": "12"},
         {"user_count": ["Enter a whole number of users, 0 or more."]}),
        ({"title": "T", "user_count": True},
         {"user_count": ["Enter a whole number of users, 0 or more."]}),
        ({"title": "T", "user_count": 2.5},
         {"user_count": ["Enter a whole number of users, 0 or more."]}),
        ({"title": "T", "user_count": 10**10},
         {"user_count": ["Enter a whole number of users, 0 or more."]}),
        ({"title": "T", "risk_tier": "extreme"},
         {"risk_tier": ["Choose one of: minimal, limited, high, unacceptable."]}),
        ({"title": "T", "human_involvement": "sometimes"},
         {"human_involvement": [
             "Choose one of: user_decides, review_each, review_exceptions, automated."]}),
        ({"title": "T", "status": "done"},
         {"status": ["Choose one of: proposed, active, on_hold, retired."]}),
        ({"colour": "red", "user_count": -3, "risk_tier": "x"},
         {"colour": ["Unknown field."],
          "user_count": ["Enter a whole number of users, 0 or more."],
          "risk_tier": ["Choose one of: minimal, limited, high, unacceptable."],
          "title": ["Give the use case a title."]}),
    ],
)  # fmt: skip
def test_create_refuses_invalid_data_and_creates_nothing(actor, org_a, data, errors):
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.use_case_create(actor=actor, data=data)

    assert exc.value.message_dict == errors
    assert _use_cases(org_a) == []
    trail.assert_none()


def test_create_says_a_too_long_title_is_too_long(actor, org_a):
    with pytest.raises(ValidationError) as exc:
        services.use_case_create(actor=actor, data={"title": "x" * 201})

    assert exc.value.message_dict == {"title": ["Keep it under 200 characters (this is 201)."]}


def test_update_says_a_too_long_title_is_too_long(actor, use_case):
    with pytest.raises(ValidationError) as exc:
        services.use_case_update(actor=actor, use_case=_fresh(use_case), data={"title": "x" * 201})

    assert exc.value.message_dict == {"title": ["Keep it under 200 characters (this is 201)."]}


def test_create_refuses_an_owner_from_another_organization(actor, org_a, org_b, member_factory):
    outsider = member_factory(org_b, Role.OWNER)
    stranger = UserFactory()
    trail = Trail(org_a)

    for owner in (outsider.user, stranger, outsider.user_id):
        with pytest.raises(ValidationError) as exc:
            services.use_case_create(actor=actor, data={"title": "T", "owner": owner})
        assert exc.value.message_dict == {"owner": ["Choose a member of this organization."]}

    assert _use_cases(org_a) == []
    trail.assert_none()


@pytest.mark.parametrize("role", NON_EDITORS)
def test_create_is_denied_to_roles_that_do_not_edit_the_product(org_a, member_factory, role):
    trail = Trail(org_a)

    with pytest.raises(PermissionDenied) as exc:
        services.use_case_create(
            actor=_actor(member_factory(org_a, role)), data={"title": "Refund answers"}
        )

    assert str(exc.value) == (
        "Your role does not allow this: edit use cases, prds, eval plans, backlog, releases, "
        "incidents."
    )
    assert _use_cases(org_a) == []
    trail.assert_none()


@pytest.mark.parametrize("role", EDITORS)
def test_create_is_allowed_to_editors(org_a, member_factory, role):
    trail = Trail(org_a)

    uc = services.use_case_create(
        actor=_actor(member_factory(org_a, role)), data={"title": "Refund answers"}
    )

    assert uc.key == "UC-1"
    assert trail.one().actor_role == role


def test_the_system_actor_may_create(org_a):
    trail = Trail(org_a)

    uc = services.use_case_create(
        actor=Actor.system(organization=org_a, label="seed_demo"), data={"title": "Seeded"}
    )

    event = trail.one()
    assert (uc.created_by_id, event.actor_label, event.actor_role) == (None, "seed_demo", "system")


# --- use_case_update, archive, restore


def test_update_records_only_the_changed_fields(actor, org_a, member_factory):
    owner = member_factory(org_a, Role.SME, email="sme@a.example")
    uc = services.use_case_create(
        actor=actor,
        data={"title": "Refund answers", "department": "Support", "metric_baseline": "10"},
    )
    trail = Trail(org_a)

    services.use_case_update(
        actor=actor,
        use_case=_fresh(uc),
        data={
            "title": "  Refund answers ",
            "department": "Customer care",
            "metric_baseline": "10.00",
            "user_count": 40,
            "owner": owner.user,
            "risk_tier": "limited",
        },
    )

    uc = _fresh(uc)
    assert (uc.title, uc.department, uc.user_count, uc.owner_id) == (
        "Refund answers",
        "Customer care",
        40,
        owner.user_id,
    )
    event = trail.one()
    assert (event.action, event.object_id) == ("use_case.update", str(uc.pk))
    assert event.before == {"department": "Support", "user_count": None, "owner": None}
    assert event.after == {
        "department": "Customer care",
        "user_count": 40,
        "owner": "sme@a.example",
    }


def test_update_clearing_the_owner_records_the_old_owner(actor, org_a, member_factory):
    owner = member_factory(org_a, Role.SME, email="sme@a.example")
    uc = services.use_case_create(actor=actor, data={"title": "T", "owner": owner.user})
    trail = Trail(org_a)

    services.use_case_update(actor=actor, use_case=_fresh(uc), data={"owner": None})

    assert _fresh(uc).owner_id is None
    event = trail.one()
    assert (event.before, event.after) == ({"owner": "sme@a.example"}, {"owner": None})


def test_update_with_nothing_changed_writes_nothing(actor, org_a, member_factory):
    owner = member_factory(org_a, Role.SME)
    uc = services.use_case_create(
        actor=actor,
        data={"title": "Refund answers", "metric_target": "6.5", "owner": owner.user},
    )
    uc = _fresh(uc)
    updated_at = uc.updated_at
    trail = Trail(org_a)

    result = services.use_case_update(
        actor=actor,
        use_case=uc,
        data={"title": "Refund answers ", "metric_target": "6.50", "owner": owner.user_id},
    )

    assert result is uc
    assert _fresh(uc).updated_at == updated_at
    trail.assert_none()


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"title": ""}, {"title": ["Give the use case a title."]}),
        ({"stage": "deploy"}, {"stage": ["Unknown field."]}),
        ({"department": "Care", "user_count": -1},
         {"user_count": ["Enter a whole number of users, 0 or more."]}),
        ({"department": "Care", "metric_target": "many"}, {"metric_target": ["Enter a number."]}),
    ],
)  # fmt: skip
def test_update_refuses_invalid_data_and_changes_nothing(actor, use_case, org_a, data, errors):
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.use_case_update(actor=actor, use_case=_fresh(use_case), data=data)

    assert exc.value.message_dict == errors
    uc = _fresh(use_case)
    assert (uc.title, uc.department, uc.user_count, uc.metric_target) == (
        "Refund answers",
        "",
        None,
        None,
    )
    trail.assert_none()


def test_update_refuses_more_than_two_decimal_places_like_create(actor, use_case, org_a):
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.use_case_update(
            actor=actor, use_case=_fresh(use_case), data={"metric_baseline": "1.234"}
        )

    assert exc.value.message_dict == {"metric_baseline": [TOO_MANY_PLACES]}
    trail.assert_none()


def test_update_refuses_a_user_count_beyond_the_column(actor, use_case):
    with pytest.raises(ValidationError) as exc:
        services.use_case_update(
            actor=actor, use_case=_fresh(use_case), data={"user_count": 10**10}
        )

    assert exc.value.message_dict == {"user_count": ["Enter a whole number of users, 0 or more."]}


@pytest.mark.parametrize("role", NON_EDITORS)
def test_update_and_archive_are_denied_to_non_editors(use_case, org_a, member_factory, role):
    other = _actor(member_factory(org_a, role))
    trail = Trail(org_a)

    with pytest.raises(PermissionDenied):
        services.use_case_update(actor=other, use_case=_fresh(use_case), data={"title": "New"})
    with pytest.raises(PermissionDenied):
        services.use_case_archive(actor=other, use_case=_fresh(use_case))

    uc = _fresh(use_case)
    assert (uc.title, uc.archived_at) == ("Refund answers", None)
    trail.assert_none()


def test_archive_and_restore_each_record_one_event(actor, use_case, org_a):
    trail = Trail(org_a)

    services.use_case_archive(actor=actor, use_case=_fresh(use_case))

    uc = _fresh(use_case)
    assert uc.archived_at is not None
    event = trail.one()
    assert (event.action, event.object_id, event.before, event.after) == (
        "use_case.archive",
        str(uc.pk),
        None,
        {"archived": True},
    )
    assert [u.key for u in selectors.use_cases_filtered(organization=org_a)] == []
    assert [u.key for u in selectors.use_cases_filtered(organization=org_a, archived=True)] == [
        "UC-1"
    ]

    services.use_case_archive(actor=actor, use_case=uc)  # already archived: nothing to do
    trail.assert_none()

    services.use_case_archive(actor=actor, use_case=uc, archived=False)

    assert _fresh(use_case).archived_at is None
    event = trail.one()
    assert (event.action, event.after) == ("use_case.restore", {"archived": False})
    services.use_case_archive(actor=actor, use_case=_fresh(use_case), archived=False)
    trail.assert_none()
    assert [u.key for u in selectors.use_cases_filtered(organization=org_a)] == ["UC-1"]


# --- PRD: versions, template


def test_each_prd_save_is_a_new_version_with_author_and_summary(actor, po_a, use_case, org_a):
    trail = Trail(org_a)

    v1 = services.prd_save(
        actor=actor,
        use_case=use_case,
        sections={"user_problem": "Agents search for the policy.", "tone_constraints": "Calm."},
        summary="  First draft ",
    )
    first_event = trail.one()
    v2 = services.prd_save(
        actor=actor,
        use_case=_fresh(use_case),
        sections={
            "user_problem": "Agents search for the refund policy.",
            "tone_constraints": "Calm.",
        },
        summary="Sharper problem",
    )
    second_event = trail.one()

    assert (v1.number, v2.number) == (1, 2)
    for version in (v1, v2):
        assert (version.author_id, version.author_label) == (po_a.user_id, "po@a.example")
    assert (v1.summary, v2.summary) == ("First draft", "Sharper problem")
    assert v1.content == {
        "sections": {"user_problem": "Agents search for the policy.", "tone_constraints": "Calm."},
        "requirements": [],
    }
    prd = selectors.prd_of(use_case=use_case)
    assert prd.version == 2
    assert prd.sections == {
        "user_problem": "Agents search for the refund policy.",
        "tone_constraints": "Calm.",
    }
    assert _versions(use_case) == [(1, "First draft"), (2, "Sharper problem")]
    assert (first_event.action, first_event.object_type, first_event.object_id) == (
        "prd.save",
        "usecases.prd",
        str(prd.pk),
    )
    assert first_event.before == {"user_problem": "", "tone_constraints": ""}
    assert first_event.after == {
        "version": 1,
        "summary": "First draft",
        "user_problem": "Agents search for the policy.",
        "tone_constraints": "Calm.",
    }
    # Only the section that changed is in the second event.
    assert second_event.before == {"user_problem": "Agents search for the policy."}
    assert second_event.after == {
        "version": 2,
        "summary": "Sharper problem",
        "user_problem": "Agents search for the refund policy.",
    }


def test_a_save_keeps_the_sections_it_does_not_mention(actor, use_case):
    services.prd_save(
        actor=actor, use_case=use_case, sections={"user_goal": "Answer fast."}, summary="Goal"
    )
    v2 = services.prd_save(
        actor=actor, use_case=_fresh(use_case), sections={"workflow": "Tier-1."}, summary="Flow"
    )

    assert v2.content["sections"] == {"user_goal": "Answer fast.", "workflow": "Tier-1."}


@pytest.mark.parametrize(
    ("sections", "summary", "errors"),
    [
        ({"user_goal": "Answer fast."}, "", {"summary": ["Say in a few words what changed."]}),
        ({"user_goal": "Answer fast."}, "   ", {"summary": ["Say in a few words what changed."]}),
        ({"colour": "red", "mood": "x"}, "S", {"sections": ["Unknown sections: colour, mood."]}),
        ({"user_goal": 3}, "S", {"user_goal": ["Enter text."]}),
        ({"user_goal": "x" * 20001}, "S",
         {"user_goal": ["Keep each section under 20,000 characters."]}),
    ],
)  # fmt: skip
def test_prd_save_refuses_and_writes_nothing(actor, use_case, org_a, sections, summary, errors):
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.prd_save(actor=actor, use_case=use_case, sections=sections, summary=summary)

    assert exc.value.message_dict == errors
    assert selectors.prd_of(use_case=use_case) is None
    assert PrdVersion.objects.for_org(org_a).count() == 0
    trail.assert_none()


@pytest.mark.parametrize("role", NON_EDITORS)
def test_prd_writes_are_denied_to_non_editors(use_case, org_a, member_factory, role):
    other = _actor(member_factory(org_a, role))
    trail = Trail(org_a)

    with pytest.raises(PermissionDenied):
        services.prd_save(actor=other, use_case=use_case, sections={}, summary="S")
    with pytest.raises(PermissionDenied):
        services.prd_template_update(actor=other, sections={"user_goal": "x"})
    with pytest.raises(PermissionDenied):
        services.requirement_add(actor=other, use_case=use_case, data={"statement": "x"})

    assert Prd.objects.for_org(org_a).count() == 0
    assert PrdTemplate.objects.for_org(org_a).count() == 0
    trail.assert_none()


def test_a_new_prd_starts_from_the_organization_template(actor, org_a, org_b, member_factory):
    trail = Trail(org_a)
    template = services.prd_template_update(
        actor=actor,
        sections={"tone_constraints": " Plain words. ", "forbidden_actions": "No refunds."},
    )
    event = trail.one()
    assert (event.action, event.object_type, event.before, event.after) == (
        "prd_template.update",
        "usecases.prdtemplate",
        {},
        {"tone_constraints": "Plain words.", "forbidden_actions": "No refunds."},
    )
    assert services.prd_template_of(org_a) == {
        "tone_constraints": "Plain words.",
        "forbidden_actions": "No refunds.",
    }
    assert services.prd_template_of(org_b) == {}
    uc = services.use_case_create(actor=actor, data={"title": "T"})
    trail.mark()

    version = services.prd_save(
        actor=actor, use_case=uc, sections={"user_goal": "Answer fast."}, summary="Start"
    )

    assert version.content["sections"] == {
        "tone_constraints": "Plain words.",
        "forbidden_actions": "No refunds.",
        "user_goal": "Answer fast.",
    }
    assert trail.one().action == "prd.save"
    # Changing the template later does not rewrite existing PRDs.
    services.prd_template_update(actor=actor, sections={"tone_constraints": "Warm."})
    assert template.pk == PrdTemplate.objects.for_org(org_a).get().pk
    assert selectors.prd_of(use_case=uc).section("tone_constraints") == "Plain words."
    # Another organization's PRDs do not start from A's template.
    actor_b = _actor(member_factory(org_b, Role.PRODUCT_OWNER))
    uc_b = services.use_case_create(actor=actor_b, data={"title": "T"})
    v_b = services.prd_save(actor=actor_b, use_case=uc_b, sections={}, summary="Empty")
    assert v_b.content["sections"] == {}


def test_template_update_refuses_unknown_sections(actor, org_a):
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.prd_template_update(actor=actor, sections={"user_goal": "x", "colour": "red"})

    assert exc.value.message_dict == {"sections": ["Unknown sections: colour."]}
    assert PrdTemplate.objects.for_org(org_a).count() == 0
    trail.assert_none()


# --- requirements


def test_requirement_add_numbers_keys_and_versions_the_prd(actor, use_case, org_a, member_factory):
    owner = member_factory(org_a, Role.SME, email="sme@a.example")
    trail = Trail(org_a)

    first = services.requirement_add(
        actor=actor,
        use_case=use_case,
        data={
            "statement": "  Cite the policy section.  ",
            "type": "behavior",
            "launch_blocking": True,
            "owner": owner.user,
            "verification_method": "human_review",
            "status": "agreed",
        },
    )
    first_event = trail.one()
    second = services.requirement_add(
        actor=actor, use_case=use_case, data={"statement": "Never promise a refund."}
    )
    trail.one()

    assert (first.key, first.position, second.key, second.position) == ("REQ-1", 1, "REQ-2", 2)
    assert str(first) == "REQ-1 Cite the policy section."
    assert (second.type, second.launch_blocking, second.owner_id) == ("behavior", False, None)
    assert (second.verification_method, second.status) == ("eval", "draft")
    assert _fresh(use_case).requirement_seq == 2
    assert _versions(use_case) == [(1, "REQ-1 added"), (2, "REQ-2 added")]
    latest = selectors.prd_versions(prd=selectors.prd_of(use_case=use_case)).first()
    assert latest.content == {
        "sections": {},
        "requirements": [
            {"key": "REQ-1", "statement": "Cite the policy section.", "type": "behavior",
             "launch_blocking": True, "owner": "sme@a.example",
             "verification_method": "human_review", "status": "agreed"},
            {"key": "REQ-2", "statement": "Never promise a refund.", "type": "behavior",
             "launch_blocking": False, "owner": None, "verification_method": "eval",
             "status": "draft"},
        ],
    }  # fmt: skip
    assert (first_event.action, first_event.object_type, first_event.object_id) == (
        "requirement.create",
        "usecases.requirement",
        str(first.pk),
    )
    assert first_event.after == {
        "key": "REQ-1",
        "statement": "Cite the policy section.",
        "type": "behavior",
        "launch_blocking": True,
        "owner": "sme@a.example",
        "verification_method": "human_review",
        "status": "agreed",
    }


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"statement": ["State the expected behavior."]}),
        ({"statement": "   "}, {"statement": ["State the expected behavior."]}),
        ({"statement": 5}, {"statement": ["State the expected behavior."]}),
        ({"statement": "x" * 2001},
         {"statement": ["Keep it under 2,000 characters (this is 2,001)."]}),
        ({"statement": "S", "type": "wish"},
         {"type": ["Choose one of: behavior, constraint, forbidden, handoff, tone, tool_use."]}),
        ({"statement": "S", "verification_method": "hope"},
         {"verification_method": ["Choose one of: eval, monitor, human_review."]}),
        ({"statement": "S", "status": "done"},
         {"status": ["Choose one of: draft, agreed, verified, retired."]}),
        ({"statement": "S", "launch_blocking": "yes"}, {"launch_blocking": ["Say true or false."]}),
        ({"statement": "S", "position": 3}, {"position": ["Unknown field."]}),
        ({"statement": "S", "number": 9}, {"number": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_requirement_add_refuses_and_writes_nothing(actor, use_case, org_a, data, errors):
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.requirement_add(actor=actor, use_case=use_case, data=data)

    assert exc.value.message_dict == errors
    assert Requirement.objects.for_org(org_a).count() == 0
    assert _fresh(use_case).requirement_seq == 0
    assert _versions(use_case) == []
    trail.assert_none()


def test_requirement_owner_must_be_a_member(actor, use_case, org_a, org_b, member_factory):
    outsider = member_factory(org_b, Role.OWNER)
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.requirement_add(
            actor=actor, use_case=use_case, data={"statement": "S", "owner": outsider.user}
        )

    assert exc.value.message_dict == {"owner": ["Choose a member of this organization."]}
    assert Requirement.objects.for_org(org_a).count() == 0
    trail.assert_none()


def test_requirement_update_records_the_changed_fields(actor, use_case, org_a, member_factory):
    owner = member_factory(org_a, Role.SME, email="sme@a.example")
    req = services.requirement_add(actor=actor, use_case=use_case, data={"statement": "Cite."})
    trail = Trail(org_a)

    services.requirement_update(
        actor=actor,
        requirement=req,
        data={"statement": "Cite the section.", "type": "behavior", "launch_blocking": True,
              "owner": owner.user},
    )  # fmt: skip

    req.refresh_from_db()
    assert (req.statement, req.launch_blocking, req.owner_id) == (
        "Cite the section.",
        True,
        owner.user_id,
    )
    assert _versions(use_case) == [
        (1, "REQ-1 added"),
        (2, "REQ-1 changed: statement, launch_blocking, owner"),
    ]
    event = trail.one()
    assert (event.action, event.object_id) == ("requirement.update", str(req.pk))
    assert event.before == {
        "key": "REQ-1",
        "statement": "Cite.",
        "launch_blocking": False,
        "owner": None,
    }
    assert event.after == {
        "key": "REQ-1",
        "statement": "Cite the section.",
        "launch_blocking": True,
        "owner": "sme@a.example",
    }


def test_requirement_update_with_nothing_changed_writes_nothing(actor, use_case, org_a):
    req = services.requirement_add(actor=actor, use_case=use_case, data={"statement": "Cite."})
    trail = Trail(org_a)

    services.requirement_update(
        actor=actor, requirement=req, data={"statement": " Cite. ", "status": "draft"}
    )

    assert _versions(use_case) == [(1, "REQ-1 added")]
    trail.assert_none()


def test_requirement_update_refuses_and_writes_nothing(actor, use_case, org_a):
    req = services.requirement_add(actor=actor, use_case=use_case, data={"statement": "Cite."})
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.requirement_update(
            actor=actor, requirement=req, data={"statement": "", "status": "approved"}
        )

    assert exc.value.message_dict == {
        "statement": ["State the expected behavior."],
        "status": ["Choose one of: draft, agreed, verified, retired."],
    }
    req.refresh_from_db()
    assert (req.statement, req.status) == ("Cite.", "draft")
    assert _versions(use_case) == [(1, "REQ-1 added")]
    trail.assert_none()


def test_requirement_delete_versions_the_prd_and_records_the_deleted(actor, use_case, org_a):
    first = services.requirement_add(actor=actor, use_case=use_case, data={"statement": "One."})
    second = services.requirement_add(
        actor=actor,
        use_case=use_case,
        data={"statement": "Two.", "launch_blocking": True, "type": "tone"},
    )
    services.verification_add(
        actor=actor, requirement=second, kind="human_review", name="Spot check",
        owner=actor.user,
    )  # fmt: skip
    trail = Trail(org_a)
    pk = second.pk

    services.requirement_delete(actor=actor, requirement=second)

    assert [r.key for r in selectors.requirements_of(use_case=use_case)] == [first.key]
    assert _versions(use_case)[-1] == (3, "REQ-2 deleted")
    latest = selectors.prd_versions(prd=selectors.prd_of(use_case=use_case)).first()
    assert [r["key"] for r in latest.content["requirements"]] == ["REQ-1"]
    event = trail.one()
    assert (event.action, event.object_type, event.object_id) == (
        "requirement.delete",
        "usecases.requirement",
        str(pk),
    )
    assert event.before == {
        "key": "REQ-2",
        "statement": "Two.",
        "type": "tone",
        "launch_blocking": True,
    }
    assert event.after is None


def test_requirement_keys_are_never_reused_after_deletes(actor, use_case, org_a):
    added = [
        services.requirement_add(actor=actor, use_case=use_case, data={"statement": f"R{n}"})
        for n in range(1, 4)
    ]
    services.requirement_delete(actor=actor, requirement=added[2])  # the newest, REQ-3
    services.requirement_delete(actor=actor, requirement=added[1])

    fourth = services.requirement_add(
        actor=actor, use_case=_fresh(use_case), data={"statement": "R4"}
    )
    services.requirement_delete(actor=actor, requirement=fourth)
    services.requirement_delete(actor=actor, requirement=added[0])
    fifth = services.requirement_add(actor=actor, use_case=use_case, data={"statement": "R5"})

    assert (fourth.key, fifth.key) == ("REQ-4", "REQ-5")
    assert [r.key for r in selectors.requirements_of(use_case=use_case)] == ["REQ-5"]
    assert _fresh(use_case).requirement_seq == 5
    # A stale in-memory use case cannot hand out an old number either: the row is re-read
    # under a lock.
    stale = UseCase.objects.for_org(org_a).get(pk=use_case.pk)
    stale.requirement_seq = 0
    assert services.requirement_add(actor=actor, use_case=stale, data={"statement": "R6"}).key == (
        "REQ-6"
    )


def test_each_use_case_has_its_own_requirement_keys(actor, use_case):
    other = services.use_case_create(actor=actor, data={"title": "Order status"})
    services.requirement_add(actor=actor, use_case=use_case, data={"statement": "A"})
    services.requirement_add(actor=actor, use_case=use_case, data={"statement": "B"})

    req = services.requirement_add(actor=actor, use_case=other, data={"statement": "C"})

    assert req.key == "REQ-1"


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        # Statistics views are read once per transaction unless the snapshot is dropped.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE 'SELECT \"usecases_usecase\".\"id\"%'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_adds_after_a_delete_get_new_distinct_keys(org_a, member_factory):
    """Two requests add at the same moment: each waits its turn on the use case row."""
    actor = _actor(member_factory(org_a, Role.PRODUCT_OWNER))
    uc = services.use_case_create(actor=actor, data={"title": "Refund answers"})
    services.requirement_add(actor=actor, use_case=uc, data={"statement": "R1"})
    second = services.requirement_add(actor=actor, use_case=uc, data={"statement": "R2"})
    services.requirement_delete(actor=actor, requirement=second)
    trail = Trail(org_a)
    keys, failures = [], []

    def add(n: int) -> None:
        try:
            # Each thread has its own connection and its own copy of the use case.
            mine = UseCase.objects.for_org(org_a).get(pk=uc.pk)
            keys.append(
                services.requirement_add(
                    actor=actor, use_case=mine, data={"statement": f"C{n}"}
                ).key
            )
        except Exception as exc:  # reported below, with the thread's failure
            failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in (1, 2)]
    try:
        with transaction.atomic():
            # Hold the row both adds lock, so that both are in flight at the same time.
            UseCase.objects.for_org(org_a).select_for_update().get(pk=uc.pk)
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 20
            while _lock_waiters() < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _lock_waiters() == 2
    finally:
        for thread in threads:
            thread.join(timeout=30)

    assert failures == []
    assert sorted(keys) == ["REQ-3", "REQ-4"]
    assert [r.key for r in selectors.requirements_of(use_case=uc)] == ["REQ-1", "REQ-3", "REQ-4"]
    assert sorted(r.position for r in selectors.requirements_of(use_case=uc)) == [1, 2, 3]
    assert _fresh(uc).requirement_seq == 4
    versions = _versions(uc)
    assert [n for n, _ in versions] == [1, 2, 3, 4, 5]
    assert sorted(s for _, s in versions[3:]) == ["REQ-3 added", "REQ-4 added"]
    assert [e.action for e in trail.new()] == ["requirement.create", "requirement.create"]
    assert audit_chain_verify(organization=org_a).ok


def test_reorder_moves_requirements_and_versions_the_prd(actor, use_case, org_a):
    for n in range(1, 4):
        services.requirement_add(actor=actor, use_case=use_case, data={"statement": f"R{n}"})
    trail = Trail(org_a)

    services.requirement_reorder(actor=actor, use_case=use_case, keys=["REQ-3", "REQ-1", "REQ-2"])

    requirements = list(selectors.requirements_of(use_case=use_case))
    assert [(r.key, r.position) for r in requirements] == [("REQ-3", 1), ("REQ-1", 2), ("REQ-2", 3)]
    assert _versions(use_case)[-1] == (4, "Requirements reordered")
    latest = selectors.prd_versions(prd=selectors.prd_of(use_case=use_case)).first()
    assert [r["key"] for r in latest.content["requirements"]] == ["REQ-3", "REQ-1", "REQ-2"]
    event = trail.one()
    assert (event.action, event.object_type, event.object_id) == (
        "requirement.reorder",
        "usecases.usecase",
        str(use_case.pk),
    )
    assert event.before == {"order": ["REQ-1", "REQ-2", "REQ-3"]}
    assert event.after == {"order": ["REQ-3", "REQ-1", "REQ-2"]}

    # The same order again is nothing to record.
    services.requirement_reorder(actor=actor, use_case=use_case, keys=["REQ-3", "REQ-1", "REQ-2"])
    assert len(_versions(use_case)) == 4
    trail.assert_none()

    # A requirement added later goes to the end.
    services.requirement_add(actor=actor, use_case=use_case, data={"statement": "R4"})
    assert [r.key for r in selectors.requirements_of(use_case=use_case)] == [
        "REQ-3",
        "REQ-1",
        "REQ-2",
        "REQ-4",
    ]


@pytest.mark.parametrize(
    "keys",
    [
        ["REQ-2", "REQ-1"],  # one missing
        ["REQ-2", "REQ-1", "REQ-1"],  # a duplicate instead of REQ-3
        ["REQ-3", "REQ-2", "REQ-1", "REQ-1"],  # all of them, one twice
        ["REQ-3", "REQ-2", "REQ-9"],  # unknown key
        [],
    ],
)
def test_reorder_needs_every_key_once(actor, use_case, org_a, keys):
    for n in range(1, 4):
        services.requirement_add(actor=actor, use_case=use_case, data={"statement": f"R{n}"})
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.requirement_reorder(actor=actor, use_case=use_case, keys=keys)

    assert exc.value.message_dict == {
        "order": ["Give every requirement key of this use case once."]
    }
    assert [(r.key, r.position) for r in selectors.requirements_of(use_case=use_case)] == [
        ("REQ-1", 1),
        ("REQ-2", 2),
        ("REQ-3", 3),
    ]
    assert len(_versions(use_case)) == 3
    trail.assert_none()


def test_reorder_refuses_keys_of_another_use_case(actor, use_case, org_a):
    other = services.use_case_create(actor=actor, data={"title": "Order status"})
    services.requirement_add(actor=actor, use_case=use_case, data={"statement": "A"})
    services.requirement_add(actor=actor, use_case=other, data={"statement": "B"})
    services.requirement_add(actor=actor, use_case=other, data={"statement": "C"})

    with pytest.raises(ValidationError):
        services.requirement_reorder(actor=actor, use_case=use_case, keys=["REQ-2", "REQ-1"])


# --- PRD diff


def test_prd_diff_shows_removed_and_added_lines_and_requirement_changes(actor, use_case):
    v1 = services.prd_save(
        actor=actor,
        use_case=use_case,
        sections={
            "user_problem": "Agents search for the refund policy.\nAnswers vary.",
            "tone_constraints": "Calm.",
        },
        summary="First draft",
    )
    req = services.requirement_add(
        actor=actor,
        use_case=use_case,
        data={"statement": "Cite the policy section.", "launch_blocking": True},
    )
    v2 = selectors.prd_versions(prd=selectors.prd_of(use_case=use_case)).first()
    services.prd_save(
        actor=actor,
        use_case=_fresh(use_case),
        sections={
            "user_problem": "Agents search for the refund policy.\nAnswers are inconsistent."
        },
        summary="Sharper problem",
    )
    services.requirement_update(
        actor=actor, requirement=req, data={"statement": "Cite the policy section and its date."}
    )
    v4 = selectors.prd_versions(prd=selectors.prd_of(use_case=use_case)).first()
    assert (v1.number, v2.number, v4.number) == (1, 2, 4)

    assert selectors.prd_diff(old=v1, new=v4) == [
        {"key": "user_problem", "label": "User problem", "lines": [
            {"kind": "same", "text": "Agents search for the refund policy."},
            {"kind": "removed", "text": "Answers vary."},
            {"kind": "added", "text": "Answers are inconsistent."},
        ]},
        {"key": "requirements", "label": "Requirements", "lines": [
            {"kind": "added", "text": "REQ-1 [behavior; eval; draft; launch-blocking; owner -] "
                                      "Cite the policy section and its date."},
        ]},
    ]  # fmt: skip
    assert selectors.prd_diff(old=v2, new=v4)[-1] == {
        "key": "requirements",
        "label": "Requirements",
        "lines": [
            {"kind": "removed", "text": "REQ-1 [behavior; eval; draft; launch-blocking; "
                                        "owner -] Cite the policy section."},
            {"kind": "added", "text": "REQ-1 [behavior; eval; draft; launch-blocking; "
                                      "owner -] Cite the policy section and its date."},
        ],
    }  # fmt: skip
    assert selectors.prd_diff(old=v4, new=v4) == []
    # Backwards, the same change reads the other way round.
    assert [line["kind"] for line in selectors.prd_diff(old=v4, new=v1)[0]["lines"]] == [
        "same",
        "removed",
        "added",
    ]


# --- verifications


def test_verification_add_links_and_records_one_event(actor, use_case, org_a, member_factory):
    reviewer = member_factory(org_a, Role.REVIEWER, email="rev@a.example")
    req = services.requirement_add(actor=actor, use_case=use_case, data={"statement": "Cite."})
    trail = Trail(org_a)

    review = services.verification_add(
        actor=actor, requirement=req, kind="human_review", name=" Weekly sample ",
        owner=reviewer.user,
    )  # fmt: skip
    event = trail.one()
    second = services.verification_add(
        actor=actor, requirement=req, kind="human_review", name="Monthly audit",
        owner=reviewer.user,
    )  # fmt: skip
    trail.one()

    assert (review.name, review.owner_id, str(review)) == (
        "Weekly sample",
        reviewer.user_id,
        "Human review: Weekly sample",
    )
    assert (event.action, event.object_type, event.object_id) == (
        "verification.create",
        "usecases.requirementverification",
        str(review.pk),
    )
    assert event.after == {
        "requirement": "REQ-1",
        "kind": "human_review",
        "name": "Weekly sample",
        "owner": "rev@a.example",
    }
    # A verification does not change the PRD text: no new version.
    assert _versions(use_case) == [(1, "REQ-1 added")]

    services.verification_remove(actor=actor, verification=second)
    event = trail.one()
    assert (event.action, event.before) == (
        "verification.delete",
        {"requirement": "REQ-1", "kind": "human_review", "name": "Monthly audit"},
    )
    assert [v.name for v in req.verifications.all()] == ["Weekly sample"]


ONLY_REVIEWS = (
    "Only a named human review is added here: eval cases link to requirements from the case in "
    "their eval plan, monitors from the metrics area."
)


@pytest.mark.parametrize(
    ("kwargs", "errors"),
    [
        ({"kind": "human_review", "name": "Weekly sample"},
         {"owner": ["A human review needs an owner who does it."]}),
        ({"kind": "eval_case", "name": "case 7", "owner": None},
         {"kind": [ONLY_REVIEWS], "owner": ["A human review needs an owner who does it."]}),
        ({"kind": "human_review", "name": "  "},
         {"name": ["Name the review."], "owner": ["A human review needs an owner who does it."]}),
    ],
)  # fmt: skip
def test_verification_add_refuses_and_writes_nothing(actor, use_case, org_a, kwargs, errors):
    req = services.requirement_add(actor=actor, use_case=use_case, data={"statement": "Cite."})
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.verification_add(actor=actor, requirement=req, **kwargs)

    assert exc.value.message_dict == errors
    assert list(req.verifications.all()) == []
    trail.assert_none()


def test_a_human_review_owner_must_be_a_member(actor, use_case, org_a, org_b, member_factory):
    outsider = member_factory(org_b, Role.OWNER)
    req = services.requirement_add(actor=actor, use_case=use_case, data={"statement": "Cite."})
    trail = Trail(org_a)

    with pytest.raises(ValidationError) as exc:
        services.verification_add(
            actor=actor, requirement=req, kind="human_review", name="Weekly", owner=outsider.user
        )

    assert exc.value.message_dict == {"owner": ["Choose a member of this organization."]}
    assert list(req.verifications.all()) == []
    trail.assert_none()
