"""Reads of governance data, organization first."""

from datetime import datetime, time

from django.apps import apps
from django.utils import timezone

from genai_po.inputs import digits_only
from genai_po.models import AuditEvent, Organization
from genai_po.roles import Role


def audit_events_filtered(
    *,
    organization: Organization,
    action: str = "",
    actor: str = "",
    object_type: str = "",
    since=None,
    until=None,
):
    """Audit events of one organization, newest first, narrowed by the page's filters."""
    events = AuditEvent.objects.for_org(organization).order_by("-seq")
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if object_type:
        events = events.filter(object_type=object_type)
    if since:
        events = events.filter(
            created_at__gte=timezone.make_aware(datetime.combine(since, time.min))
        )
    if until:
        events = events.filter(
            created_at__lte=timezone.make_aware(datetime.combine(until, time.max))
        )
    return events


def audit_filter_choices(*, organization: Organization) -> dict[str, list[str]]:
    """Distinct actions and object types, for the filter drop-downs."""
    events = AuditEvent.objects.for_org(organization)
    return {
        "actions": list(events.order_by("action").values_list("action", flat=True).distinct()),
        "object_types": list(
            events.order_by("object_type").values_list("object_type", flat=True).distinct()
        ),
    }


def _object_label(object_type: str, object_id: str) -> str:
    try:
        name = apps.get_model(object_type)._meta.verbose_name
    except (LookupError, ValueError):
        name = object_type
    return f"{str(name)[:1].upper()}{str(name)[1:]} #{object_id}" if object_id else str(name)


SHOWN_CHARS = 300  # of each value on the page; the CSV export and the API keep all of it


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


