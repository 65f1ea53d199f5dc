"""The context inventory: sources per organization and per use case, filterable, stale
first; "mark verified" is one click."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers

from context import selectors, services
from context.forms import ApprovalForm, SourceForm
from context.models import ApprovalStatus, ContextSource, Freshness, SourceType
from genai_po import inputs
from genai_po.base_views import OrgView
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from usecases.models import UseCase

EDIT = {"GET": Action.EDIT_PRODUCT, "POST": Action.EDIT_PRODUCT}
SOURCE = {"source": ContextSource}


def _choice(value: str, choices) -> str:
    return value if value in choices else ""


class SourceListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        params = request.GET
        org = request.organization
        use_case = None
        if number := inputs.id_or_none(params.get("use_case", "")):
            use_case = UseCase.objects.for_org(org).filter(number=number).first()
        rows = selectors.sources_of(
            org,
            use_case=use_case,
            freshness=_choice(params.get("freshness", ""), Freshness.values),
            approval=_choice(params.get("approval", ""), ApprovalStatus.values),
            source_type=_choice(params.get("type", ""), SourceType.values),
            q=params.get("q", "").strip()[:100],
        )
        page = Paginator(rows, 50).get_page(params.get("page"))
        query = params.copy()
        query.pop("page", None)
        return render_page(
            request,
            "context/sources/list.html",
            {
                "page": page,
                "query": query.urlencode(),
                "filters": params,
                "use_case": use_case,
                "use_cases": UseCase.objects.for_org(org)
                .filter(archived_at__isnull=True)
                .order_by("number"),
                "freshness_choices": Freshness.choices,
                "approval_choices": ApprovalStatus.choices,
                "type_choices": SourceType.choices,
                "counts": selectors.freshness_counts(org),
                "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
                "can_verify": role_can(request.role, Action.ANSWER_SME),
                "any_filter": any(
                    params.get(k) for k in ("use_case", "freshness", "approval", "type", "q")
                ),
            },
            partial="results",
        )


def _links_of(form) -> dict:
    return {
        "use_cases": list(form.cleaned_data["use_cases"]),
        "smes": list(form.cleaned_data["smes"]),
    }


class SourceCreateView(OrgView):
    permission = EDIT

    def get(self, request):
        initial = {}
        if number := inputs.id_or_none(request.GET.get("use_case", "")):
            initial["use_cases"] = UseCase.objects.for_org(request.organization).filter(
                number=number
            )
        form = SourceForm(organization=request.organization, initial=initial)
        return render_page(request, "context/sources/form.html", {"form": form, "source": None})

    def post(self, request):
        form = SourceForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                source = services.source_create(
                    actor=request.actor, data=form.service_data(), **_links_of(form)
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(
                    request,
                    f"{source.name} added to the inventory, proposed. "
                    "Approve it when it is fit for the AI to use.",
                )
                return redirect("source_list", request.organization.slug)
        return render_page(
            request, "context/sources/form.html", {"form": form, "source": None}, status=400
        )


class SourceEditView(OrgView):
    permission = EDIT
    scoped_objects = SOURCE

    def _initial(self, source) -> dict:
        return {
            "name": source.name,
            "source_type": source.source_type,
            "location": source.location,
            "description": source.description,
            "owner": source.owner_id,
            "steward": source.steward_id,
            "classification": source.classification,
            "review_every_days": source.review_every_days,
            "smes": [link.user_id for link in source.sme_links.all()],
            "use_cases": [link.use_case_id for link in source.use_case_links.all()],
        }

    def get(self, request, source):
        form = SourceForm(organization=request.organization, initial=self._initial(source))
        return render_page(
            request,
            "context/sources/form.html",
            {
                "form": form,
                "source": source,
                "approval_form": ApprovalForm(initial={"approval_status": source.approval_status}),
            },
        )

    def post(self, request, source):
        form = SourceForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                services.source_update(
                    actor=request.actor, source=source, data=form.service_data(), **_links_of(form)
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{source.name} saved.")
                return redirect("source_list", request.organization.slug)
        return render_page(
            request,
            "context/sources/form.html",
            {
                "form": form,
                "source": source,
                "approval_form": ApprovalForm(initial={"approval_status": source.approval_status}),
            },
            status=400,
        )


class SourceApprovalView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = SOURCE

    def post(self, request, source):
        form = ApprovalForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose an approval status.")
        else:
            source = services.source_set_approval(
                actor=request.actor, source=source, status=form.cleaned_data["approval_status"]
            )
            messages.success(request, f"{source.name} is {source.get_approval_status_display()}.")
        return redirect("source_edit", request.organization.slug, source.pk)


class SourceVerifyView(OrgView):
    """One click: the source was checked today. htmx swaps its row."""

    permission = {"POST": Action.ANSWER_SME}
    scoped_objects = SOURCE

    def post(self, request, source):
        source = services.source_mark_verified(actor=request.actor, source=source)
        if request.htmx:
            source = selectors.sources_of(request.organization).get(pk=source.pk)
            context = {
                "source": source,
                "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
                "can_verify": True,
                "counts": selectors.freshness_counts(request.organization),
                "oob": True,
            }
            row = render_to_string("context/sources/list.html#row", context, request=request)
            counts = render_to_string("context/sources/list.html#counts", context, request=request)
            response = HttpResponse(row + counts)
            patch_vary_headers(response, ["HX-Request"])
            return response
        messages.success(
            request, f"{source.name} verified: next review by {source.next_review_due:%d %b %Y}."
        )
        return redirect("source_list", request.organization.slug)
