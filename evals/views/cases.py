"""Cases of a plan: add, edit and remove inline (htmx), import a file, export the set."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect

from evals import case_io, scorers, selectors, services
from evals.forms import CaseForm, ImportForm
from evals.models import EvalCase, EvalPlan
from evals.views.plans import plan_context
from genai_po.base_views import OrgView, Scoped
from genai_po.csv_export import safe_cell
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action

EDIT = {"GET": Action.EDIT_PRODUCT, "POST": Action.EDIT_PRODUCT}
PLAN = {"plan": EvalPlan}
CASE = {"plan": EvalPlan, "case": Scoped(EvalCase, "pk", "plan")}


def _cases_answer(request, plan, *, message: str = ""):
    """After a change: the cases partial for htmx, the plan page otherwise."""
    if getattr(request, "htmx", False):
        context = plan_context(request, plan, flash=message)
        return render_page(request, "evals/plan_detail.html", context, partial="cases")
    if message:
        messages.success(request, message)
    return redirect("plan_detail", request.organization.slug, plan.pk)


def _form_answer(request, plan, form, *, case=None, status=200):
    return render_page(request, "evals/case_form.html",
                       {"plan": plan, "form": form, "case": case}, partial="form",
                       status=status)  # fmt: skip


class CaseAddView(OrgView):
    permission = EDIT
    scoped_objects = PLAN

    def get(self, request, plan):
        return _form_answer(request, plan, CaseForm(plan=plan))

    def post(self, request, plan):
        form = CaseForm(request.POST, plan=plan)
        if form.is_valid():
            try:
                case = services.case_add(actor=request.actor, plan=plan, data=form.service_data())
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                plan.refresh_from_db()
                return _cases_answer(request, plan, message=f"{case.key} added.")
        return _form_answer(request, plan, form, status=400)


class CaseEditView(OrgView):
    permission = EDIT
    scoped_objects = CASE

    def get(self, request, plan, case):
        if case.version_removed is not None:
            raise Http404("This is an old revision of the case.")
        form = CaseForm(initial=CaseForm.initial_from(case), plan=plan)
        return _form_answer(request, plan, form, case=case)

    def post(self, request, plan, case):
        form = CaseForm(request.POST, plan=plan)
        if form.is_valid():
            try:
                new = services.case_update(actor=request.actor, case=case,
                                           data=form.service_data())  # fmt: skip
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                plan.refresh_from_db()
                return _cases_answer(request, plan, message=f"{new.key} saved.")
        return _form_answer(request, plan, form, case=case, status=400)


class CaseDeleteView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = CASE

    def post(self, request, plan, case):
        try:
            services.case_remove(actor=request.actor, case=case)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("plan_detail", request.organization.slug, plan.pk)
        plan.refresh_from_db()
        return _cases_answer(request, plan, message=f"{case.key} removed.")


def _validate_scorer(spec: dict) -> dict:
    try:
        return scorers.validate_spec(spec)
    except scorers.ScorerSpecError as exc:
        raise ValueError(str(exc)) from exc


def import_file(*, actor, plan, data: bytes, filename: str, fmt: str = "") -> int:
    """Parse and import a file of cases; ValidationError lists line-numbered problems."""
    fmt = fmt or case_io.detect_format(filename, data[:4096]) or ""
    if fmt not in case_io.FORMATS:
        raise ValidationError(
            "Could not tell the file's format from its name: choose CSV, JSONL, promptfoo "
            "or OpenAI Evals."
        )
    result = case_io.parse_cases(data, fmt, validate_scorer=_validate_scorer)
    if not result.ok:
        raise ValidationError([str(p) for p in result.problems])
    return services.cases_import(actor=actor, plan=plan, drafts=result.drafts,
                                 source=filename or f"{fmt} upload")  # fmt: skip


class CaseImportView(OrgView):
    permission = EDIT
    scoped_objects = PLAN

    def get(self, request, plan):
        return render_page(request, "evals/import.html", {"plan": plan, "form": ImportForm()})

    def post(self, request, plan):
        form = ImportForm(request.POST, request.FILES)
        problems = []
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > case_io.MAX_BYTES:
                problems = [f"The file is over {case_io.MAX_BYTES // (1024 * 1024)} MB."]
            else:
                try:
                    count = import_file(
                        actor=request.actor, plan=plan, data=upload.read(),
                        filename=upload.name, fmt=form.cleaned_data["format"],
                    )  # fmt: skip
                except ValidationError as exc:
                    problems = exc.messages
                else:
                    messages.success(request, f"Imported {count} case{'s' if count != 1 else ''}.")
                    return redirect("plan_detail", request.organization.slug, plan.pk)
        context = {"plan": plan, "form": form, "problems": problems}
        return render_page(request, "evals/import.html", context, status=400)


def case_rows(plan: EvalPlan):
    """The plan's current cases as mappings for the exporters, streamed."""
    for case in selectors.current_cases(plan).iterator(chunk_size=500):
        yield {
            "key": case.key, "name": case.name, "prompt": case.prompt,
            "messages": case.messages, "variables": case.variables, "expected": case.expected,
            "expected_behavior": case.expected_behavior, "context": case.context,
            "tags": case.tags,
            "requirement_keys": [f"REQ-{r.number}" for r in case.requirements.all()],
            "must_escalate": case.must_escalate, "scorers": case.scorers,
            "pass_threshold": case.pass_threshold,
        }  # fmt: skip


class CaseExportView(OrgView):
    permission = Action.VIEW
    scoped_objects = PLAN
    fmt = "csv"

    def get(self, request, plan):
        name = safe_cell(f"plan-{plan.pk}-cases-v{plan.case_version}").lstrip("'")
        if self.fmt == "csv":
            body, content_type = case_io.export_csv(case_rows(plan)), "text/csv; charset=utf-8"
        else:
            body, content_type = case_io.export_jsonl(case_rows(plan)), "application/x-ndjson"
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}.{self.fmt}"'
        return response
