"""The AI PRD of a use case: its sections and versions, the behavioral requirements
inline (htmx, with plain-form fallbacks), their verifications, traceability, readiness,
the Markdown export and the print page; and the organization's PRD template.

Every write answers htmx with the part of the page it changed (plus the readiness and
version panels out of band) and a plain POST with a redirect back to the PRD.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control

from genai_po import inputs
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from usecases import selectors, services
from usecases.markdown import prd_markdown
from usecases.models import (
    PRD_SECTIONS,
    PrdVersion,
    Requirement,
    RequirementVerification,
    UseCase,
    VerificationKind,
)
from usecases.prd_forms import (
    VERIFICATION_NOT_YET,
    PrdForm,
    RequirementForm,
    SectionsForm,
    VerificationForm,
    member_choices,
    order_from,
)

PAGE = "usecases/prd/prd.html"
USE_CASE = {"use_case": Scoped(UseCase, "number")}
REQUIREMENT = {**USE_CASE, "requirement": Scoped(Requirement, parent="use_case")}
WRITE = {"POST": Action.EDIT_PRODUCT}
VERSIONS_PER_PAGE = 50


def _prd_url(request, use_case: UseCase, anchor: str = "") -> str:
    url = reverse("prd", args=[request.organization.slug, use_case.number])
    return f"{url}#{anchor}" if anchor else url


@dataclass
class RequirementRow:
    """One requirement as the page shows it, with its forms and reorder targets."""

    requirement: Requirement
    position: int
    up_order: str  # the whole new order of keys if it moves up; "" when it cannot
    down_order: str
    verification_form: VerificationForm | None
    edit_form: RequirementForm | None = None


def _swapped(keys: list[str], i: int, j: int) -> str:
    order = list(keys)
    order[i], order[j] = order[j], order[i]
    return ",".join(order)


def _rows(requirements, owner_choices, *, can_edit, edit=None, verify=None) -> list:
    """`edit` and `verify` are (requirement pk, bound form) of a form being redisplayed."""
    keys = [r.key for r in requirements]
    rows = []
    for i, r in enumerate(requirements):
        vform = edit_form = None
        if can_edit:
            if verify and verify[0] == r.pk:
                vform = verify[1]
            else:
                vform = VerificationForm(owner_choices=owner_choices, auto_id=f"v{r.pk}-%s")
            if edit and edit[0] == r.pk:
                edit_form = edit[1]
        rows.append(
            RequirementRow(
                requirement=r,
                position=i + 1,
                up_order=_swapped(keys, i, i - 1) if i > 0 else "",
                down_order=_swapped(keys, i, i + 1) if i + 1 < len(keys) else "",
                verification_form=vform,
                edit_form=edit_form,
            )
        )
    return rows


def _latest_version(prd) -> PrdVersion | None:
    if prd is None or not prd.version:
        return None
    return selectors.prd_versions(prd=prd).filter(number=prd.version).first()


def _prd_context(
    request,
    use_case: UseCase,
    *,
    owner_choices=None,
    prd_form=None,
    add_form=None,
    edit=None,
    verify=None,
    order_error: str = "",
) -> dict:
    """Everything the PRD page and its partials show, in a constant number of queries."""
    org = request.organization
    can_edit = role_can(request.role, Action.EDIT_PRODUCT)
    prd = selectors.prd_of(use_case=use_case)
    requirements = selectors.requirements_of(use_case=use_case)
    readiness = selectors.readiness_of(use_case=use_case, requirements=requirements)
    if can_edit and owner_choices is None:
        owner_choices = member_choices(org)
    editing = prd_form is not None or (can_edit and (prd is None or request.GET.get("edit")))
    if editing and prd_form is None:
        sections = prd.sections if prd else services.prd_start_of(use_case)
        prd_form = PrdForm(initial={**sections, "base_version": prd.version if prd else 0})
    rows = _rows(requirements, owner_choices, can_edit=can_edit, edit=edit, verify=verify)
    if can_edit and add_form is None:
        add_form = RequirementForm(owner_choices=owner_choices, auto_id="new-req-%s")
    return {
        "use_case": use_case,
        "prd": prd,
        "version": _latest_version(prd),
        "sections": [(key, label, prd.section(key) if prd else "") for key, label in PRD_SECTIONS],
        "prd_form": prd_form if editing else None,
        "starts_from_template": prd is None,
        "rows": rows,
        "readiness": readiness,
        "add_form": add_form,
        "order_error": order_error,
        "can_edit": can_edit,
    }


def _row_of(context: dict, requirement_pk: int) -> dict:
    for row in context["rows"]:
        if row.requirement.pk == requirement_pk:
            return {**context, "row": row}
    raise Http404("No such requirement.")


def _section_conflict(request, prd, base_version: int | None) -> str:
    """A message when someone else saved different sections since the editor opened."""
    if prd is None or prd.version == (base_version or 0):
        return ""
    if base_version:
        base = selectors.prd_versions(prd=prd).filter(number=base_version).first()
        if base is None:
            return "The version you started from no longer exists; reload the PRD."
        base_sections = base.content.get("sections", {})
    else:
        base_sections = services.prd_start_of(prd.use_case)
    keys = [key for key, _ in PRD_SECTIONS]
    if all(base_sections.get(k, "") == prd.sections.get(k, "") for k in keys):
        return ""  # only requirements changed meanwhile: the sections are still ours
    return (
        f"Someone saved other sections since you started editing (now version {prd.version}). "
        f"Your text is kept below: compare it with the versions page, merge, and save again."
    )


class PrdView(OrgView):
    """The living PRD: sections (edit with a change summary), requirements, readiness."""

    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}
    scoped_objects = USE_CASE

    def get(self, request, use_case):
        return render_page(request, PAGE, _prd_context(request, use_case))

    def post(self, request, use_case):
        form = PrdForm(request.POST)
        if form.is_valid():
            prd = selectors.prd_of(use_case=use_case)
            conflict = _section_conflict(request, prd, form.cleaned_data["base_version"])
            if conflict:
                data = request.POST.copy()
                data["base_version"] = str(prd.version)
                form = PrdForm(data)
                form.is_valid()
                form.add_error(None, conflict)
            else:
                try:
                    version = services.prd_save(
                        actor=request.actor,
                        use_case=use_case,
                        sections=form.sections(),
                        summary=form.cleaned_data["summary"],
                    )
                except ValidationError as exc:
                    errors_into_form(form, exc)
                else:
                    messages.success(request, f"PRD saved as version {version.number}.")
                    return redirect(_prd_url(request, use_case))
        context = _prd_context(request, use_case, prd_form=form)
        return render_page(request, PAGE, context, partial="sections", status=400)


# --- Requirements


def _panel(request, use_case, *, status=200, **kwargs):
    """The requirements panel (list and add form) and, out of band, readiness and version."""
    context = _prd_context(request, use_case, **kwargs)
    return render_page(request, PAGE, context, partial="requirements_response", status=status)


def _row(request, use_case, requirement_pk: int, *, status=200, **kwargs):
    """One requirement row and, out of band, readiness and version."""
    context = _row_of(_prd_context(request, use_case, **kwargs), requirement_pk)
    return render_page(request, PAGE, context, partial="row_response", status=status)


class RequirementAddView(OrgView):
    permission = WRITE
    scoped_objects = USE_CASE

    def post(self, request, use_case):
        choices = member_choices(request.organization)
        form = RequirementForm(request.POST, owner_choices=choices, auto_id="new-req-%s")
        if form.is_valid():
            try:
                requirement = services.requirement_add(
                    actor=request.actor, use_case=use_case, data=form.service_data()
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                if not request.htmx:
                    messages.success(request, f"{requirement.key} added.")
                    return redirect(_prd_url(request, use_case, f"req-{requirement.pk}"))
                return _panel(request, use_case, owner_choices=choices)
        return _panel(request, use_case, owner_choices=choices, add_form=form, status=400)


class RequirementEditView(OrgView):
    """GET: the row as an edit form (`?cancel=1`: the row as shown). POST: save it."""

    permission = {"GET": Action.EDIT_PRODUCT, "POST": Action.EDIT_PRODUCT}
    scoped_objects = REQUIREMENT

    def get(self, request, use_case, requirement):
        if request.GET.get("cancel"):
            if not request.htmx:
                return redirect(_prd_url(request, use_case, f"req-{requirement.pk}"))
            return _row(request, use_case, requirement.pk)
        choices = member_choices(request.organization)
        form = RequirementForm(
            initial=RequirementForm.initial_from(requirement),
            owner_choices=choices,
            auto_id=f"r{requirement.pk}-%s",
        )
        form.fields["statement"].widget.attrs["autofocus"] = True  # htmx focuses it on swap
        return _row(
            request, use_case, requirement.pk, owner_choices=choices, edit=(requirement.pk, form)
        )

    def post(self, request, use_case, requirement):
        choices = member_choices(request.organization)
        form = RequirementForm(request.POST, owner_choices=choices, auto_id=f"r{requirement.pk}-%s")
        if form.is_valid():
            try:
                services.requirement_update(
                    actor=request.actor, requirement=requirement, data=form.service_data()
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                if not request.htmx:
                    messages.success(request, f"{requirement.key} saved.")
                    return redirect(_prd_url(request, use_case, f"req-{requirement.pk}"))
                return _row(request, use_case, requirement.pk, owner_choices=choices)
        return _row(
            request,
            use_case,
            requirement.pk,
            owner_choices=choices,
            edit=(requirement.pk, form),
            status=400,
        )


class RequirementDeleteView(OrgView):
    permission = WRITE
    scoped_objects = REQUIREMENT

    def post(self, request, use_case, requirement):
        key = requirement.key
        services.requirement_delete(actor=request.actor, requirement=requirement)
        if not request.htmx:
            messages.success(request, f"{key} deleted; its key is never reused.")
            return redirect(_prd_url(request, use_case, "requirements"))
        return _panel(request, use_case)


class RequirementReorderView(OrgView):
    """`order`: every requirement key of the use case, in the new order."""

    permission = WRITE
    scoped_objects = USE_CASE

    def post(self, request, use_case):
        try:
            services.requirement_reorder(
                actor=request.actor, use_case=use_case, keys=order_from(request.POST)
            )
        except ValidationError as exc:
            message = " ".join(exc.messages)
            return _panel(request, use_case, order_error=message, status=400)
        if not request.htmx:
            messages.success(request, "Requirements reordered.")
            return redirect(_prd_url(request, use_case, "requirements"))
        return _panel(request, use_case)


class VerificationAddView(OrgView):
    permission = WRITE
    scoped_objects = REQUIREMENT

    def post(self, request, use_case, requirement):
        choices = member_choices(request.organization)
        form = VerificationForm(
            request.POST, owner_choices=choices, auto_id=f"v{requirement.pk}-%s"
        )
        if form.is_valid():
            try:
                services.verification_add(
                    actor=request.actor, requirement=requirement, **form.service_data()
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                if not request.htmx:
                    messages.success(request, f"Verification added to {requirement.key}.")
                    return redirect(_prd_url(request, use_case, f"req-{requirement.pk}"))
                return _row(request, use_case, requirement.pk, owner_choices=choices)
        return _row(
            request,
            use_case,
            requirement.pk,
            owner_choices=choices,
            verify=(requirement.pk, form),
            status=400,
        )


class VerificationDeleteView(OrgView):
    permission = WRITE
    scoped_objects = {**USE_CASE, "verification": RequirementVerification}

    def post(self, request, use_case, verification):
        requirement = verification.requirement
        # Scoped() checks the organization; the use case is two relations away.
        if requirement.use_case_id != use_case.pk:
            raise Http404("No such verification.")
        services.verification_remove(actor=request.actor, verification=verification)
        if not request.htmx:
            messages.success(request, f"Verification removed from {requirement.key}.")
            return redirect(_prd_url(request, use_case, f"req-{requirement.pk}"))
        return _row(request, use_case, requirement.pk)


# --- Versions, export, print


def _int_param(request, name: str, errors: list[str]) -> int | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        errors.append(f"Choose version {name.upper()}.")
        return None
    number = inputs.id_or_none(raw)
    if number is None:
        errors.append(f"Version {name.upper()} must be a version number, not {raw[:20]!r}.")
    return number


class PrdVersionsView(OrgView):
    """Every version (newest first); `?a=&b=` shows what changed from A to B."""

    permission = Action.VIEW
    scoped_objects = USE_CASE

    def get(self, request, use_case):
        prd = selectors.prd_of(use_case=use_case)
        context = {
            "use_case": use_case,
            "prd": prd,
            "versions": [],
            "diff": None,
            "errors": [],
            "a": request.GET.get("a", ""),
            "b": request.GET.get("b", ""),
        }
        status = 200
        if prd is not None:
            versions = selectors.prd_versions(prd=prd)
            page_number = max(inputs.id_or_none(request.GET.get("page")) or 1, 1)
            start = (page_number - 1) * VERSIONS_PER_PAGE
            page = list(versions[start : start + VERSIONS_PER_PAGE + 1])
            context["versions"] = page[:VERSIONS_PER_PAGE]
            context["page_number"] = page_number
            context["has_next"] = len(page) > VERSIONS_PER_PAGE
            if "a" in request.GET or "b" in request.GET:
                status = self._compare(request, prd, versions, context)
        elif "a" in request.GET or "b" in request.GET:
            context["errors"].append("This PRD has no versions yet: nothing to compare.")
            status = 400
        return render_page(
            request, "usecases/prd/versions.html", context, partial="compare", status=status
        )

    @staticmethod
    def _compare(request, prd, versions, context) -> int:
        errors = context["errors"]
        a, b = _int_param(request, "a", errors), _int_param(request, "b", errors)
        if errors:
            return 400
        found = {v.number: v for v in versions.filter(number__in={a, b})}
        for name, number in (("A", a), ("B", b)):
            if number not in found:
                errors.append(
                    f"Version {name} = {number} does not exist: this PRD has "
                    f"versions 1 to {prd.version}."
                )
        if errors:
            return 400
        old, new = found[a], found[b]
        context.update(old=old, new=new, diff=selectors.prd_diff(old=old, new=new))
        return 200


def _document_context(request, use_case) -> dict:
    prd = selectors.prd_of(use_case=use_case)
    requirements = selectors.requirements_of(use_case=use_case)
    return {
        "use_case": use_case,
        "prd": prd,
        "version": _latest_version(prd),
        "sections": [(key, label, prd.section(key) if prd else "") for key, label in PRD_SECTIONS],
        "requirements": requirements,
        "readiness": selectors.readiness_of(use_case=use_case, requirements=requirements),
    }


class PrdMarkdownView(OrgView):
    permission = Action.VIEW
    scoped_objects = USE_CASE

    def get(self, request, use_case):
        context = _document_context(request, use_case)
        text = prd_markdown(
            use_case=use_case,
            version=context["version"],
            sections={key: text for key, _, text in context["sections"]},
            requirements=context["requirements"],
            readiness=context["readiness"],
        )
        version = context["version"]
        suffix = f"-v{version.number}" if version else ""
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{use_case.key}-prd{suffix}.md"'
        patch_cache_control(response, private=True, no_store=True)
        return response


class PrdPrintView(OrgView):
    permission = Action.VIEW
    scoped_objects = USE_CASE

    def get(self, request, use_case):
        return render_page(request, "usecases/prd/print.html", _document_context(request, use_case))


# --- Traceability


COLUMNS = [
    (VerificationKind.HUMAN_REVIEW, "Human review", ""),
    (VerificationKind.EVAL_CASE, "Eval case", VERIFICATION_NOT_YET[VerificationKind.EVAL_CASE]),
    (VerificationKind.MONITOR, "Monitor", VERIFICATION_NOT_YET[VerificationKind.MONITOR]),
]


class TraceabilityView(OrgView):
    """Requirement × verification: what proves each behavior, and who owns it."""

    permission = Action.VIEW
    scoped_objects = USE_CASE

    def get(self, request, use_case):
        requirements = selectors.requirements_of(use_case=use_case)
        readiness = selectors.readiness_of(use_case=use_case, requirements=requirements)
        gaps = {r.pk: reasons for r, reasons in readiness.unverified}
        rows = []
        for r in requirements:
            verifications = r.verified_by
            rows.append(
                {
                    "requirement": r,
                    "cells": [
                        [v for v in verifications if v.kind == kind] for kind, _, _ in COLUMNS
                    ],
                    "gap": gaps.get(r.pk),
                }
            )
        return render_page(
            request,
            "usecases/prd/traceability.html",
            {
                "use_case": use_case,
                "columns": COLUMNS,
                "rows": rows,
                "readiness": readiness,
            },
        )


# --- The organization's template


class PrdTemplateView(OrgView):
    """The sections a new PRD starts from; every member reads it, product editors change it."""

    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}

    def get(self, request):
        sections = services.prd_template_of(request.organization)
        return self._render(request, SectionsForm(initial=sections), sections)

    def post(self, request):
        form = SectionsForm(request.POST)
        if form.is_valid():
            try:
                services.prd_template_update(actor=request.actor, sections=form.sections())
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, "PRD template saved. New PRDs start from it.")
                return redirect("prd_template", request.organization.slug)
        sections = services.prd_template_of(request.organization)
        return self._render(request, form, sections, status=400)

    def _render(self, request, form, sections, status=200):
        can_edit = role_can(request.role, Action.EDIT_PRODUCT)
        return render_page(
            request,
            "usecases/prd/template.html",
            {
                "form": form if can_edit else None,
                "sections": [(key, label, sections.get(key, "")) for key, label in PRD_SECTIONS],
                "can_edit": can_edit,
            },
            status=status,
        )
