"""What the isolation harness knows about routes: how to make an object for each URL
parameter, and which routes are not organization-scoped (and why).

A new route fails the harness until it is described here, so isolation is tested
for it from its first commit.
"""

from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from genai_po.actors import Actor
from genai_po.audit import audit_record
from tests.factories import ApiTokenFactory, InvitationFactory, MembershipFactory
from tests.factories.context import make_answer, make_gap, make_knowledge, make_source
from tests.factories.evals import EvalPlanFactory, TargetFactory, make_case, make_run
from tests.factories.usecases import RequirementFactory, UseCaseFactory, VerificationFactory
from usecases.services import prd_save


def _audit_event(org):
    return audit_record(
        actor=Actor.system(organization=org, label="isolation-harness"),
        action="harness.probe",
        object_type="harness",
        object_id="1",
        after={"org": org.slug},
    )


@dataclass(frozen=True)
class ObjectMaker:
    """Creates one object of an organization and names the value a URL uses for it."""

    make: Any  # (organization) -> model instance
    url_value: Any = lambda obj: obj.pk  # noqa: E731 - a small default

    def __call__(self, org) -> tuple[Any, Any]:
        obj = self.make(org)
        return obj, self.url_value(obj)


def _release(org):
    from tests.factories.governance import make_release

    return make_release(org, UseCaseFactory(organization=org))


def _waiver(org):
    from datetime import timedelta

    from django.utils import timezone

    from governance.models import Waiver

    item = _release(org).items.get(key="risk_review")
    return Waiver.objects.create(
        organization=org, item=item, justification="Harness", requested_by_label="harness",
        expires_at=timezone.now() + timedelta(days=3),
    )  # fmt: skip


def _incident(org):
    from tests.factories.governance import make_incident

    return make_incident(org, UseCaseFactory(organization=org))


def _follow_up(org):
    from governance.services.incidents import follow_up_add

    actor = Actor.system(organization=org, label="isolation-harness")
    return follow_up_add(actor=actor, incident=_incident(org), data={"title": "Harness"})


def _template(org):
    from governance.templates import template_for

    return template_for(org)


def _telemetry_event(org):
    from django.utils import timezone

    from metrics import ingest
    from metrics.models import TelemetryEvent

    uc = UseCaseFactory(organization=org)
    event_id = f"harness-{uc.pk}"
    ingest.ingest(org.pk, [{
        "event_id": event_id, "use_case": uc.pk, "type": "interaction",
        "occurred_at": timezone.now().isoformat(), "input": "Refund?", "output": "Yes.",
    }])  # fmt: skip
    return TelemetryEvent.objects.for_org(org).get(event_id=event_id)


def _alert_rule(org):
    from metrics.services import rule_save

    actor = Actor.system(organization=org, label="isolation-harness")
    return rule_save(actor=actor, data={
        "use_case": UseCaseFactory(organization=org), "metric": "error_rate",
        "condition": "above", "threshold": 5, "window_hours": 24,
    })  # fmt: skip


def _alert(org):
    from django.utils import timezone

    from metrics.models import Alert

    rule = _alert_rule(org)
    now = timezone.now()
    return Alert.objects.create(
        organization=org, rule=rule, use_case=rule.use_case, value=9.0, threshold=5.0,
        summary="Harness breach", window_start=now, window_end=now, fired_at=now,
    )  # fmt: skip


def _backlog_item(org):
    from usecases.backlog_services import backlog_item_create

    actor = Actor.system(organization=org, label="isolation-harness")
    return backlog_item_create(actor=actor, data={"title": f"Harness work of {org.slug}"})


def _knowledge_and_backlog_item(org):
    """`item` names a knowledge item (KB-n) on the context routes and a feature item (BL-n)
    on the backlog's: one of each, with the same number, so both routes meet a real object
    of the other organization."""
    from usecases.models import BacklogItem

    knowledge = make_knowledge(org)
    if not BacklogItem.objects.for_org(org).filter(number=knowledge.number).exists():
        BacklogItem.objects.create(
            organization=org, number=knowledge.number, title=f"Harness work of {org.slug}"
        )
    return knowledge


def _backlog_view(org):
    from usecases.backlog_services import backlog_view_save

    member = MembershipFactory(organization=org)
    actor = Actor.for_member(user=member.user, organization=org, role=member.role)
    return backlog_view_save(actor=actor, name="Harness", filters={"kind": ["feature"]})


