"""Incident reports: the list, the report form, the page with its response (follow-ups,
status, the Article 73 reports) and the two actions that feed the loop."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from context import selectors as context_selectors
from genai_po import inputs
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from governance import selectors
from governance.forms import (
    FollowUpForm,
    FollowUpStatusForm,
    IncidentForm,
    IncidentGapForm,
    IncidentGapLinkForm,
    IncidentReportForm,
    IncidentStatusForm,
    RegressionCaseForm,
)
from governance.models import (
    FollowUpStatus,
    HarmType,
    Incident,
    IncidentFollowUp,
    IncidentGap,
    IncidentStatus,
    IncidentType,
)
from governance.services import incidents
from usecases.models import UseCase

EDIT = {"GET": Action.EDIT_PRODUCT, "POST": Action.EDIT_PRODUCT}
POST_EDIT = {"POST": Action.EDIT_PRODUCT}
INCIDENT = {"incident": Scoped(Incident, "number")}
FOLLOW_UP = {**INCIDENT, "follow_up": Scoped(IncidentFollowUp, "pk", parent="incident")}
LOCAL = "%Y-%m-%dT%H:%M"


def _detail(request, incident, anchor: str = ""):
    url = reverse("incident_detail", args=[request.organization.slug, incident.number])
    return redirect(url + anchor)


def _form_error_list(form) -> list[str]:
    return [str(e) for errors in form.errors.values() for e in errors]


class IncidentListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        params = request.GET
        use_case = None
        if number := inputs.id_or_none(params.get("use_case", "")):
            use_case = UseCase.objects.for_org(org).filter(number=number).first()
        status = params.get("status", "unclosed")
        if status not in (*IncidentStatus.values, "unclosed", "all"):
            status = "unclosed"
        severity = inputs.id_or_none(params.get("severity", ""))
        severity = severity if severity in (1, 2, 3, 4) else None
        serious = {"yes": True, "no": False}.get(params.get("serious", ""))
        q = params.get("q", "").strip()[:100]
        rows = selectors.incidents_of(
            org,
            use_case=use_case,
            status="" if status == "all" else status,
            severity=severity,
            serious=serious,
            q=q,
        )
        page = Paginator(rows, 25).get_page(params.get("page"))
        query = params.copy()
        query.pop("page", None)
        return render_page(
            request,
            "governance/incidents/list.html",
            {
                "page": page,
                "query": query.urlencode(),
                "use_case": use_case,
                "status": status,
                "severity": severity,
                "serious": params.get("serious", ""),
                "q": q,
                "use_cases": UseCase.objects.for_org(org).order_by("number"),
                "status_choices": IncidentStatus.choices,
                "reports_due": selectors.reports_due(org)[:5],
                "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
                "now": timezone.now(),
            },
        )


def _initial(incident: Incident) -> dict:
    local = lambda value: timezone.localtime(value).strftime(LOCAL) if value else ""  # noqa: E731
    return {
        **{f: getattr(incident, f) for f in incidents.TEXT_FIELDS},
        "use_case": incident.use_case_id,
        "release": incident.release_id,
        "reporter": incident.reporter_id,
        "reporter_label": "" if incident.reporter_id else incident.reporter_label,
        "channel": incident.channel,
        "owner": incident.owner_id,
        "occurred_at": local(incident.occurred_at),
        "discovered_at": local(incident.discovered_at),
        "aware_at": local(incident.aware_at),
        "incident_type": incident.incident_type,
        "severity": incident.severity,
        "affected_users": incident.affected_users,
        "harm_types": incident.harm_types,
        "evidence_links": "\n".join(incident.evidence_links),
        "serious": incident.serious,
        "serious_kind": incident.serious_kind,
    }


class IncidentCreateView(OrgView):
    permission = EDIT

    def _form(self, request, data=None):
        now = timezone.localtime().strftime(LOCAL)
        initial = {
            "reporter": request.user.pk,
            "owner": request.user.pk,
            "environment": "production",
            "occurred_at": now,
            "discovered_at": now,
            "aware_at": now,
            "severity": 3,
            "incident_type": IncidentType.CONFABULATION,
        }
        if number := inputs.id_or_none(request.GET.get("use_case", "")):
            uc = UseCase.objects.for_org(request.organization).filter(number=number).first()
            if uc is not None:
                initial["use_case"] = uc.pk
        return IncidentForm(data, organization=request.organization, initial=initial)

    def get(self, request):
        return render_page(
            request,
            "governance/incidents/form.html",
            {"form": self._form(request), "incident": None},
        )

    def post(self, request):
        form = self._form(request, request.POST)
        if form.is_valid():
            try:
                incident = incidents.incident_create(actor=request.actor, data=form.service_data())
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                note = (
                    f" The Article 73 report is due by "
                    f"{timezone.localtime(incident.deadline_at):%d %b %Y %H:%M}."
                    if incident.serious
                    else ""
                )
                messages.success(request, f"{incident.key} recorded.{note}")
                return _detail(request, incident)
        return render_page(
            request, "governance/incidents/form.html", {"form": form, "incident": None}, status=400
        )


class IncidentEditView(OrgView):
    permission = EDIT
    scoped_objects = INCIDENT

    def get(self, request, incident):
        if incident.status == IncidentStatus.CLOSED:
            messages.error(request, f"{incident.key} is closed: reopen it to change the record.")
            return _detail(request, incident)
        form = IncidentForm(
            organization=request.organization, incident=incident, initial=_initial(incident)
        )
        return render_page(
            request, "governance/incidents/form.html", {"form": form, "incident": incident}
        )

    def post(self, request, incident):
        form = IncidentForm(request.POST, organization=request.organization, incident=incident)
        if form.is_valid():
            try:
                incidents.incident_update(
                    actor=request.actor, incident=incident, data=form.service_data()
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{incident.key} saved.")
                return _detail(request, incident)
        return render_page(
            request,
            "governance/incidents/form.html",
            {"form": form, "incident": incident},
            status=400,
        )


def detail_context(request, incident, failed=None) -> dict:
    """What the incident's page shows; `failed` is the form that was refused (its section,
    errors and input), shown again in place."""
    org = request.organization
    follow_ups = list(
        IncidentFollowUp.objects.for_org(org).filter(incident=incident).select_related("owner")
    )
    gap_ids = IncidentGap.objects.for_org(org).filter(incident=incident).values("gap_id")
    linked = list(context_selectors.gaps_of(org).filter(pk__in=gap_ids))
    candidates = context_selectors.gaps_of(org, use_case=incident.use_case)
    data = failed["data"] if failed else {}
    for row in follow_ups:  # a refused row keeps what was typed into it
        row.pk_str = str(row.pk)
        row.failed_data = data if failed and failed["section"] == f"follow_up_{row.pk}" else None
    now = timezone.now()
    return {
        "incident": incident,
        "follow_ups": follow_ups,
        "open_follow_ups": sum(f.status == FollowUpStatus.OPEN for f in follow_ups),
        "gaps": linked,
        "harms": [HarmType(h).label for h in incident.harm_types if h in HarmType.values],
        "case": incident.regression_case,
        "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
        "closed": incident.status == IncidentStatus.CLOSED,
        "status_choices": IncidentStatus.choices,
        "follow_up_form": FollowUpForm(
            data if failed and failed["section"] == "follow_up_add" else None,
            organization=org,
        ),
        "follow_up_statuses": FollowUpStatus.choices,
        "case_form": RegressionCaseForm(
            data if failed and failed["section"] == "case" else None,
            incident=incident,
            initial={
                "prompt": incident.steps_to_reproduce or incident.actual,
                "expected_behavior": incident.expected,
            },
        ),
        "gap_form": IncidentGapForm(
            data if failed and failed["section"] == "gap" else None,
            initial={"question": incident.title},
        ),
        "link_form": IncidentGapLinkForm(gaps=candidates, initial={"gaps": [g.pk for g in linked]}),
        "has_candidates": candidates.exists(),
        "remind_at": incidents.reminder_due_at(incident),
        "overdue": bool(
            incident.deadline_at
            and incident.deadline_at < now
            and incident.complete_report_at is None
        ),
        "failed": failed,
        "now": now,
    }


def _refused(request, incident, section: str, errors) -> object:
    """The page again, status 400, with the refused form in place: its errors beside it and
    what was typed kept (a redirect would lose both, and show the message out of sight)."""
    failed = {"section": section, "errors": list(errors), "data": request.POST}
    context = detail_context(request, incident, failed)
    return render_page(request, "governance/incidents/detail.html", context, status=400)


class IncidentDetailView(OrgView):
    permission = Action.VIEW
    scoped_objects = INCIDENT

    def get(self, request, incident):
        return render_page(
            request, "governance/incidents/detail.html", detail_context(request, incident)
        )


class IncidentStatusView(OrgView):
    permission = POST_EDIT
    scoped_objects = INCIDENT

    def post(self, request, incident):
        form = IncidentStatusForm(request.POST)
        if not form.is_valid():
            return _refused(request, incident, "status", _form_error_list(form))
        try:
            incidents.incident_set_status(
                actor=request.actor, incident=incident, status=form.cleaned_data["status"]
            )
        except ValidationError as exc:
            return _refused(request, incident, "status", exc.messages)
        else:
            label = IncidentStatus(form.cleaned_data["status"]).label.lower()
            messages.success(request, f"{incident.key} is {label}.")
        return _detail(request, incident)


class IncidentReportView(OrgView):
    """Record that the initial or the complete Article 73 report was sent."""

    permission = POST_EDIT
    scoped_objects = INCIDENT

    def post(self, request, incident):
        form = IncidentReportForm(request.POST)
        if not form.is_valid():
            return _refused(request, incident, "report", _form_error_list(form))
        which = form.cleaned_data["which"]
        try:
            incidents.incident_record_report(
                actor=request.actor, incident=incident, which=which, at=form.cleaned_data["at"]
            )
        except ValidationError as exc:
            return _refused(request, incident, "report", exc.messages)
        else:
            messages.success(request, f"The {which} report of {incident.key} is recorded.")
        return _detail(request, incident, "#clock")


class FollowUpAddView(OrgView):
    permission = POST_EDIT
    scoped_objects = INCIDENT

    def post(self, request, incident):
        form = FollowUpForm(request.POST, organization=request.organization)
        if not form.is_valid():
            return _refused(request, incident, "follow_up_add", _form_error_list(form))
        try:
            incidents.follow_up_add(actor=request.actor, incident=incident, data=form.cleaned_data)
        except ValidationError as exc:
            return _refused(request, incident, "follow_up_add", exc.messages)
        else:
            messages.success(request, "Follow-up added.")
        return _detail(request, incident, "#follow-ups")


class FollowUpUpdateView(OrgView):
    permission = POST_EDIT
    scoped_objects = FOLLOW_UP

    def post(self, request, incident, follow_up):
        form = FollowUpStatusForm(request.POST)
        if not form.is_valid():
            return _refused(request, incident, f"follow_up_{follow_up.pk}", _form_error_list(form))
        try:
            incidents.follow_up_update(
                actor=request.actor, follow_up=follow_up, data=form.cleaned_data
            )
        except ValidationError as exc:
            return _refused(request, incident, f"follow_up_{follow_up.pk}", exc.messages)
        else:
            label = FollowUpStatus(form.cleaned_data["status"]).label.lower()
            messages.success(request, f"“{follow_up.title[:60]}” is {label}.")
        return _detail(request, incident, "#follow-ups")


class RegressionCaseView(OrgView):
    """ "Add regression case": the incident as a case of the use case's eval plan."""

    permission = POST_EDIT
    scoped_objects = INCIDENT

    def post(self, request, incident):
        form = RegressionCaseForm(request.POST, incident=incident)
        if not form.is_valid():
            return _refused(request, incident, "case", _form_error_list(form))
        data = form.cleaned_data
        try:
            case = incidents.incident_add_regression_case(
                actor=request.actor, incident=incident, plan=data["plan"], data=data
            )
        except ValidationError as exc:
            return _refused(request, incident, "case", exc.messages)
        else:
            messages.success(
                request,
                f"{case.key} added to {data['plan'].name}: the next run tests it, and "
                "it stays in the plan as a regression case.",
            )
        return _detail(request, incident, "#loop")


