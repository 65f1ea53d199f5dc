"""The unified backlog pages: `/o/<org>/backlog/` for the organization and
`/o/<org>/use-cases/<n>/backlog/` for one use case; feature items, the member's own rank,
saved views and the CSV."""

from __future__ import annotations

import copy
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from genai_po import inputs
from genai_po.base_views import OrgView, Scoped
from genai_po.csv_export import csv_response, safe_cell
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from usecases import backlog, backlog_services
from usecases.backlog_forms import BacklogFilterForm, BacklogItemForm, BacklogViewForm
from usecases.models import BacklogItem, BacklogItemStatus, BacklogView, UseCase

PAGE_SIZE = 100
USE_CASE = {"use_case": Scoped(UseCase, "number")}


def _query(request, **changes) -> str:
    """The current filters (or saved view) as a query string, with `changes` applied (None
    drops a key)."""
    params = {k: request.GET.getlist(k) for k in ("view", "kind", "owner", "use_case", "order")}
    for key, value in changes.items():
        params[key] = [] if value is None else [value]
    return urlencode([(k, v) for k, values in params.items() for v in values if v])


def backlog_context(request, *, use_case=None) -> dict:
    """Everything the backlog page shows, from the request's filters."""
    org = request.organization
    saved = None
    view_id = inputs.id_or_none(request.GET.get("view", ""))
    data = request.GET
    if view_id is not None:
        saved = BacklogView.objects.for_org(org).filter(pk=view_id, user=request.user).first()
        if saved is not None:
            data = saved.filters
    form = BacklogFilterForm(data or None, organization=org, fixed_use_case=use_case)
    filters = form.filters() if data else {"kinds": [], "owner_id": "", "use_case_number": None,
                                           "order": "suggested"}  # fmt: skip
    scope = use_case
    if scope is None and filters["use_case_number"] is not None:
        scope = UseCase.objects.for_org(org).filter(number=filters["use_case_number"]).first()
    if scope is None and filters["use_case_number"] is not None:
        result = backlog.Backlog(entries=[])  # a use case that is not there has no backlog
    else:
        result = backlog.backlog_of(
            org, use_case=scope, kinds=filters["kinds"], owner_id=filters["owner_id"],
            user=request.user, order=filters["order"],
        )  # fmt: skip
    entries = result.entries
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    start = page.start_index() - 1 if entries else 0
    rows = []
    for offset, entry in enumerate(page.object_list):
        index = start + offset
        rows.append(
            {
                "entry": entry,
                "age": entry.age_days(now),
                "ranked": entry.ref in result.ranked,
                "position": index + 1,
                "before": entries[index - 1].ref if index > 0 else "",
                "after": entries[index + 1].ref if index + 1 < len(entries) else "",
            }
        )
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.kind_label] = counts.get(entry.kind_label, 0) + 1
    return {
        "use_case": use_case,
        "rows": rows,
        "page": page,
        "count": len(entries),
        "total": result.total,
        "counts": sorted(counts.items()),
        "form": form,
        "order": filters["order"],
        "saved": saved,
        "views": BacklogView.objects.for_org(org).filter(user=request.user),
        "query": _query(request, page=None),
        "filter_params": [
            (k, v) for k in ("kind", "owner", "use_case", "order") for v in request.GET.getlist(k)
        ],  # fmt: skip
        "csv_query": _query(request, page=None),
        "formula": backlog.SCORE_FORMULA,
        "formula_help": backlog.SCORE_HELP,
        "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
        "filtered": bool(
            filters["kinds"] or filters["owner_id"] != "" or filters["use_case_number"]
        ),  # fmt: skip
    }


