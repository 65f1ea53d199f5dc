"""Runs: start one, watch its progress, read its results against the baseline, triage."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from evals import compare, selectors, services, summary
from evals.forms import RunStartForm, TriageForm
from evals.junit import junit_lines
from evals.models import EvalCase, EvalPlan, EvalResult, EvalRun, ResultStatus, Triage
from genai_po.base_views import OrgView
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can

RUN = {"run": EvalRun}
RESULT_FILTERS = [("", "All"), ("failing", "Not passed"), ("fail", "Failed"),
                  ("error", "Errors"), ("dead", "Dead"), ("pass", "Passed")]  # fmt: skip


class RunStartView(OrgView):
    permission = {"POST": Action.RUN_EVALS}
    scoped_objects = {"plan": EvalPlan}

    def post(self, request, plan):
        form = RunStartForm(request.POST)
        label = form.cleaned_data["label"] if form.is_valid() else ""
        try:
            run = services.run_start(actor=request.actor, plan=plan, label=label)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("plan_detail", request.organization.slug, plan.pk)
        return redirect("run_detail", request.organization.slug, run.pk)


def _progress_context(run: EvalRun) -> dict:
    return {"run": run, "progress": summary.progress(run)}


class RunProgressView(OrgView):
    """Polled by htmx every second while the run is active; reloads the page when it ends."""

    permission = Action.VIEW
    scoped_objects = RUN

    def get(self, request, run):
        response = render_page(request, "evals/run_detail.html", _progress_context(run),
                               partial="progress")  # fmt: skip
        if getattr(request, "htmx", False) and not run.is_active:
            response["HX-Refresh"] = "true"
        return response


class RunDetailView(OrgView):
    permission = Action.VIEW
    scoped_objects = RUN

    def get(self, request, run):
        status = request.GET.get("status", "")
        status = status if status in dict(RESULT_FILTERS) else ""
        comparison = compare.compare(run) if not run.is_active else None
        regressions = comparison.groups.get(compare.NEWLY_FAILING, []) if comparison else []
        results = selectors.results_page(run, status=status, regressions=regressions)
        page = Paginator(results, 50).get_page(request.GET.get("page"))
        triages = selectors.triages_for(run, {r.case_id for r in page})
        rows = [(r, triages.get(r.case_id)) for r in page]
        return render_page(request, "evals/run_detail.html", {
            **_progress_context(run),
            "plan": run.plan,
            "page": page,
            "rows": rows,
            "status": status,
            "results_query": urlencode({"status": status}) if status else "",
            "filters": RESULT_FILTERS,
            "stats": run.summary if not run.is_active else None,
            "comparison": comparison,
            "groups": [(key, label, comparison.groups.get(key, []))
                       for key, label in compare.LABELS.items()] if comparison else [],  # fmt: skip
            "can_run": role_can(request.role, Action.RUN_EVALS),
        }, partial="results")  # fmt: skip


class RunCancelView(OrgView):
    permission = {"POST": Action.RUN_EVALS}
    scoped_objects = RUN

    def post(self, request, run):
        try:
            services.run_cancel(actor=request.actor, run=run)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Run #{run.number} cancelled.")
        return redirect("run_detail", request.organization.slug, run.pk)


class RunBaselineView(OrgView):
    permission = {"POST": Action.RUN_EVALS}
    scoped_objects = RUN

    def post(self, request, run):
        try:
            services.run_mark_baseline(actor=request.actor, run=run)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Run #{run.number} is now the baseline of this plan.")
        return redirect("run_detail", request.organization.slug, run.pk)


class RunJunitView(OrgView):
    permission = Action.VIEW
    scoped_objects = RUN

    def get(self, request, run):
        response = StreamingHttpResponse(junit_lines(run), content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-junit.xml"'
        return response


def _case_context(request, run: EvalRun, case: EvalCase, form=None) -> dict:
    results = list(
        EvalResult.objects.for_org(request.organization)
        .filter(run=run, case=case)
        .order_by("repetition")
    )
    if not results:
        raise Http404("This case has no result in this run.")
    baseline = compare.baseline_for(run)
    comparison = compare.compare(run, baseline) if baseline and not run.is_active else None
    triage = Triage.objects.for_org(request.organization).filter(run=run, case=case).first()
    failed = any(r.status != ResultStatus.PASS for r in results)
    initial = {"category": triage.category, "note": triage.note} if triage else None
    return {
        "run": run,
        "plan": run.plan,
        "case": case,
        "results": results,
        "baseline": baseline,
        "change": comparison.of(case.number) if comparison else None,
        "change_label": compare.LABELS.get(comparison.of(case.number)) if comparison else None,
        "diff": compare.output_diff(run, baseline, case.number) if baseline else [],
        "triage": triage,
        "failed": failed,
        "form": form or TriageForm(initial=initial),
        "can_triage": failed and role_can(request.role, Action.RUN_EVALS),
        "requirements": list(case.requirements.all()),
    }


class RunCaseView(OrgView):
    permission = Action.VIEW
    scoped_objects = {"run": EvalRun, "case": EvalCase}

    def get(self, request, run, case):
        return render_page(request, "evals/run_case.html", _case_context(request, run, case))


class RunTriageView(OrgView):
    permission = {"POST": Action.RUN_EVALS}
    scoped_objects = {"run": EvalRun, "case": EvalCase}

    def post(self, request, run, case):
        form = TriageForm(request.POST)
        if form.is_valid():
            try:
                triage = services.triage_set(
                    actor=request.actor, run=run, case=case,
                    category=form.cleaned_data["category"], note=form.cleaned_data["note"],
                )  # fmt: skip
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                if getattr(request, "htmx", False):
                    context = _case_context(request, run, case)
                    context["saved"] = True
                    return render_page(request, "evals/run_case.html", context, partial="triage")
                messages.success(
                    request, f"{case.key} triaged as {triage.get_category_display().lower()}."
                )
                return redirect(reverse("run_case", args=[request.organization.slug, run.pk,
                                                          case.pk]))  # fmt: skip
        context = _case_context(request, run, case, form=form)
        return render_page(request, "evals/run_case.html", context, partial="triage", status=400)
