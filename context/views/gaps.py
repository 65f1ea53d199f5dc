"""Context gaps: the list every open question shows in with its SLA state, the gap page
(question, evidence, suggestions, answers, history, before and after), and the product
owner's actions on it."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect

from context import selectors, services
from context.forms import GapForm, GapStatusForm, KnowledgeUseForm, RouteForm
from context.models import (
    OPEN_GAP_STATUSES,
    AnswerStatus,
    ContextGap,
    GapStatus,
)
from context.services.answers import may_answer, may_review
from genai_po import inputs
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from usecases.models import UseCase

EDIT = {"GET": Action.EDIT_PRODUCT, "POST": Action.EDIT_PRODUCT}
GAP = {"gap": Scoped(ContextGap, "number")}


class GapListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        params = request.GET
        org = request.organization
        status = params.get("status", "waiting")
        use_case = None
        if number := inputs.id_or_none(params.get("use_case", "")):
            use_case = UseCase.objects.for_org(org).filter(number=number).first()
        rows = selectors.gaps_of(
            org,
            status=status if status in GapStatus.values else "",
            open_only=status == "waiting",
            use_case=use_case,
            q=params.get("q", "").strip()[:100],
        )
        page = Paginator(rows, 50).get_page(params.get("page"))
        for gap in page:
            gap.sla = selectors.sla_state(gap)
        query = params.copy()
        query.pop("page", None)
        return render_page(
            request,
            "context/gaps/list.html",
            {
                "page": page,
                "query": query.urlencode(),
                "filters": params,
                "status": status,
                "statuses": GapStatus.choices,
                "use_case": use_case,
                "use_cases": UseCase.objects.for_org(org)
                .filter(archived_at__isnull=True)
                .order_by("number"),
                "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
                "any_filter": any(params.get(k) for k in ("use_case", "q")) or status != "waiting",
            },
            partial="results",
        )


def _gap_data(form) -> dict:
    data = form.cleaned_data
    return {
        "question": data["question"],
        "severity": data["severity"],
        "priority": data.get("priority", ""),
        "tags": data["tags"],
        "use_cases": list(data["use_cases"]),
        "requirements": list(data["requirements"]),
    }


class GapCreateView(OrgView):
    permission = {"GET": Action.ANSWER_SME, "POST": Action.ANSWER_SME}

    def get(self, request):
        form = GapForm(organization=request.organization)
        return render_page(request, "context/gaps/form.html", {"form": form, "gap": None})

    def post(self, request):
        form = GapForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                gap = services.gap_create(
                    actor=request.actor,
                    detected_by=form.cleaned_data["detected_by"],
                    **_gap_data(form),
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(
                    request, f"{gap.key} recorded. Check the suggestions, then route it to an SME."
                )
                return redirect("gap_detail", request.organization.slug, gap.number)
        return render_page(
            request, "context/gaps/form.html", {"form": form, "gap": None}, status=400
        )


class GapEditView(OrgView):
    permission = EDIT
    scoped_objects = GAP

    def get(self, request, gap):
        form = GapForm(
            organization=request.organization,
            edit=True,
            initial={
                "question": gap.question,
                "severity": gap.severity,
                "priority": gap.priority if gap.priority_by_hand else "",
                "tags": ", ".join(gap.tag_links.values_list("tag__name", flat=True)),
                "use_cases": [link.use_case_id for link in gap.use_case_links.all()],
                "requirements": [link.requirement_id for link in gap.requirement_links.all()],
            },
        )
        return render_page(request, "context/gaps/form.html", {"form": form, "gap": gap})

    def post(self, request, gap):
        form = GapForm(request.POST, organization=request.organization, edit=True)
        if form.is_valid():
            data = _gap_data(form)
            try:
                services.gap_update(
                    actor=request.actor,
                    gap=gap,
                    tags=data.pop("tags"),
                    use_cases=data.pop("use_cases"),
                    requirements=data.pop("requirements"),
                    data=data,
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{gap.key} saved.")
                return redirect("gap_detail", request.organization.slug, gap.number)
        return render_page(
            request, "context/gaps/form.html", {"form": form, "gap": gap}, status=400
        )


class GapDetailView(OrgView):
    permission = Action.VIEW
    scoped_objects = GAP

    def get(self, request, gap):
        org = request.organization
        role = request.role
        answers = list(
            gap.answers.select_related("author")
            .prefetch_related("reviews", "citation_links__source")
            .order_by("-created_at")
        )
        suggestions = (
            selectors.suggestions_for(org, gap.question, exclude_gap=gap)
            if gap.status in OPEN_GAP_STATUSES
            else {"gaps": [], "knowledge": []}
        )
        in_review = next((a for a in answers if a.status == AnswerStatus.IN_REVIEW), None)
        return render_page(
            request,
            "context/gaps/detail.html",
            {
                "gap": gap,
                "sla": selectors.sla_state(gap),
                "evidence": selectors.evidence_of(gap),
                "tags": list(gap.tag_links.values_list("tag__name", flat=True)),
                "use_cases": [
                    link.use_case for link in gap.use_case_links.select_related("use_case")
                ],
                "requirements": [
                    link.requirement
                    for link in gap.requirement_links.select_related("requirement__use_case")
                ],
                "answers": answers,
                "in_review": in_review,
                "events": list(gap.events.all()),
                "verification": selectors.latest_verification(gap),
                "suggestions": suggestions,
                "route_form": RouteForm(organization=org),
                "route": services.route_for(gap) if gap.status == GapStatus.OPEN else None,
                "status_form": GapStatusForm(),
                "use_form": KnowledgeUseForm(organization=org),
                "can_edit": role_can(role, Action.EDIT_PRODUCT),
                "can_route": role_can(role, Action.EDIT_PRODUCT)
                and gap.status in (GapStatus.OPEN, GapStatus.ROUTED, GapStatus.ANSWERED),
                "can_answer": may_answer(request.actor, gap)
                and gap.status in (GapStatus.OPEN, GapStatus.ROUTED, GapStatus.ANSWERED)
                and in_review is None,
                "can_review": in_review is not None and may_review(request.actor, in_review),
            },
        )


class GapRouteView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = GAP

    def post(self, request, gap):
        form = RouteForm(request.POST, organization=request.organization)
        if not form.is_valid():
            messages.error(request, "Choose a member who can answer SME questions.")
            return redirect("gap_detail", request.organization.slug, gap.number)
        try:
            gap = services.gap_route(
                actor=request.actor,
                gap=gap,
                assignee=form.cleaned_data["assignee"],
                backup=form.cleaned_data["backup"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"{gap.key} is in {gap.assigned_to.display_name}'s inbox, "
                f"due {gap.due_at:%a %d %b %H:%M}.",
            )
        return redirect("gap_detail", request.organization.slug, gap.number)


class GapStatusView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = GAP

    def post(self, request, gap):
        form = GapStatusForm(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
            return redirect("gap_detail", request.organization.slug, gap.number)
        duplicate_of = None
        if number := form.cleaned_data.get("duplicate_of"):
            duplicate_of = (
                ContextGap.objects.for_org(request.organization).filter(number=number).first()
            )
            if duplicate_of is None:
                messages.error(request, f"There is no GAP-{number}.")
                return redirect("gap_detail", request.organization.slug, gap.number)
        try:
            gap = services.gap_set_status(
                actor=request.actor,
                gap=gap,
                status=form.cleaned_data["status"],
                resolution=form.cleaned_data["resolution"],
                duplicate_of=duplicate_of,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if gap.duplicate_of_id:
                text = f"{gap.key} is a duplicate of {gap.duplicate_of.key}: its evidence is there."
            else:
                text = f"{gap.key} is {gap.get_status_display().lower()}."
            messages.success(request, text)
        return redirect("gap_detail", request.organization.slug, gap.number)


class GapUseKnowledgeView(OrgView):
    """Reuse published knowledge for this gap: no expert is asked again."""

    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = GAP

    def post(self, request, gap):
        form = KnowledgeUseForm(request.POST, organization=request.organization)
        if not form.is_valid():
            messages.error(request, "Choose published knowledge.")
            return redirect("gap_detail", request.organization.slug, gap.number)
        item = form.cleaned_data["knowledge"]
        try:
            gap = services.gap_resolve_with_knowledge(actor=request.actor, gap=gap, item=item)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request, f"{gap.key} is answered by {item.key}: its cases run again now."
            )
        return redirect("gap_detail", request.organization.slug, gap.number)