def _use_case_with_policy(org):
    from tests.factories.governance import make_policy

    uc = UseCaseFactory(organization=org)
    make_policy(org, uc)
    return uc


def _evidence(org):
    from governance.services.checklist import evidence_store

    actor = Actor.system(organization=org, label="isolation-harness")
    data = f"evidence of {org.slug}".encode()
    return evidence_store(
        actor=actor, organization_id=org.pk, name="e.txt", content_type="text/plain", data=data
    )


# Browser routes: URL keyword -> how to make the object it names.
BROWSER_OBJECTS: dict[str, ObjectMaker] = {
    "membership": ObjectMaker(lambda org: MembershipFactory(organization=org)),
    "invitation": ObjectMaker(lambda org: InvitationFactory(organization=org)),
    "token": ObjectMaker(lambda org: ApiTokenFactory(organization=org)),
    # Use cases are addressed by their number (UC-<n>) in the browser.
    "use_case": ObjectMaker(lambda org: UseCaseFactory(organization=org), lambda uc: uc.number),
    "requirement": ObjectMaker(
        lambda org: RequirementFactory(use_case=UseCaseFactory(organization=org))
    ),
    "verification": ObjectMaker(
        lambda org: VerificationFactory(
            requirement=RequirementFactory(use_case=UseCaseFactory(organization=org))
        )
    ),
    "target": ObjectMaker(lambda org: TargetFactory(organization=org)),
    "plan": ObjectMaker(lambda org: EvalPlanFactory(use_case=UseCaseFactory(organization=org))),
    "case": ObjectMaker(lambda org: make_case(org)),
    "run": ObjectMaker(lambda org: make_run(org)),
    # Context: sources by id, gaps and knowledge by number, answers by id.
    "source": ObjectMaker(lambda org: make_source(org)),
    "gap": ObjectMaker(lambda org: make_gap(org), lambda gap: gap.number),
    "answer": ObjectMaker(lambda org: make_answer(org)),
    # `item`: knowledge by number (KB-<n>), and the backlog's feature items (BL-<n>).
    "item": ObjectMaker(_knowledge_and_backlog_item, lambda item: item.number),
    # Governance: releases by number (their checklist items by key), waivers and evidence
    # files by id, HITL policies by the use case's number.
    "release": ObjectMaker(_release, lambda release: release.number),
    "item_key": ObjectMaker(_release, lambda release: "risk_review"),
    "waiver": ObjectMaker(_waiver),
    "evidence": ObjectMaker(_evidence),
    # Incidents by number (INC-<n>), their follow-ups by id.
    "incident": ObjectMaker(_incident, lambda incident: incident.number),
    "follow_up": ObjectMaker(_follow_up),
    "template": ObjectMaker(_template),
    # Metrics: production interactions by id.
    "event": ObjectMaker(_telemetry_event),
    # Alert rules by number (AR-<n>), the alerts they fired by id.
    "rule": ObjectMaker(_alert_rule, lambda rule: rule.number),
    "alert": ObjectMaker(_alert),
    # The backlog: a member's saved views by id.
    "view": ObjectMaker(_backlog_view),
}