class IncidentGapView(OrgView):
    """ "Open context gap": a question for the SMEs, detected by this incident."""

    permission = POST_EDIT
    scoped_objects = INCIDENT

    def post(self, request, incident):
        form = IncidentGapForm(request.POST)
        if not form.is_valid():
            return _refused(request, incident, "gap", _form_error_list(form))
        try:
            gap = incidents.incident_open_gap(
                actor=request.actor, incident=incident, question=form.cleaned_data["question"]
            )
        except ValidationError as exc:
            return _refused(request, incident, "gap", exc.messages)
        else:
            messages.success(
                request, f"{gap.key} opened in the context loop and linked as a contributing gap."
            )
        return _detail(request, incident, "#loop")


class IncidentGapLinkView(OrgView):
    permission = POST_EDIT
    scoped_objects = INCIDENT

    def post(self, request, incident):
        gaps = context_selectors.gaps_of(request.organization, use_case=incident.use_case)
        form = IncidentGapLinkForm(request.POST, gaps=gaps)
        if not form.is_valid():
            return _refused(request, incident, "gaps", _form_error_list(form))
        try:
            incidents.incident_link_gaps(
                actor=request.actor,
                incident=incident,
                gap_ids=[g.pk for g in form.cleaned_data["gaps"]],
            )
        except ValidationError as exc:
            return _refused(request, incident, "gaps", exc.messages)
        else:
            messages.success(request, "Contributing gaps saved.")
        return _detail(request, incident, "#analysis")
