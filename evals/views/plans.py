"""Eval plans: creating and editing one, its page (cases, runs, trend), its versions."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect

from evals import charts, selectors, services
from evals.forms import CaseForm, PlanForm, RunStartForm
from evals.models import CaseSetVersion, EvalPlan
from genai_po import inputs
from genai_po.base_views import OrgView
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from usecases.models import UseCase

EDIT = {"GET": Action.EDIT_PRODUCT, "POST": Action.EDIT_PRODUCT}
PLAN = {"plan": EvalPlan}


def _use_case_from(request) -> UseCase | None:
    """The use case named by ?use_case=<number> (or the form); None when none is named."""
    raw = request.GET.get("use_case") or request.POST.get("use_case") or ""
    number = raw.upper().removeprefix("UC-")
    if not number:
        return None
    number = inputs.id_or_none(number)
    use_case = (
        UseCase.objects.for_org(request.organization).filter(number=number).first()
        if number is not None
        else None
    )
    if use_case is None:
        raise Http404("No such use case.")
    return use_case


def _pick_use_case(request, status=200):
    """A plan belongs to a use case: ask which one first."""
    use_cases = (
        UseCase.objects.for_org(request.organization)
        .filter(archived_at__isnull=True)
        .order_by("number")
        .only("number", "title")
    )
    return render_page(request, "evals/plan_pick.html", {"use_cases": use_cases}, status=status)


class PlanCreateView(OrgView):
    permission = EDIT

    def get(self, request):
        use_case = _use_case_from(request)
        if use_case is None:
            return _pick_use_case(request)
        initial = {
            "name": f"{use_case.title} evals",
            "scorers": '[{"type": "escalation"}, {"type": "not_contains"}]',
            "forbidden_phrases": "\n".join(selectors.prd_forbidden_phrases(use_case)),
        }
        form = PlanForm(organization=request.organization, initial=initial)
        return render_page(request, "evals/plan_form.html", {"form": form, "use_case": use_case})

    def post(self, request):
        use_case = _use_case_from(request)
        if use_case is None:
            return _pick_use_case(request, status=400)
        form = PlanForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                plan = services.plan_create(actor=request.actor, use_case=use_case,
                                            data=form.service_data())  # fmt: skip
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"Plan “{plan.name}” created. Add or import cases.")
                return redirect("plan_detail", request.organization.slug, plan.pk)
        return render_page(request, "evals/plan_form.html",
                           {"form": form, "use_case": use_case}, status=400)  # fmt: skip


class PlanEditView(OrgView):
    permission = EDIT
    scoped_objects = PLAN

    def get(self, request, plan):
        form = PlanForm(initial=PlanForm.initial_from(plan), organization=request.organization)
        return render_page(request, "evals/plan_form.html",
                           {"form": form, "use_case": plan.use_case, "plan": plan})  # fmt: skip

    def post(self, request, plan):
        form = PlanForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                services.plan_update(actor=request.actor, plan=plan, data=form.service_data())
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, "Plan saved.")
                return redirect("plan_detail", request.organization.slug, plan.pk)
        return render_page(request, "evals/plan_form.html",
                           {"form": form, "use_case": plan.use_case, "plan": plan},
                           status=400)  # fmt: skip


class PlanArchiveView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = PLAN

    def post(self, request, plan):
        archive = request.POST.get("archive") != "0"
        services.plan_archive(actor=request.actor, plan=plan, archived=archive)
        messages.success(request, f"Plan {'archived' if archive else 'restored'}.")
        return redirect("plan_detail", request.organization.slug, plan.pk)


def plan_context(request, plan: EvalPlan, **extra) -> dict:
    q = request.GET.get("q", "").strip()[:100]
    cases = selectors.current_cases(plan, q=q)
    page = Paginator(cases, 50).get_page(request.GET.get("page"))
    runs = list(selectors.runs_of(plan)[:10])
    points = selectors.trend_points(plan)
    return {
        "plan": plan,
        "site_url": settings.SITE_URL,
        "use_case": plan.use_case,
        "page": page,
        "q": q,
        "case_query": urlencode({"q": q}) if q else "",
        "case_total": selectors.case_count(plan),
        "runs": runs,
        "figure": charts.pass_rate_trend(points, plan) if len(points) >= 1 else None,
        "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
        "can_run": role_can(request.role, Action.RUN_EVALS),
        "run_form": RunStartForm(),
        "case_form": extra.pop("case_form", None) or CaseForm(plan=plan),
        **extra,
    }


class PlanDetailView(OrgView):
    permission = Action.VIEW
    scoped_objects = PLAN

    def get(self, request, plan):
        return render_page(request, "evals/plan_detail.html", plan_context(request, plan),
                           partial="cases")  # fmt: skip


class CaseVersionsView(OrgView):
    permission = Action.VIEW
    scoped_objects = PLAN

    def get(self, request, plan):
        versions = (
            CaseSetVersion.objects.for_org(request.organization)
            .filter(plan=plan)
            .order_by("-number")
        )
        page = Paginator(versions, 50).get_page(request.GET.get("page"))
        return render_page(request, "evals/versions.html", {"plan": plan, "page": page})
