"""Incident reports: the account, the analysis and the response with follow-ups, the
EU AI Act Article 73 reporting clock, and the two ways an incident feeds the loop (a
regression case in the use case's eval plan, a context gap for the SMEs)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from context import selectors as context_selectors
from context import services as context_services
from evals.models import CaseOrigin, EvalCase, EvalPlan
from evals.services.cases import case_add
from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.inputs import digits_only
from genai_po.roles import Action, Role
from governance.models import (
    FollowUpStatus,
    HarmType,
    Incident,
    IncidentChannel,
    IncidentFollowUp,
    IncidentGap,
    IncidentStatus,
    IncidentType,
    Release,
    SeriousKind,
)
from governance.services.common import membership_of, next_number, require_member
from usecases.models import UseCase

# Article 73(2)–(4): days from the moment the organization became aware.
REPORTING_DAYS = {SeriousKind.STANDARD: 15, SeriousKind.DEATH: 10, SeriousKind.WIDESPREAD: 2}
REMINDER_LEAD = timedelta(days=3)  # at most; half the clock when it is shorter
CLOCK_SKEW = timedelta(minutes=5)  # a browser's clock a little ahead is not "the future"
MAX_EVIDENCE_LINKS = 20
MAX_FOLLOW_UPS = 100
TEXT_FIELDS = [
    "title", "summary", "reporter_label", "environment", "affected_description", "expected",
    "actual", "steps_to_reproduce", "root_cause", "mitigation", "fix_plan", "prevention_plan",
    "serious_rationale",
]  # fmt: skip
GAP_SEVERITY = {1: "critical", 2: "high", 3: "medium", 4: "low"}
OWNER_ROLES = (Role.OWNER, Role.ADMIN, Role.PRODUCT_OWNER)
GAP_PRIORITY = {1: "p1", 2: "p2", 3: "p3", 4: "p4"}  # a severity-1 incident's gap is P1


def reporting_deadline(aware_at: datetime, kind: str) -> datetime:
    """When the report to the market surveillance authority is due."""
    return aware_at + timedelta(days=REPORTING_DAYS[SeriousKind(kind)])


def reminder_due_at(incident: Incident) -> datetime | None:
    """When the owner is reminded: three days before the deadline, or halfway through a
    shorter clock."""
    if not incident.serious or incident.deadline_at is None:
        return None
    clock = incident.deadline_at - incident.aware_at
    return incident.deadline_at - min(REMINDER_LEAD, clock / 2)


def _snapshot(incident: Incident) -> dict:
    return {
        "title": incident.title,
        "use_case": incident.use_case_id,
        "release": incident.release_id,
        "environment": incident.environment,
        "type": incident.incident_type,
        "severity": incident.severity,
        "status": incident.status,
        "owner": incident.owner_id,
        "occurred_at": incident.occurred_at,
        "discovered_at": incident.discovered_at,
        "aware_at": incident.aware_at,
        "serious": incident.serious,
        "serious_kind": incident.serious_kind,
        "deadline_at": incident.deadline_at,
        "initial_report_at": incident.initial_report_at,
        "complete_report_at": incident.complete_report_at,
    }


def _first(exc: ValidationError) -> dict[str, str]:
    return {key: messages[0] for key, messages in exc.message_dict.items()}


def _clean_links(value) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Give the evidence as links, one per line.")
    links = [v.strip() for v in value if v.strip()]
    if len(links) > MAX_EVIDENCE_LINKS:
        raise ValidationError(f"At most {MAX_EVIDENCE_LINKS} evidence links.")
    check = URLValidator(schemes=["http", "https"])
    for number, link in enumerate(links, 1):
        if len(link) > 1000:
            raise ValidationError(f"Link {number} is longer than 1,000 characters.")
        try:
            check(link)
        except ValidationError:
            raise ValidationError(f"Link {number} is not an http(s) address: {link[:80]}") from None
    return list(dict.fromkeys(links))


def _clean(incident: Incident, data: dict) -> dict:  # noqa: C901 - one check per field
    errors: dict[str, str] = {}
    clean: dict = {}
    org_id = incident.organization_id
    for key in TEXT_FIELDS:
        if key in data:
            value = data[key]
            clean[key] = (value or "").strip() if isinstance(value, str | type(None)) else value
    errors.update(
        inputs.text_errors(Incident, {k: v for k, v in clean.items() if isinstance(v, str)})
    )
    merged = lambda key: clean.get(key, getattr(incident, key))  # noqa: E731
    if not merged("title"):
        errors["title"] = "Give the incident a title: what went wrong, in a line."
    if not merged("summary"):
        errors["summary"] = "Summarize what happened."
    if not (merged("environment") or "").strip():
        errors["environment"] = "Say where it happened, e.g. production."
    if "channel" in data:
        if data["channel"] not in IncidentChannel.values:
            errors["channel"] = "Choose how it was reported."
        else:
            clean["channel"] = data["channel"]
    if "incident_type" in data:
        if data["incident_type"] not in IncidentType.values:
            errors["incident_type"] = "Choose the type of incident."
        else:
            clean["incident_type"] = data["incident_type"]
    if "severity" in data:
        severity = data["severity"]
        if isinstance(severity, str) and digits_only(severity):
            severity = int(severity)
        if isinstance(severity, bool) or severity not in (1, 2, 3, 4):
            errors["severity"] = "Severity is 1 (the most severe) to 4."
        else:
            clean["severity"] = severity
    if "affected_users" in data:
        value = data["affected_users"]
        if value in (None, ""):
            clean["affected_users"] = None
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            errors["affected_users"] = "Give the number of affected users (0 or more)."
        else:
            clean["affected_users"] = value
    if "harm_types" in data:
        harms = data["harm_types"] or []
        if not isinstance(harms, list) or any(h not in HarmType.values for h in harms):
            errors["harm_types"] = "Choose harm types from the list."
        else:
            clean["harm_types"] = [h for h in HarmType.values if h in harms]
    if "evidence_links" in data:
        try:
            clean["evidence_links"] = _clean_links(data["evidence_links"])
        except ValidationError as exc:
            errors["evidence_links"] = exc.messages[0]
    for key in ("reporter", "owner"):
        if key in data:
            user = data[key]
            if user is not None:
                try:
                    require_member(
                        org_id, user, field=key,
                        roles=OWNER_ROLES if key == "owner" else None,
                        refused="The incident owner is an owner, admin or product owner: "
                        "someone who can work the incident here.",
                    )  # fmt: skip
                except ValidationError as exc:
                    errors.update(_first(exc))
            clean[key] = user
    if "use_case" in data:
        use_case = data["use_case"]
        if not isinstance(use_case, UseCase) or use_case.organization_id != org_id:
            errors["use_case"] = "Choose a use case of this organization."
        elif incident.regression_case_id and use_case.pk != incident.use_case_id:
            errors["use_case"] = (
                "This incident's regression case is in its use case's plan: it stays there."
            )
        else:
            clean["use_case"] = use_case
    if "release" in data:
        release = data["release"]
        use_case = clean.get("use_case") or getattr(incident, "use_case", None)
        if release is not None and (
            not isinstance(release, Release)
            or release.organization_id != org_id
            or use_case is None
            or release.use_case_id != use_case.pk
        ):
            errors["release"] = "Choose a release of the incident's use case, or none."
        clean["release"] = release
    elif (
        "use_case" in clean
        and incident.release_id
        and incident.release.use_case_id != clean["use_case"].pk
    ):
        clean["release"] = None  # the release was of the use case it leaves
    now = timezone.now()
    for key in ("occurred_at", "discovered_at", "aware_at"):
        if key in data:
            value = data[key]
            if not isinstance(value, datetime):
                errors[key] = "Give a date and time."
            elif value > now + CLOCK_SKEW:
                errors[key] = "This is in the future."
            else:
                clean[key] = value
    occurred, discovered, aware = (clean.get(k, getattr(incident, k)) for k in
                                   ("occurred_at", "discovered_at", "aware_at"))  # fmt: skip
    if occurred and discovered and discovered < occurred and "discovered_at" not in errors:
        errors["discovered_at"] = "It cannot be discovered before it occurred."
    if discovered and aware and aware < discovered and "aware_at" not in errors:
        errors["aware_at"] = (
            "The organization cannot become aware before the incident was discovered."
        )
    reported = [t for t in (incident.initial_report_at, incident.complete_report_at) if t]
    if reported and aware and aware > min(reported) and "aware_at" not in errors:
        errors["aware_at"] = (
            "A report to the authority was sent before this time: the organization was aware "
            "by then."
        )
    if "serious" in data:
        clean["serious"] = bool(data["serious"])
        if reported and not clean["serious"]:
            errors["serious"] = (
                "Reports to the authority are recorded: the incident stays marked serious."
            )
    if "serious_kind" in data:
        kind = data["serious_kind"] or ""
        if kind and kind not in SeriousKind.values:
            errors["serious_kind"] = "Choose which Article 73 clock applies."
        else:
            clean["serious_kind"] = kind
    serious = clean.get("serious", incident.serious)
    kind = clean.get("serious_kind", incident.serious_kind)
    if serious and not kind and "serious_kind" not in errors:
        errors["serious_kind"] = (
            "A serious incident needs its clock: standard (15 days), death (10 days) or a "
            "widespread infringement or critical infrastructure (2 days)."
        )
    if serious and not (clean.get("serious_rationale", incident.serious_rationale) or "").strip():
        errors.setdefault(
            "serious_rationale", "Say why it is serious under Article 73: the record keeps it."
        )
    if not serious:
        clean["serious_kind"] = ""
    if not (clean.get("reporter", incident.reporter if incident.pk else None)
            or merged("reporter_label")):  # fmt: skip
        errors.setdefault("reporter_label", "Say who reported it.")
    if errors:
        raise ValidationError(errors)
    return clean


def _apply(incident: Incident, clean: dict) -> None:
    for key, value in clean.items():
        setattr(incident, key, value)
    if not incident.reporter_label and incident.reporter is not None:
        incident.reporter_label = incident.reporter.email[:254]
    if incident.serious:
        deadline = reporting_deadline(incident.aware_at, incident.serious_kind)
        if deadline != incident.deadline_at:
            incident.deadline_at = deadline
            incident.reminder_sent_at = None  # a new clock: remind again
    else:
        incident.deadline_at = None
        incident.reminder_sent_at = None


def _may_own(org_id: int, user) -> bool:
    membership = membership_of(org_id, user)
    return membership is not None and membership.role in OWNER_ROLES


def incident_create(*, actor: Actor, data: dict) -> Incident:
    """Record an incident (INC-n). A serious one starts its Article 73 clock."""
    actor.require(Action.EDIT_PRODUCT)
    org_id = actor.organization.pk
    incident = Incident(
        organization_id=org_id,
        status=IncidentStatus.OPEN,
        created_by_label=actor.label[:254],
        owner=actor.user if _may_own(org_id, actor.user) else None,
        reporter=None,
    )
    data = {"environment": "production", **data}
    if "reporter" not in data:  # someone outside when named, else whoever records it
        data["reporter"] = None if (data.get("reporter_label") or "").strip() else actor.user
    for key in ("title", "summary", "channel", "incident_type", "severity", "use_case",
                "occurred_at", "discovered_at", "aware_at"):  # fmt: skip
        if key not in data:
            data[key] = None if key in ("use_case", "severity") else ""
    clean = _clean(incident, data)
    _apply(incident, clean)
    with transaction.atomic():
        incident.number = next_number(org_id, "incident_seq")
        incident.save()
        audit_record(
            actor=actor, action="incident.created", obj=incident, after=_snapshot(incident)
        )
    return incident


def _require_open(incident: Incident) -> None:
    if incident.status == IncidentStatus.CLOSED:
        raise ValidationError(
            {"status": f"{incident.key} is closed: reopen it to change the record."}
        )


def _locked(incident: Incident) -> Incident:
    """Lock the incident's row until the transaction ends and read it again into the
    caller's instance (a concurrent change is not overwritten)."""
    Incident.objects.for_org(incident.organization_id).select_for_update().filter(
        pk=incident.pk
    ).values_list("pk", flat=True).get()
    incident.refresh_from_db()
    return incident


