"""Checklist templates: the organization's list, and the editor of its manual items and
reviewer roles (owners and admins); every template carries all the automatic items."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from genai_po.base_views import OrgView
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from governance.models import ChecklistTemplate, ReviewerRole
from governance.services import templates as template_services
from governance.templates import automatic_items, template_for

TEMPLATE = {"template": ChecklistTemplate}
COLUMNS = ("key", "category", "text", "reviewer_role")
BLANK_ROWS = 5


def rows_from_post(post) -> list[dict]:
    """The editor's rows in order; a row with no text and no category is removed."""
    columns = {c: post.getlist(c) for c in COLUMNS}
    count = max((len(v) for v in columns.values()), default=0)
    rows = []
    for i in range(min(count, template_services.MAX_MANUAL_ITEMS + BLANK_ROWS + 1)):
        row = {c: (columns[c][i] if i < len(columns[c]) else "") for c in COLUMNS}
        if row["text"].strip() or row["category"].strip():
            rows.append(row)
    return rows


class TemplateListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        template_for(request.organization)  # the default exists from the first visit
        rows = ChecklistTemplate.objects.for_org(request.organization).order_by(
            "-is_default", "name"
        )
        return render_page(
            request,
            "governance/templates/list.html",
            {
                "templates": [
                    (t, sum(1 for i in t.items if i.get("kind") == "manual")) for t in rows
                ],
                "can_edit": role_can(request.role, Action.MANAGE_ORG),
            },
        )


class TemplateEditView(OrgView):
    permission = {"GET": Action.VIEW, "POST": Action.MANAGE_ORG}
    scoped_objects = TEMPLATE

    def _context(self, request, template, *, name=None, roles=None, rows=None, default=None,
                 errors=None) -> dict:  # fmt: skip
        manual = [i for i in (template.items if template else []) if i.get("kind") == "manual"]
        return {
            "template": template,
            "name": template.name if name is None and template else (name or ""),
            "roles": roles
            if roles is not None
            else (template.reviewer_roles if template else list(ReviewerRole.values)),  # fmt: skip
            "rows": (rows if rows is not None else manual) + [{} for _ in range(BLANK_ROWS)],
            "is_default": default
            if default is not None
            else bool(template and template.is_default),
            "automatic": automatic_items(),
            "role_choices": ReviewerRole.choices,
            "errors": errors or {},
            "item_errors": (errors or {}).get("items", []),  # `errors.items` is dict.items
            "can_edit": role_can(request.role, Action.MANAGE_ORG),
        }

    def get(self, request, template=None):
        if template is None and request.GET.get("from"):
            base = template_for(request.organization)  # "copy the default"
            context = self._context(request, base, name=f"Copy of {base.name}", default=False)
            context["template"] = None
        else:
            context = self._context(request, template)
        return render_page(request, "governance/templates/edit.html", context)

    def post(self, request, template=None):
        rows = rows_from_post(request.POST)
        name = request.POST.get("name", "")
        roles = request.POST.getlist("reviewer_roles")
        default = request.POST.get("is_default") == "on"
        try:
            saved = template_services.template_save(
                actor=request.actor, organization=request.organization, template=template,
                name=name, reviewer_roles=roles, items=rows, is_default=default,
            )  # fmt: skip
        except ValidationError as exc:
            context = self._context(
                request, template, name=name, roles=roles, rows=rows, default=default,
                errors=exc.message_dict,
            )  # fmt: skip
            return render_page(request, "governance/templates/edit.html", context, status=400)
        messages.success(
            request,
            f"“{saved.name}” saved. New releases made from it start with its items; releases "
            "already made keep theirs.",
        )
        return redirect("checklist_templates", request.organization.slug)


class TemplateNewView(TemplateEditView):
    scoped_objects = {}


class TemplateDeleteView(OrgView):
    permission = {"POST": Action.MANAGE_ORG}
    scoped_objects = TEMPLATE

    def post(self, request, template):
        try:
            template_services.template_delete(actor=request.actor, template=template)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"“{template.name}” deleted.")
        return redirect("checklist_templates", request.organization.slug)