class BacklogPageView(OrgView):
    """GET the backlog (filters in the query string); POST a new feature item."""

    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}

    def _render(self, request, use_case=None, item_form=None, status=200):
        context = backlog_context(request, use_case=use_case)
        context["item_form"] = item_form or BacklogItemForm(
            organization=request.organization,
            initial={"use_case": str(use_case.number)} if use_case else None,
        )
        return render_page(request, "usecases/backlog.html", context, partial="backlog",
                           status=status)  # fmt: skip

    def get(self, request, use_case=None):
        return self._render(request, use_case)

    def post(self, request, use_case=None):
        form = BacklogItemForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                item = backlog_services.backlog_item_create(
                    actor=request.actor, data=form.service_data()
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{item.key} added to the backlog.")
                return redirect(request.get_full_path())
        return self._render(request, use_case, item_form=form, status=400)


class UseCaseBacklogView(BacklogPageView):
    """The backlog of one use case."""

    scoped_objects = USE_CASE


class BacklogCsvView(OrgView):
    """The backlog as CSV, with the filters of the page."""

    permission = Action.VIEW

    def get(self, request, use_case=None):
        context = backlog_context(request, use_case=use_case)
        now = timezone.now()
        entries = context["page"].paginator.object_list
        header = ["rank", "kind", "key", "title", "use_case", "impact", "urgency", "effort",
                  "score", "age_days", "owner", "why", "url"]  # fmt: skip
        base = request.build_absolute_uri("/")[:-1]
        rows = (
            [
                position,
                e.kind_label,
                e.key,
                e.title,
                e.use_case.key if e.use_case else "",
                e.impact,
                e.urgency,
                e.effort,
                e.score,
                e.age_days(now),
                e.owner_name,
                e.why,
                base + e.url,
            ]  # fmt: skip
            for position, e in enumerate(entries, start=1)
        )
        name = f"backlog-{use_case.key if use_case else request.organization.slug}.csv"
        return csv_response(
            ([safe_cell(cell) for cell in row] for row in rows), header=header, filename=name
        )


class UseCaseBacklogCsvView(BacklogCsvView):
    scoped_objects = USE_CASE


def _posted_use_case(request):
    """The use case whose backlog page posted (a hidden `use_case` number), if any."""
    number = inputs.id_or_none(request.POST.get("use_case", ""))
    if number is None:
        return None
    return UseCase.objects.for_org(request.organization).filter(number=number).first()


class BacklogRankView(OrgView):
    """POST `ref` with `before`, `after` or `top`: place an entry in the member's own rank
    (drag and drop posts it with htmx; the ↑ ↓ buttons post it as a form)."""

    permission = Action.EDIT_PRODUCT

    def post(self, request):
        use_case = _posted_use_case(request)
        try:
            backlog_services.backlog_rank_move(
                actor=request.actor,
                ref=request.POST.get("ref", ""),
                before=request.POST.get("before", ""),
                after=request.POST.get("after", ""),
                to_top=bool(request.POST.get("top")),
            )
        except ValidationError as exc:
            message = " ".join(exc.messages)
            if request.htmx:
                page = _page_request(request, _back(request))
                context = backlog_context(page, use_case=use_case)
                context["rank_error"] = message
                return render_page(page, "usecases/backlog.html", context,
                                   partial="backlog", status=400)  # fmt: skip
            messages.error(request, message)
        back = _in_my_rank(_back(request))
        if request.htmx:
            # The list swapped in is the one of the page the move was made on, in my rank.
            page = _page_request(request, back)
            response = render_page(
                page, "usecases/backlog.html",
                backlog_context(page, use_case=use_case), partial="backlog",
            )  # fmt: skip
            response["HX-Push-Url"] = back
            return response
        return redirect(back)


class BacklogRankResetView(OrgView):
    permission = Action.EDIT_PRODUCT

    def post(self, request):
        backlog_services.backlog_rank_reset(actor=request.actor)
        messages.success(request, "Your own rank is cleared: the backlog follows the suggestion.")
        return redirect(_back(request))


def _in_my_rank(url: str) -> str:
    """The page `url` in the member's own rank, the one order in which a move shows."""
    parts = urlsplit(url)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "order"]
    return f"{parts.path}?{urlencode([*params, ('order', 'mine')])}"


def _page_request(request, url: str):
    """`request` as a GET of the page `url` reads it (its filters, its path: the partial's
    links and forms point back there, not at the rank URL)."""
    parts = urlsplit(url)
    page = copy.copy(request)
    page.GET = QueryDict(parts.query)
    page.path = parts.path
    page.META = {**request.META, "QUERY_STRING": parts.query}
    return page


def _back(request) -> str:
    """The backlog page the form came from (`next`), if it is a page of this organization;
    else the organization's backlog."""
    back = request.POST.get("next", "")
    prefix = f"/o/{request.organization.slug}/"
    if back.startswith(prefix) and "//" not in back and "\\" not in back and back.isprintable():
        return back
    return reverse("backlog", args=[request.organization.slug])


class BacklogViewSaveView(OrgView):
    """POST `name` and the filters: save them as one of the member's views."""

    permission = Action.VIEW

    def post(self, request):
        use_case = _posted_use_case(request)
        form = BacklogViewForm(request.POST)
        filters = BacklogFilterForm(
            request.POST, organization=request.organization, fixed_use_case=use_case
        )
        filters.is_valid()
        data = {k: v for k, v in getattr(filters, "cleaned_data", {}).items() if v}
        if use_case is not None:
            data["use_case"] = str(use_case.number)
        if not form.is_valid():
            messages.error(request, "Name the view (at most 80 characters).")
            return redirect(_back(request))
        try:
            view = backlog_services.backlog_view_save(
                actor=request.actor, name=form.cleaned_data["name"], filters=data
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(_back(request))
        messages.success(request, f"View “{view.name}” saved.")
        return redirect(f"{reverse('backlog', args=[request.organization.slug])}?view={view.pk}")


class BacklogViewDeleteView(OrgView):
    permission = Action.VIEW
    scoped_objects = {"view": BacklogView}

    def post(self, request, view):
        if view.user_id != request.user.pk:
            raise Http404("No such view here.")
        backlog_services.backlog_view_delete(actor=request.actor, view=view)
        messages.success(request, f"View “{view.name}” deleted.")
        return redirect("backlog", request.organization.slug)


class BacklogItemView(OrgView):
    """A feature item: GET its page, POST changes, or POST `status` to close or reopen."""

    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}
    scoped_objects = {"item": Scoped(BacklogItem, "number")}

    def _render(self, request, item, form=None, status=200):
        org = request.organization
        return render_page(
            request, "usecases/backlog_item.html",
            {"item": item,
             "form": form or BacklogItemForm(organization=org,
                                             initial=BacklogItemForm.initial_of(item)),
             "statuses": BacklogItemStatus,
             "can_edit": role_can(request.role, Action.EDIT_PRODUCT)},
            status=status,
        )  # fmt: skip

    def get(self, request, item):
        return self._render(request, item)

    def post(self, request, item):
        if "status" in request.POST:
            try:
                item = backlog_services.backlog_item_set_status(
                    actor=request.actor, item=item, status=request.POST["status"]
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                label = BacklogItemStatus(item.status).label.lower()
                messages.success(request, f"{item.key} is {label}.")
            return redirect("backlog_item", request.organization.slug, item.number)
        form = BacklogItemForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                backlog_services.backlog_item_update(
                    actor=request.actor, item=item, data=form.service_data()
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{item.key} saved.")
                return redirect("backlog_item", request.organization.slug, item.number)
        item.refresh_from_db()
        return self._render(request, item, form, status=400)