def incident_update(*, actor: Actor, incident: Incident, data: dict) -> Incident:
    """Change the account, the analysis or the response; a new awareness time or clock
    recomputes the deadline."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(incident)
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        clean = _clean(incident, data)
        before = _snapshot(incident)
        _apply(incident, clean)
        incident.save()
        audit_record(
            actor=actor, action="incident.updated", obj=incident, before=before,
            after=_snapshot(incident),
        )  # fmt: skip
    return incident


def open_follow_ups(incident: Incident):
    return IncidentFollowUp.objects.for_org(incident.organization_id).filter(
        incident=incident, status=FollowUpStatus.OPEN
    )


def incident_set_status(*, actor: Actor, incident: Incident, status: str) -> Incident:
    """Move an incident along; closing needs every follow-up done or accepted as is."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(incident)
    if status not in IncidentStatus.values:
        raise ValidationError({"status": "Choose open, investigating, mitigated or closed."})
    with transaction.atomic():
        incident = _locked(incident)
        if status == incident.status:
            return incident
        if status == IncidentStatus.CLOSED:
            left = list(open_follow_ups(incident).values_list("title", flat=True)[:3])
            if left:
                count = open_follow_ups(incident).count()
                raise ValidationError(
                    {"status": f"{count} follow-up{'s are' if count > 1 else ' is'} still open "
                     f"(“{left[0][:80]}”{'…' if count > 1 else ''}): mark each done, or accept "
                     "it as is with a note, before closing."}
                )  # fmt: skip
        if (
            status == IncidentStatus.CLOSED
            and incident.serious
            and incident.complete_report_at is None
        ):
            raise ValidationError(
                {"status": f"{incident.key} is serious: record its complete Article 73 report "
                 "before closing it."}
            )  # fmt: skip
        before = _snapshot(incident)
        incident.status = status
        incident.closed_at = timezone.now() if status == IncidentStatus.CLOSED else None
        incident.save(update_fields=["status", "closed_at", "updated_at"])
        audit_record(
            actor=actor, action="incident.status_changed", obj=incident, before=before,
            after=_snapshot(incident),
        )  # fmt: skip
    return incident


