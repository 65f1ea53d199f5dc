"""The audit trail pages: filtered, paginated, exported as CSV."""

import json

from django.core.paginator import Paginator
from django.shortcuts import render

from genai_po.audit import audit_created_at, chain_head_of
from genai_po.base_views import OrgView
from genai_po.csv_export import csv_response, safe_cell
from genai_po.forms import AuditFilterForm
from genai_po.models import AuditEvent
from genai_po.roles import Action
from governance.selectors import audit_event_rows, audit_events_filtered, audit_filter_choices

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


class AuditExportView(OrgView):
    permission = Action.VIEW_AUDIT

    def get(self, request):
        _, events = _filtered_events(request)
        rows = (
            [
                e.seq, audit_created_at(e.created_at), safe_cell(e.actor_label), e.actor_role,
                e.action, e.object_type, e.object_id, safe_cell(_json(e.before)),
                safe_cell(_json(e.after)), e.request_id, e.ip or "", e.prev_hash, e.key_id, e.hash,
            ]
            for e in events.iterator(chunk_size=2000)
        )  # fmt: skip
        return csv_response(
            rows, header=CSV_COLUMNS, filename=f"audit-{request.organization.slug}.csv"
        )


def _json(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True)
