"""The audit trail pages: the organization's, a use case's and a release's; filtered,
paginated, exported as CSV, and the chain verified on demand by an admin."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from genai_po.audit import audit_chain_verify, audit_created_at, chain_head_of
from genai_po.base_views import OrgView, Scoped
from genai_po.csv_export import csv_response, safe_cell
from genai_po.forms import AuditFilterForm
from genai_po.models import AuditEvent
from genai_po.roles import Action, role_can
from governance import selectors
from governance.models import Release
from governance.selectors import audit_event_rows, audit_events_filtered, audit_filter_choices
from usecases.models import UseCase

CSV_COLUMNS = list(AuditEvent.PUBLIC_FIELDS)


def _filtered_events(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = audit_events_filtered(organization=request.organization, **filters)
    return form, events


class AuditListView(OrgView):
    permission = Action.VIEW_AUDIT

    def get(self, request):
        form, events = _filtered_events(request)
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "governance/audit.html",
            {
                "form": form,
                "page": page,
                "rows": audit_event_rows(page.object_list),
                "filtered": bool(form.is_bound and any(form.data.get(f) for f in form.fields)),
                "choices": audit_filter_choices(organization=request.organization),
                "query": query.urlencode(),
                "head": chain_head_of(request.organization),
            },
        )


def _csv(events, filename: str, *, with_request: bool = True):
    """The events as CSV; without `with_request` (not an admin), no request id and no IP."""
    rows = (
        [
            e.seq, audit_created_at(e.created_at), safe_cell(e.actor_label), e.actor_role,
            e.action, e.object_type, e.object_id, safe_cell(_json(e.before)),
            safe_cell(_json(e.after)), e.request_id if with_request else "",
            (e.ip or "") if with_request else "", e.prev_hash, e.key_id, e.hash,
        ]
        for e in events.iterator(chunk_size=2000)
    )  # fmt: skip
    return csv_response(rows, header=CSV_COLUMNS, filename=filename)


class AuditExportView(OrgView):
    permission = Action.VIEW_AUDIT

    def get(self, request):
        _, events = _filtered_events(request)
        return _csv(events, f"audit-{request.organization.slug}.csv")


class ScopedAuditView(OrgView):
    """The trail of one use case or one release, for whoever reviews it: the product
    owner, the reviewers, the admins. Who did what, when, before and after; the admins
    also see the request and verify the chain."""

    permission = {"GET": Action.VIEW}  # and one of READERS, checked in get()
    READERS = (Action.EDIT_PRODUCT, Action.SIGN_OFF, Action.VIEW_AUDIT)
    export = False

    def scope(self, request, **kwargs) -> tuple[dict, dict]:
        """(object pairs, page context: title, back link, export link, file name)."""
        raise NotImplementedError

    def get(self, request, **kwargs):
        if not any(role_can(request.role, a) for a in self.READERS):
            raise PermissionDenied("Your role does not allow this: read this audit trail.")
        pairs, page_context = self.scope(request, **kwargs)
        form = AuditFilterForm(request.GET or None)
        filters = form.cleaned_data if form.is_valid() else {}
        events = selectors.scoped_audit_events(request.organization, pairs, **filters)
        if self.export:
            return _csv(
                events,
                page_context["filename"],
                with_request=role_can(request.role, Action.VIEW_AUDIT),
            )
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        scoped = selectors.scoped_audit_events(request.organization, pairs)
        return render(
            request,
            "governance/audit_scoped.html",
            {
                **page_context,
                "form": form,
                "page": page,
                "rows": audit_event_rows(page.object_list),
                "filtered": bool(form.is_bound and any(form.data.get(f) for f in form.fields)),
                "choices": {
                    "actions": sorted(set(scoped.values_list("action", flat=True))),
                    "object_types": sorted(set(scoped.values_list("object_type", flat=True))),
                },
                "query": query.urlencode(),
                "is_admin": role_can(request.role, Action.VIEW_AUDIT),
            },
        )


class UseCaseAuditView(ScopedAuditView):
    scoped_objects = {"use_case": Scoped(UseCase, "number")}

    def scope(self, request, use_case):
        slug = request.organization.slug
        return selectors.use_case_audit_objects(request.organization, use_case), {
            "title": f"Audit trail of {use_case.key}",
            "subject": f"{use_case.key} {use_case.title}",
            "back": reverse("usecase_detail", args=[slug, use_case.number]),
            "export_url": reverse("use_case_audit_export", args=[slug, use_case.number]),
            "filename": f"audit-{slug}-{use_case.key}.csv",
            "covers": "its brief, PRD and requirements, eval plans, cases, runs and triage, "
            "context gaps, answers, sources and knowledge, releases with their checklists, "
            "HITL policies and incidents",
        }


class ReleaseAuditView(ScopedAuditView):
    scoped_objects = {"release": Scoped(Release, "number")}

    def scope(self, request, release):
        slug = request.organization.slug
        return selectors.release_audit_objects(request.organization, release), {
            "title": f"Audit trail of {release.key}",
            "subject": f"{release.key} {release.name}",
            "back": reverse("release_detail", args=[slug, release.number]),
            "export_url": reverse("release_audit_export", args=[slug, release.number]),
            "filename": f"audit-{slug}-{release.key}.csv",
            "covers": "the release, its checklist items, waivers and sign-offs",
        }


class ChainVerifyView(OrgView):
    """An admin walks the organization's whole chain now and reads the verdict."""

    permission = {"POST": Action.VIEW_AUDIT}

    def post(self, request):
        report = audit_chain_verify(organization=request.organization)
        if report.ok:
            messages.success(
                request,
                f"The audit chain is intact: {report.events_checked:,} event"
                f"{'s' if report.events_checked != 1 else ''} checked, head "
                f"{report.head_seq}:{report.head_hash[:16]}…",
            )
        else:
            messages.error(
                request,
                f"The audit chain is broken at event #{report.broken_seq}: {report.reason}.",
            )
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("audit", args=[request.organization.slug])
        return redirect(back)


def _json(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True)