def incident_record_report(
    *, actor: Actor, incident: Incident, which: str, at: datetime | None = None
) -> Incident:
    """Record when the initial or the complete report went to the authority."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(incident)
    if which not in ("initial", "complete"):
        raise ValidationError({"which": "Record the initial or the complete report."})
    now = timezone.now()
    at = at or now
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        if not incident.serious:
            raise ValidationError(
                {"which": f"{incident.key} is not marked serious: no report is due."}
            )
        if getattr(incident, f"{which}_report_at") is not None:
            when = timezone.localtime(getattr(incident, f"{which}_report_at"))
            raise ValidationError(
                {"which": f"The {which} report is recorded already ({when:%d %b %Y %H:%M})."}
            )
        if not isinstance(at, datetime) or at > now + CLOCK_SKEW:
            raise ValidationError({"at": "A report cannot be sent in the future."})
        if at < incident.aware_at:
            raise ValidationError(
                {"at": "A report cannot precede the time the organization became aware."}
            )
        if which == "complete":
            if incident.initial_report_at is None:
                raise ValidationError({"which": "Record the initial report first."})
            if at < incident.initial_report_at:
                raise ValidationError({"at": "The complete report follows the initial one."})
        elif incident.complete_report_at and at > incident.complete_report_at:
            raise ValidationError({"at": "The initial report precedes the complete one."})
        before = _snapshot(incident)
        setattr(incident, f"{which}_report_at", at)
        incident.save(update_fields=[f"{which}_report_at", "updated_at"])
        audit_record(
            actor=actor, action=f"incident.{which}_report", obj=incident, before=before,
            after=_snapshot(incident),
        )  # fmt: skip
    return incident


# --------------------------------------------------------------------------- follow-ups


def _follow_up_audit(row: IncidentFollowUp) -> dict:
    return {
        "incident": row.incident_id,
        "title": row.title,
        "owner": row.owner_id,
        "due_date": row.due_date,
        "status": row.status,
        "note": row.note,
    }


def _clean_follow_up(org_id: int, row: IncidentFollowUp, data: dict) -> dict:
    errors: dict[str, str] = {}
    clean: dict = {}
    for key in ("title", "note"):
        if key in data:
            clean[key] = " ".join(str(data[key] or "").split())
    errors.update(inputs.text_errors(IncidentFollowUp, clean))
    if not clean.get("title", row.title):
        errors["title"] = "Say what is to be done."
    if "owner" in data:
        if data["owner"] is not None:
            try:
                require_member(org_id, data["owner"], field="owner")
            except ValidationError as exc:
                errors.update(_first(exc))
        clean["owner"] = data["owner"]
    if "due_date" in data:
        due = data["due_date"]
        if due is not None and row.pk is None and due < timezone.localdate():
            errors["due_date"] = "A new follow-up is due today or later."
        clean["due_date"] = due
    if "status" in data:
        if data["status"] not in FollowUpStatus.values:
            errors["status"] = "Choose open, done or accepted as is."
        else:
            clean["status"] = data["status"]
    if clean.get("status", row.status) == FollowUpStatus.ACCEPTED and not clean.get(
        "note", row.note
    ):
        errors.setdefault(
            "note", "Accepting a follow-up as is needs a note: why it is not done, and who decided."
        )
    if errors:
        raise ValidationError(errors)
    return clean


def follow_up_add(*, actor: Actor, incident: Incident, data: dict) -> IncidentFollowUp:
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(incident)
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        row = IncidentFollowUp(organization_id=incident.organization_id, incident=incident)
        clean = _clean_follow_up(incident.organization_id, row, {"title": "", **data})
        count = IncidentFollowUp.objects.for_org(incident.organization_id).filter(incident=incident)
        if count.count() >= MAX_FOLLOW_UPS:
            raise ValidationError(
                {"title": f"An incident holds at most {MAX_FOLLOW_UPS} follow-ups."}
            )
        for key, value in clean.items():
            setattr(row, key, value)
        row.save()
        audit_record(actor=actor, action="incident.follow_up_added", obj=row,
                     after=_follow_up_audit(row))  # fmt: skip
    return row


def follow_up_update(*, actor: Actor, follow_up: IncidentFollowUp, data: dict) -> IncidentFollowUp:
    """Change a follow-up: done, accepted as is (with a note), or open again."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(follow_up)
    with transaction.atomic():
        incident = _locked(follow_up.incident)
        _require_open(incident)
        row = IncidentFollowUp.objects.for_org(incident.organization_id).get(pk=follow_up.pk)
        clean = _clean_follow_up(incident.organization_id, row, data)
        before = _follow_up_audit(row)
        for key, value in clean.items():
            setattr(row, key, value)
        row.save()
        audit_record(actor=actor, action="incident.follow_up_updated", obj=row, before=before,
                     after=_follow_up_audit(row))  # fmt: skip
    return row