# API routes: OpenAPI path -> how to make the object its parameter names, and how
# to recognize that object in a list response (field, value).
API_OBJECTS: dict[str, tuple[ObjectMaker, Any]] = {
    "/api/v1/members/{id}/": (
        ObjectMaker(lambda org: MembershipFactory(organization=org)),
        lambda obj: ("id", obj.pk),
    ),
    "/api/v1/audit-events/{id}/": (
        ObjectMaker(_audit_event),
        lambda event: ("hash", event.hash),
    ),
    "/api/v1/use-cases/{id}/": (
        ObjectMaker(lambda org: UseCaseFactory(organization=org)),
        lambda use_case: ("id", use_case.pk),
    ),
    "/api/v1/use-cases/{id}/stage/": (
        ObjectMaker(lambda org: UseCaseFactory(organization=org)),
        lambda use_case: ("id", use_case.pk),
    ),
    # The PRD routes name a use case whose PRD exists with a saved version (a dict of
    # values when a path has several parameters).
    **{
        path: (
            ObjectMaker(
                lambda org: prd_save(
                    actor=Actor.system(organization=org, label="isolation-harness"),
                    use_case=UseCaseFactory(organization=org),
                    sections={"user_goal": "Resolve refund questions in one reply."},
                    summary="First draft",
                ),
                url_value,
            ),
            lambda version: ("id", version.prd.use_case_id),
        )
        for path, url_value in [
            ("/api/v1/use-cases/{id}/prd/", lambda v: v.prd.use_case_id),
            ("/api/v1/use-cases/{id}/prd/versions/", lambda v: v.prd.use_case_id),
            (
                "/api/v1/use-cases/{id}/prd/versions/{number}/",
                lambda v: {"id": v.prd.use_case_id, "number": v.number},
            ),
        ]
    },
    "/api/v1/requirements/{id}/": (
        ObjectMaker(lambda org: RequirementFactory(use_case=UseCaseFactory(organization=org))),
        lambda requirement: ("id", requirement.pk),
    ),
    # Evals: targets, plans (their cases by CASE number), runs (results by case number).
    **{
        path: (
            ObjectMaker(lambda org: TargetFactory(organization=org)),
            lambda target: ("id", target.pk),
        )
        for path in ["/api/v1/targets/{id}/", "/api/v1/targets/{id}/test-connection/"]
    },
    **{
        path: (
            ObjectMaker(lambda org: EvalPlanFactory(use_case=UseCaseFactory(organization=org))),
            lambda plan: ("id", plan.pk),
        )
        for path in [
            "/api/v1/eval-plans/{id}/",
            "/api/v1/eval-plans/{id}/cases/",
            "/api/v1/eval-plans/{id}/cases/import/",
            "/api/v1/eval-plans/{id}/runs/",
            "/api/v1/eval-plans/{id}/external-runs/",
        ]
    },
    "/api/v1/eval-plans/{id}/cases/{number}/": (
        ObjectMaker(make_case, lambda case: {"id": case.plan_id, "number": case.number}),
        lambda case: ("id", case.plan_id),
    ),
    **{
        path: (ObjectMaker(make_run), lambda run: ("id", run.pk))
        for path in [
            "/api/v1/eval-runs/{id}/",
            "/api/v1/eval-runs/{id}/cancel/",
            "/api/v1/eval-runs/{id}/baseline/",
            "/api/v1/eval-runs/{id}/results/",
            "/api/v1/eval-runs/{id}/junit.xml",
        ]
    },
    # Context: sources by id; gaps and knowledge by number.
    **{
        path: (ObjectMaker(make_source), lambda source: ("id", source.pk))
        for path in ["/api/v1/sources/{id}/", "/api/v1/sources/{id}/verify/"]
    },
    **{
        path: (ObjectMaker(make_gap, lambda gap: gap.number), lambda gap: ("id", gap.pk))
        for path in [
            "/api/v1/gaps/{number}/",
            "/api/v1/gaps/{number}/route/",
            "/api/v1/gaps/{number}/status/",
            "/api/v1/gaps/{number}/answers/",
        ]
    },
    "/api/v1/knowledge/{number}/": (
        ObjectMaker(make_knowledge, lambda item: item.number),
        lambda item: ("id", item.pk),
    ),
    # Governance: releases by number; the HITL policy of a use case (by id) that has one.
    **{
        path: (
            ObjectMaker(_release, lambda release: release.number),
            lambda r: ("number", r.number),
        )
        for path in ["/api/v1/releases/{number}/", "/api/v1/releases/{number}/gate/"]
    },
    **{
        path: (
            ObjectMaker(_incident, lambda incident: incident.number),
            lambda i: ("number", i.number),
        )
        for path in [
            "/api/v1/incidents/{number}/",
            "/api/v1/incidents/{number}/status/",
            "/api/v1/incidents/{number}/reports/",
            "/api/v1/incidents/{number}/follow-ups/",
        ]
    },
    "/api/v1/incidents/{number}/follow-ups/{follow_up}/": (
        ObjectMaker(_follow_up, lambda row: {"number": row.incident.number, "follow_up": row.pk}),
        lambda row: ("number", row.incident.number),
    ),
    "/api/v1/use-cases/{id}/hitl-policy/": (
        ObjectMaker(_use_case_with_policy, lambda uc: uc.pk),
        lambda uc: ("id", uc.pk),
    ),
    # Metrics: alert rules by number, the alerts they fired by id.
    "/api/v1/metrics/alert-rules/{number}/": (
        ObjectMaker(_alert_rule, lambda rule: rule.number),
        lambda rule: ("number", rule.number),
    ),
    **{
        path: (ObjectMaker(_alert), lambda alert: ("id", alert.pk))
        for path in ["/api/v1/metrics/alerts/{id}/", "/api/v1/metrics/alerts/{id}/acknowledge/"]
    },
    # The backlog's feature items by number (BL-<n>).
    "/api/v1/backlog-items/{number}/": (
        ObjectMaker(_backlog_item, lambda item: item.number),
        lambda item: ("id", item.pk),
    ),
    # A failed case of a run, which could be triaged.
    "/api/v1/eval-runs/{id}/results/{number}/triage/": (
        ObjectMaker(
            lambda org: make_run(org, results=("fail",)),
            lambda run: {
                "id": run.pk,
                "number": run.results.values_list("case_number", flat=True).first(),
            },
        ),
        lambda run: ("id", run.pk),
    ),
}


