"""Factories of the evals area; related objects stay in one organization."""

import factory

from evals.models import EgressSettings, EvalPlan, Target, TargetKind
from tests.factories import OrganizationFactory
from tests.factories.usecases import UseCaseFactory


class TargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Target

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Support agent {n}")
    kind = TargetKind.OPENAI_CHAT
    url = "http://127.0.0.1:9/v1"
    model = "acme-reference-agent"
    timeout_s = 5
    max_attempts = 2


class EvalPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EvalPlan

    use_case = factory.SubFactory(UseCaseFactory)
    organization = factory.SelfAttribute("use_case.organization")
    name = factory.Sequence(lambda n: f"Refund answers {n}")
    target = factory.SubFactory(TargetFactory, organization=factory.SelfAttribute("..organization"))
    scorers = factory.LazyFunction(lambda: [{"type": "escalation"}])
    pass_threshold = 80


def allow_loopback(org) -> EgressSettings:
    row, _ = EgressSettings.objects.for_org(org).get_or_create(organization=org)
    row.allow_loopback = True
    row.save()
    return row


def make_case(org, plan=None, **data):
    """A current case of a plan (through the service, so versions are right)."""
    from evals import services
    from genai_po.actors import Actor

    plan = plan or EvalPlanFactory(use_case=UseCaseFactory(organization=org))
    actor = Actor.system(organization=org, label="factory")
    return services.case_add(actor=actor, plan=plan, data={"prompt": "Where is my refund?", **data})


def make_run(org, plan=None, *, status="completed", results=("pass",)):
    """A run with results written directly (no HTTP): for pages, the API and isolation."""
    from django.utils import timezone

    from evals import summary
    from evals.models import EvalResult, EvalRun

    case = make_case(org, plan)
    plan = case.plan
    plan.run_seq += 1
    plan.save(update_fields=["run_seq"])
    run = EvalRun.objects.create(
        organization=org, plan=plan, number=plan.run_seq, trigger="api", status=status,
        case_version=plan.case_version, target=plan.target, target_label="factory target",
        config={"pass_threshold": 0.8, "scorers": plan.scorers}, total_items=len(results),
        started_at=timezone.now(), finished_at=timezone.now() if status != "running" else None,
        repetitions=len(results),
    )  # fmt: skip
    for rep, status_ in enumerate(results):
        EvalResult.objects.create(
            organization=org, run=run, case=case, case_number=case.number, repetition=rep,
            status=status_, output="Per Refund policy §2.1 (KB-refund-2.1): 5 to 10 days.",
            latency_ms=120 + rep, score=1.0 if status_ == "pass" else 0.0,
            assertions=[{"type": "escalation", "passed": status_ == "pass", "score": 1.0,
                         "reason": "expected an answer, saw an answer", "weight": 1,
                         "label": ""}],
            error="" if status_ in ("pass", "fail") else "HTTP 500: boom",
        )  # fmt: skip
    if status != "running":
        summary.store(run)
        run.refresh_from_db()
    return run