# --------------------------------------------------------------------------- the loop


def incident_add_regression_case(
    *, actor: Actor, incident: Incident, plan: EvalPlan, data: dict
) -> EvalCase:
    """The incident as an eval case of the use case's plan (origin "incident"), so the
    next run proves it cannot happen again."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(incident)
    if (
        not isinstance(plan, EvalPlan)
        or plan.organization_id != incident.organization_id
        or plan.use_case_id != incident.use_case_id
        or plan.archived_at is not None
    ):
        raise ValidationError({"plan": "Choose an active eval plan of the incident's use case."})
    tags = data.get("tags") or ["incident", incident.incident_type.replace("_", "-")]
    fields = {
        "name": f"{incident.key}: {incident.title}"[:200],
        "prompt": data.get("prompt", ""),
        "expected": data.get("expected", ""),
        "expected_behavior": data.get("expected_behavior", ""),
        "must_escalate": bool(data.get("must_escalate")),
        "tags": tags,
        "origin": CaseOrigin.INCIDENT,
        "origin_ref": incident.key,
    }
    if data.get("requirement_keys"):
        fields["requirement_keys"] = data["requirement_keys"]
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        if incident.regression_case_id is not None:
            raise ValidationError(
                {"plan": f"{incident.key} already produced its regression case: edit that case."}
            )
        case = case_add(actor=actor, plan=plan, data=fields)
        Incident.objects.for_org(incident.organization_id).filter(pk=incident.pk).update(
            regression_case=case, updated_at=timezone.now()
        )
        incident.regression_case = case
        audit_record(
            actor=actor, action="incident.regression_case", obj=incident,
            after={"case": case.pk, "plan": plan.pk, "key": case.key},
        )  # fmt: skip
    return case


def incident_open_gap(*, actor: Actor, incident: Incident, question: str, severity: str = ""):
    """A context gap detected by this incident, in the context loop (SMEs answer it), and
    linked to the incident as a contributing gap."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(incident)
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        gap = context_services.gap_create(
            actor=actor,
            question=question,
            detected_by="incident",
            severity=severity or GAP_SEVERITY[incident.severity],
            use_cases=[incident.use_case],
            priority=GAP_PRIORITY[incident.severity],
        )
        IncidentGap.objects.create(
            organization_id=incident.organization_id, incident=incident, gap=gap
        )
        audit_record(
            actor=actor, action="incident.gap_opened", obj=incident,
            after={"gap": gap.pk, "key": gap.key},
        )  # fmt: skip
    return gap