def _changes(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return " · ".join(f"{key}: {_short(value[key])}" for key in sorted(value))
    return _short(value)


def _object_keys(events) -> dict[tuple[str, str], str]:
    """The keys (UC-3, REL-2, INC-1, GAP-5…) of the objects on this page that have one:
    one query per object type, within each event's organization."""
    from genai_po.tenancy import OrgScopedModel

    wanted: dict[tuple[str, int], set[int]] = {}
    for e in events:
        if digits_only(e.object_id) and len(e.object_id) <= 18:
            wanted.setdefault((e.object_type, e.organization_id), set()).add(int(e.object_id))
    keys = {}
    for (object_type, org_id), ids in wanted.items():
        try:
            model = apps.get_model(object_type)
        except (LookupError, ValueError):
            continue
        if not issubclass(model, OrgScopedModel) or not isinstance(
            getattr(model, "key", None), property
        ):
            continue
        for obj in model.objects.for_org(org_id).filter(pk__in=ids):
            keys[(object_type, str(obj.pk))] = obj.key
    return keys


def audit_event_rows(events) -> list[dict]:
    """Events shaped for the audit page: readable role, object (by its key where it has
    one) and changes."""
    from genai_po.models import User

    roles = dict(Role.choices)
    events = list(events)
    keys = _object_keys(events)
    # People by their names (one query); a token or the system keeps its label.
    names = {
        user.pk: user.display_name
        for user in User.objects.filter(pk__in={e.actor_user_id for e in events if e.actor_user_id})
    }
    return [
        {
            "event": e,
            "actor": names.get(e.actor_user_id) or e.actor_label,
            "role": roles.get(e.actor_role, e.actor_role.replace("_", " ").capitalize()),
            "object": keys.get((e.object_type, e.object_id))
            or _object_label(e.object_type, e.object_id),
            "before": _changes(e.before),
            "after": _changes(e.after),
        }
        for e in events
    ]


# --------------------------------------------------------------------------- releases


def releases_of(organization, *, use_case=None, status: str = ""):
    """Releases, newest first, with their use case and owner."""
    from governance.models import Release

    rows = (
        Release.objects.for_org(organization)
        .select_related("use_case", "owner", "eval_run")
        .order_by("-number")
    )
    if use_case is not None:
        rows = rows.filter(use_case_id=getattr(use_case, "pk", use_case))
    if status:
        rows = rows.filter(status=status)
    return rows


def signers_of(organization):
    """Members who may sign off (owners, admins, reviewers), for the assignment list."""
    from genai_po.models import Membership, User
    from governance.services.releases import SIGNER_ROLES

    ids = Membership.objects.for_org(organization).filter(role__in=SIGNER_ROLES)
    return User.objects.filter(pk__in=ids.values("user_id")).order_by("full_name", "email")


def approved_release_of(use_case):
    """The use case's newest release that is approved or released (not rolled back)."""
    from governance.models import APPROVED_STATUSES, Release

    return (
        Release.objects.for_org(use_case.organization_id)
        .filter(use_case=use_case, status__in=APPROVED_STATUSES)
        .order_by("-number")
        .first()
    )


def releases_in_review(organization, *, exclude_owner=None, approved_too: bool = False):
    """Releases waiting for sign-offs (with `approved_too`, approved ones too, whose
    sign-offs may have gone stale), not those `exclude_owner` owns."""
    from governance.models import Release, ReleaseStatus

    statuses = [ReleaseStatus.IN_REVIEW]
    if approved_too:
        statuses += [ReleaseStatus.APPROVED, ReleaseStatus.APPROVED_WITH_CONDITIONS]
    rows = Release.objects.for_org(organization).filter(status__in=statuses)
    return rows.exclude(owner=exclude_owner) if exclude_owner is not None else rows


def review_queue(organization, user) -> list[dict]:
    """What waits on this reviewer: for each release in review (or approved, when a
    sign-off went stale), the roles they may sign that lack their fresh decision. Not
    their own releases. A fixed number of queries per release shown."""
    from governance import gate as release_gate
    from governance.models import ReleaseStatus

    releases = (
        releases_in_review(organization, exclude_owner=user, approved_too=True)
        .select_related("use_case", "owner", "organization")
        .order_by("target_date", "number")[:50]
    )
    queue = []
    for release in releases:
        gate = release_gate.evaluate(release)
        mine = [r for r in gate.roles if r.sign_off is not None and r.sign_off.user_id == user.pk]
        if mine:
            open_roles = [r for r in mine if r.stale]
        else:
            open_roles = [
                r
                for r in gate.roles
                if (r.assignee is None or r.assignee.pk == user.pk)
                and (r.sign_off is None or r.stale)
            ]
            if release.status != ReleaseStatus.IN_REVIEW:
                open_roles = [r for r in open_roles if r.stale]
        if open_roles:
            queue.append({"release": release, "gate": gate, "roles": open_roles})
    return queue


def decisions_of(organization, user):
    """A reviewer's sign-offs, newest first, with their release (stale or not is on the
    release's page)."""
    from governance.models import SignOff

    return (
        SignOff.objects.for_org(organization)
        .filter(user=user)
        .select_related("release", "release__use_case")
        .order_by("-created_at", "-pk")
    )


def waivers_awaiting(organization, user):
    """Pending waivers someone else asked for: this person may decide them."""
    from governance.models import Waiver, WaiverStatus

    return (
        Waiver.objects.for_org(organization)
        .filter(status=WaiverStatus.PENDING)
        .exclude(requested_by=user)
        .exclude(item__release__status__in=["released", "rolled_back"])
        .select_related("item", "item__release", "item__release__use_case")
        .order_by("requested_at")
    )


# --------------------------------------------------------------------------- incidents


def incidents_of(
    organization,
    *,
    use_case=None,
    status: str = "",
    severity: int | None = None,
    serious: bool | None = None,
    q: str = "",
):
    """Incidents, newest first, with their use case, owner and count of open follow-ups."""
    from django.db.models import Count, Q

    from governance.models import FollowUpStatus, Incident

    rows = (
        Incident.objects.for_org(organization)
        .select_related("use_case", "owner", "release")
        .annotate(
            open_follow_ups=Count("follow_ups", filter=Q(follow_ups__status=FollowUpStatus.OPEN))
        )
        .order_by("-number")
    )
    if use_case is not None:
        rows = rows.filter(use_case_id=getattr(use_case, "pk", use_case))
    if status == "unclosed":
        rows = rows.exclude(status="closed")
    elif status:
        rows = rows.filter(status=status)
    if severity is not None:
        rows = rows.filter(severity=severity)
    if serious is not None:
        rows = rows.filter(serious=serious)
    if q:
        rows = rows.filter(Q(title__icontains=q) | Q(summary__icontains=q))
    return rows


def reports_due(organization):
    """Serious incidents whose complete Article 73 report is not recorded, soonest first."""
    from governance.models import Incident

    return (
        Incident.objects.for_org(organization)
        .filter(serious=True, complete_report_at__isnull=True, deadline_at__isnull=False)
        .select_related("use_case")
        .order_by("deadline_at")
    )


# --------------------------------------------------------------------------- scoped trails


def _pairs_q(pairs: dict):
    """Events whose (object_type, object_id) is one of `pairs`: {type: queryset of pks}."""
    from django.db.models import CharField, Q
    from django.db.models.functions import Cast

    q = Q(pk__in=[])
    for object_type, ids in pairs.items():
        text_ids = ids.annotate(audit_id=Cast("pk", CharField())).values("audit_id")
        q |= Q(object_type=object_type, object_id__in=text_ids)
    return q


def release_audit_objects(organization, release) -> dict:
    """A release and what hangs on it: checklist items, waivers, sign-offs."""
    from governance.models import ChecklistItem, Release, SignOff, Waiver

    org = organization
    return {
        "governance.release": Release.objects.for_org(org).filter(pk=release.pk).values("pk"),
        "governance.checklistitem": ChecklistItem.objects.for_org(org)
        .filter(release=release)
        .values("pk"),
        "governance.waiver": Waiver.objects.for_org(org).filter(item__release=release).values("pk"),
        "governance.signoff": SignOff.objects.for_org(org).filter(release=release).values("pk"),
    }


def use_case_audit_objects(organization, use_case) -> dict:
    """Every audited row of a use case, across the areas: its brief, PRD and requirements,
    eval plans, cases, runs and triage, context gaps, answers, sources and knowledge, and
    its releases (with their checklists), HITL policies and incidents."""
    from context import selectors as context_selectors
    from evals.models import EvalCase, EvalPlan, EvalRun, Triage
    from governance.models import (
        ChecklistItem,
        HitlPolicy,
        Incident,
        IncidentFollowUp,
        Release,
        SignOff,
        Waiver,
    )
    from usecases.models import Prd, Requirement, RequirementVerification, UseCase

    org = organization
    plans = EvalPlan.objects.for_org(org).filter(use_case=use_case)
    releases = Release.objects.for_org(org).filter(use_case=use_case)
    return {
        "usecases.usecase": UseCase.objects.for_org(org).filter(pk=use_case.pk).values("pk"),
        "usecases.prd": Prd.objects.for_org(org).filter(use_case=use_case).values("pk"),
        "usecases.requirement": Requirement.objects.for_org(org)
        .filter(use_case=use_case)
        .values("pk"),
        "usecases.requirementverification": RequirementVerification.objects.for_org(org)
        .filter(requirement__use_case=use_case)
        .values("pk"),
        "evals.evalplan": plans.values("pk"),
        "evals.evalcase": EvalCase.objects.for_org(org).filter(plan__in=plans).values("pk"),
        "evals.evalrun": EvalRun.objects.for_org(org).filter(plan__in=plans).values("pk"),
        "evals.triage": Triage.objects.for_org(org).filter(run__plan__in=plans).values("pk"),
        **context_selectors.audited_objects_of(org, use_case),
        "governance.release": releases.values("pk"),
        "governance.checklistitem": ChecklistItem.objects.for_org(org)
        .filter(release__in=releases)
        .values("pk"),
        "governance.waiver": Waiver.objects.for_org(org)
        .filter(item__release__in=releases)
        .values("pk"),
        "governance.signoff": SignOff.objects.for_org(org)
        .filter(release__in=releases)
        .values("pk"),
        "governance.hitlpolicy": HitlPolicy.objects.for_org(org)
        .filter(use_case=use_case)
        .values("pk"),
        "governance.incident": Incident.objects.for_org(org).filter(use_case=use_case).values("pk"),
        "governance.incidentfollowup": IncidentFollowUp.objects.for_org(org)
        .filter(incident__use_case=use_case)
        .values("pk"),
    }


def scoped_audit_events(organization, pairs: dict, **filters):
    """The audit events of the objects in `pairs`, newest first, with the page's filters."""
    return audit_events_filtered(organization=organization, **filters).filter(_pairs_q(pairs))
