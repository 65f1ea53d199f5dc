"""Use-case briefs: the list, creating and editing, the detail page (the use case's
home), lifecycle moves through gates, and the prioritization scores."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect

from genai_po import inputs
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from usecases import gates, scoring, selectors, services
from usecases.forms import ScoresForm, StageMoveForm, UseCaseForm, member_choices
from usecases.models import (
    RISK_TIER_HINTS,
    STAGE_ORDER,
    RiskTier,
    Stage,
    StageTransition,
    UseCase,
    UseCaseStatus,
)
from usecases.panels import USE_CASE_PANELS

EDIT = {"GET": Action.EDIT_PRODUCT, "POST": Action.EDIT_PRODUCT}
USE_CASE = {"use_case": Scoped(UseCase, "number")}


class UseCaseListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        params = request.GET
        owner = params.get("owner", "")
        use_cases = selectors.use_cases_filtered(
            organization=request.organization,
            stage=params.get("stage", "") if params.get("stage") in Stage.values else "",
            owner=inputs.id_or_none(owner),
            status=params.get("status", "") if params.get("status") in UseCaseStatus.values else "",
            q=params.get("q", "").strip()[:100],
            archived=params.get("archived") == "1",
            sort=params.get("sort", "rank"),
        )
        page = Paginator(use_cases, 50).get_page(params.get("page"))
        query = params.copy()
        query.pop("page", None)
        return render_page(request, "usecases/list.html", {
            "page": page,
            "query": query.urlencode(),
            "filters": params,
            "stages": Stage.choices,
            "statuses": UseCaseStatus.choices,
            "owners": member_choices(request.organization)[1:],
            "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
            "any_filter": any(params.get(k) for k in ("stage", "owner", "status", "q", "archived")),
        }, partial="results")  # fmt: skip


class UseCaseCreateView(OrgView):
    permission = EDIT

    def get(self, request):
        form = UseCaseForm(organization=request.organization)
        return render_page(request, "usecases/form.html", {"form": form, "use_case": None})

    def post(self, request):
        form = UseCaseForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                use_case = services.use_case_create(actor=request.actor, data=form.service_data())
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{use_case.key} created. Score it and write its PRD.")
                return redirect("usecase_detail", request.organization.slug, use_case.number)
        return render_page(request, "usecases/form.html", {"form": form, "use_case": None},
                           status=400)  # fmt: skip


class UseCaseEditView(OrgView):
    permission = EDIT
    scoped_objects = USE_CASE

    def get(self, request, use_case):
        form = UseCaseForm(initial=UseCaseForm.initial_from(use_case),
                           organization=request.organization)  # fmt: skip
        return render_page(request, "usecases/form.html", {"form": form, "use_case": use_case})

    def post(self, request, use_case):
        form = UseCaseForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                services.use_case_update(actor=request.actor, use_case=use_case,
                                         data=form.service_data())  # fmt: skip
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{use_case.key} saved.")
                return redirect("usecase_detail", request.organization.slug, use_case.number)
        return render_page(request, "usecases/form.html", {"form": form, "use_case": use_case},
                           status=400)  # fmt: skip


class UseCaseArchiveView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = USE_CASE

    def post(self, request, use_case):
        archive = request.POST.get("archive") != "0"
        services.use_case_archive(actor=request.actor, use_case=use_case, archived=archive)
        messages.success(request, f"{use_case.key} {'archived' if archive else 'restored'}.")
        return redirect("usecase_detail", request.organization.slug, use_case.number)


def _detail_context(request, use_case, *, stage_form=None, scores_form=None) -> dict:
    requirements = selectors.requirements_of(use_case=use_case)
    readiness = selectors.readiness_of(use_case=use_case, requirements=requirements)
    weights = scoring.weights_of(request.organization)
    rank, ranked = selectors.use_case_rank(use_case=use_case)
    here = STAGE_ORDER.index(use_case.stage)
    next_stage = STAGE_ORDER[here + 1] if here + 1 < len(STAGE_ORDER) else None
    return {
        "use_case": use_case,
        "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
        "risk_hint": RISK_TIER_HINTS[RiskTier(use_case.risk_tier)],
        "stages": [(s, Stage(s).label, i <= here) for i, s in enumerate(STAGE_ORDER)],
        "next_stage": Stage(next_stage) if next_stage else None,
        "next_checks": gates.checks_for(use_case, next_stage, readiness) if next_stage else [],
        "stage_form": stage_form or StageMoveForm(initial={"to_stage": next_stage}),
        "history": StageTransition.objects.for_org(request.organization)
        .filter(use_case=use_case)
        .select_related("actor")[:50],
        "scores_form": scores_form or ScoresForm(initial=ScoresForm.initial_from(use_case)),
        "explanation": scoring.explain(use_case, weights, rank, ranked),
        "weights": weights,
        "prd": selectors.prd_of(use_case=use_case),
        "readiness": readiness,
        # What the other areas show here (evals' plans, ...), registered in their apps.
        "panels": USE_CASE_PANELS.render(request, use_case=use_case),
    }


class UseCaseDetailView(OrgView):
    permission = Action.VIEW
    scoped_objects = USE_CASE

    def get(self, request, use_case):
        return render_page(request, "usecases/detail.html", _detail_context(request, use_case))


class UseCaseStageView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = USE_CASE

    def post(self, request, use_case):
        form = StageMoveForm(request.POST)
        if form.is_valid():
            try:
                transition = services.use_case_move_stage(
                    actor=request.actor, use_case=use_case, to_stage=form.cleaned_data["to_stage"],
                    override_reason=form.cleaned_data["override_reason"],
                )  # fmt: skip
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                label = Stage(transition.to_stage).label
                messages.success(
                    request,
                    f"{use_case.key} moved to {label}"
                    + (" (gate overridden; recorded in the audit trail)."
                       if transition.overridden else "."),
                )  # fmt: skip
                return redirect("usecase_detail", request.organization.slug, use_case.number)
        context = _detail_context(request, use_case, stage_form=form)
        return render_page(request, "usecases/detail.html", context, partial="lifecycle",
                           status=400)  # fmt: skip


class UseCaseScoresView(OrgView):
    """Scores change the rank live: htmx swaps the explanation beside the selects (never the
    selects themselves), so a change made during a save is kept."""

    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = USE_CASE

    def post(self, request, use_case):
        form = ScoresForm(request.POST)
        status = 200
        if form.is_valid():
            try:
                services.use_case_score(actor=request.actor, use_case=use_case,
                                        scores=form.cleaned_data)  # fmt: skip
            except ValidationError as exc:
                errors_into_form(form, exc)
                status = 400
            else:
                form = None
                if not request.htmx:
                    messages.success(request, f"Scores of {use_case.key} saved.")
                    return redirect("usecase_detail", request.organization.slug, use_case.number)
        else:
            status = 400
        context = _detail_context(request, use_case, scores_form=form)
        return render_page(request, "usecases/detail.html", context,
                           partial="priority_explanation", status=status)  # fmt: skip