# API lists without an id route of their own: how to make an object of theirs, and how to
# recognize it in the list (field, value).
def _reading(org):
    from django.utils import timezone

    from metrics.services import reading_record

    actor = Actor.system(organization=org, label="isolation-harness")
    use_case = UseCaseFactory(organization=org, metric_name="Handling time")
    return reading_record(
        actor=actor, use_case=use_case, data={"measured_on": timezone.localdate(), "value": "7"}
    )


API_LIST_OBJECTS: dict[str, tuple[ObjectMaker, Any]] = {
    # The unified backlog: a feature item is one of its entries, named by its ref.
    "/api/v1/backlog/": (
        ObjectMaker(_backlog_item),
        lambda item: ("ref", _ref(item)),
    ),
    # Business-metric readings of a use case.
    "/api/v1/metrics/readings/": (ObjectMaker(_reading), lambda reading: ("id", reading.pk)),
}


def _ref(obj) -> str:
    from django.contrib.contenttypes.models import ContentType

    return f"{ContentType.objects.get_for_model(type(obj)).pk}.{obj.pk}"


# Routes outside /o/<org_slug>/ that read or write no tenant data by themselves.
GLOBAL_ROUTES = {
    "home": "redirects to one of the user's own organizations",
    "login": "account",
    "logout": "account",
    "signup": "account",
    "account_security": "the user's own sessions",
    "password_change": "account",
    "password_change_done": "account",
    "password_reset": "account",
    "password_reset_done": "account",
    "password_reset_confirm": "account",
    "password_reset_complete": "account",
    "org_list": "lists the user's own memberships only",
    "org_create": "creates a new organization",
    "invitation_accept": "guarded by a signed single-use link, tested in test_invitations",
    "otlp-traces": "OTLP write only: the organization is the token's, use cases are resolved "
    "in it (another organization's use case is rejected: tests/metrics/test_otlp.py)",
}
# Routes under /api/v1/ that are not resources.
API_NON_RESOURCES = {
    "api-schema": "the OpenAPI document, public",
    "api-docs": "Swagger UI, public",
    "api-not-found": "catch-all JSON 404",
}


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # "o/<slug:org_slug>/settings/members/<int:member_id>/role/"
    kwargs: tuple[str, ...]
    namespace: str


def all_routes() -> list[Route]:
    """Every URL pattern of the project, flattened from the resolver."""
    found: list[Route] = []

    def walk(patterns, prefix: str, namespace: str):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                template = prefix + str(p.pattern)
                converters = {**getattr(p.pattern, "converters", {})}
                names = _kwarg_names(template) or tuple(converters)
                found.append(Route(p.name or "", template, names, namespace))

    walk(get_resolver().url_patterns, "", "")
    return found


def _kwarg_names(template: str) -> tuple[str, ...]:
    import re

    return tuple(m.group(2) for m in re.finditer(r"<(?:(\w+):)?(\w+)>", template)) + tuple(
        m.group(1) for m in re.finditer(r"\(\?P<(\w+)>", template)
    )


def build_path(route: Route, values: dict[str, Any]) -> str:
    import re

    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route.template)
    return "/" + path.lstrip("^").rstrip("$")
