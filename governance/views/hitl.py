"""A use case's human-in-the-loop policy: the current version, its history, and the
editor that saves a new version."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from genai_po.base_views import OrgView, Scoped
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from governance.models import ActionRisk, Autonomy, HitlPolicy, Reversibility
from governance.services import hitl
from usecases.models import UseCase

USE_CASE = {"use_case": Scoped(UseCase, "number")}
FIELDS = ("name", "description", "reversibility", "risk", "autonomy", "reason")
BLANK_ROWS = 3


def rows_from_post(post) -> list[dict]:
    """The editor's rows, in order; a row whose name, description and reason are all empty
    is left out (that is how a row is removed)."""
    columns = {field: post.getlist(field) for field in FIELDS}
    count = max((len(values) for values in columns.values()), default=0)
    rows = []
    for i in range(min(count, hitl.MAX_ACTIONS + BLANK_ROWS)):
        row = {f: (columns[f][i] if i < len(columns[f]) else "") for f in FIELDS}
        if not any(row[f].strip() for f in ("name", "description", "reason")):
            continue
        rows.append(row)
    if count > hitl.MAX_ACTIONS + BLANK_ROWS:
        rows.extend([{}] * (count - len(rows)))  # too many: the service says so
    return rows


class HitlPolicyView(OrgView):
    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}
    scoped_objects = USE_CASE

    def _context(self, request, use_case, rows=None, errors=None) -> dict:
        policy = hitl.current_policy(use_case)
        versions = (
            HitlPolicy.objects.for_org(request.organization)
            .filter(use_case=use_case)
            .order_by("-version")[:50]
        )
        rows = rows if rows is not None else list(policy.actions if policy else [])
        return {
            "use_case": use_case,
            "policy": policy,
            "versions": versions,
            "rows": rows + [{} for _ in range(BLANK_ROWS)],
            "errors": errors or [],
            "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
            "reversibility_choices": Reversibility.choices,
            "risk_choices": ActionRisk.choices,
            "autonomy_choices": Autonomy.choices,
            "api_path": f"/api/v1/use-cases/{use_case.pk}/hitl-policy/",
        }

    def get(self, request, use_case):
        return render_page(request, "governance/hitl.html", self._context(request, use_case))

    def post(self, request, use_case):
        rows = rows_from_post(request.POST)
        try:
            policy = hitl.policy_save(
                actor=request.actor,
                use_case=use_case,
                actions=rows,
                note=request.POST.get("note", ""),
            )
        except ValidationError as exc:
            return render_page(
                request,
                "governance/hitl.html",
                self._context(request, use_case, rows=[r for r in rows if r], errors=exc.messages),
                status=400,
            )
        _, approved_in = hitl.served_policy(use_case)
        messages.success(
            request,
            f"HITL policy v{policy.version} saved for {use_case.key}. "
            + (
                f"The AI system keeps being served the version {approved_in.key} approved "
                "until a release with this one is approved."
                if approved_in is not None
                else "No release is approved yet: the AI system is served this version."
            ),
        )
        return redirect("hitl_policy", request.organization.slug, use_case.number)
