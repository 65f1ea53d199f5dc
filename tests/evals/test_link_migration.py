"""Upgrading: the requirement links of eval cases become EvalCaseRequirement rows, and the
"<plan>:<case>" strings of RequirementVerification are read into links, then dropped."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from evals.models import EvalCaseRequirement
from usecases.models import RequirementVerification

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("evals", "0001_initial"), ("usecases", "0002_usecase_nulls_last")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_case_links_and_verification_strings_become_links(org_a):
    try:
        old = _migrate(BEFORE)
        UseCase = old.get_model("usecases", "UseCase")
        Requirement = old.get_model("usecases", "Requirement")
        Verification = old.get_model("usecases", "RequirementVerification")
        Plan = old.get_model("evals", "EvalPlan")
        Case = old.get_model("evals", "EvalCase")
        org = org_a.pk
        uc = UseCase.objects.create(organization_id=org, number=1, title="Refunds")
        cite, escalate, tone = (
            Requirement.objects.create(organization_id=org, use_case=uc, number=n, statement=s)
            for n, s in ((1, "Cite."), (2, "Escalate."), (3, "Tone."))
        )
        plan = Plan.objects.create(organization_id=org, use_case=uc, name="Refund desk")
        first = Case.objects.create(organization_id=org, plan=plan, number=1, version_added=1,
                                    prompt="Refund?")  # fmt: skip
        second = Case.objects.create(organization_id=org, plan=plan, number=2, version_added=2,
                                     prompt="Chargeback!")  # fmt: skip
        first.requirements.add(cite)  # the old automatic through table
        for requirement, target_id, kind in (
            (cite, f"{plan.pk}:1", "eval_case"),  # the same fact twice
            (escalate, f"{plan.pk}:2", "eval_case"),  # only the string
            (escalate, f"{plan.pk}:99", "eval_case"),  # a case that does not exist
        ):
            Verification.objects.create(
                organization_id=org, requirement=requirement, kind=kind, name="case",
                target_type="evals.evalcase", target_id=target_id,
            )  # fmt: skip
        Verification.objects.create(
            organization_id=org, requirement=tone, kind="human_review", name="Weekly sample"
        )
        _migrate(_latest())
    finally:
        _migrate(_latest())

    links = EvalCaseRequirement.objects.for_org(org_a).order_by("case__number")
    assert [(link.case_id, link.requirement_id) for link in links] == [
        (first.pk, cite.pk),
        (second.pk, escalate.pk),
    ]
    assert [v.name for v in RequirementVerification.objects.for_org(org_a)] == ["Weekly sample"]