def incident_link_gaps(*, actor: Actor, incident: Incident, gap_ids) -> list[int]:
    """Set the contributing context gaps (gaps of this organization, by id)."""
    actor.require(Action.EDIT_PRODUCT)
    actor.require_same_org(incident)
    ids = sorted(set(gap_ids))
    org_id = incident.organization_id
    found = set(context_selectors.gaps_of(org_id).filter(pk__in=ids).values_list("pk", flat=True))
    if found != set(ids):
        raise ValidationError({"gaps": "Choose context gaps of this organization."})
    with transaction.atomic():
        incident = _locked(incident)
        _require_open(incident)
        links = IncidentGap.objects.for_org(org_id).filter(incident=incident)
        before = sorted(links.values_list("gap_id", flat=True))
        links.exclude(gap_id__in=ids).delete()
        IncidentGap.objects.bulk_create(
            [IncidentGap(organization_id=org_id, incident=incident, gap_id=i) for i in ids],
            ignore_conflicts=True,
        )
        if before != ids:
            audit_record(
                actor=actor, action="incident.gaps_linked", obj=incident,
                before={"gaps": before}, after={"gaps": ids},
            )  # fmt: skip
    return ids


# --------------------------------------------------------------------------- reminders


def deadline_reminders_due(now: datetime | None = None) -> list[Incident]:
    """Serious incidents whose complete report is not in and whose reminder time has come,
    not yet reminded (every organization: for the beat task)."""
    now = now or timezone.now()
    rows = (
        Incident.objects.across_orgs()
        .filter(
            serious=True,
            deadline_at__isnull=False,
            complete_report_at__isnull=True,
            reminder_sent_at__isnull=True,
            deadline_at__lte=now + REMINDER_LEAD,
        )
        .select_related("organization", "owner", "use_case")
        .order_by("deadline_at", "pk")
    )
    return [row for row in rows[:500] if reminder_due_at(row) <= now]


def claim_reminder(incident: Incident, now: datetime) -> bool:
    """Mark the reminder sent; False when another worker (or an earlier beat) did."""
    return bool(
        Incident.objects.for_org(incident.organization_id)
        .filter(pk=incident.pk, reminder_sent_at__isnull=True, deadline_at=incident.deadline_at)
        .update(reminder_sent_at=now)
    )
