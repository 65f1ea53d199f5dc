"""The governance area's home and its settings."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect

from genai_po.base_views import OrgView
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from governance import selectors
from governance.forms import GovernanceSettingsForm
from governance.models import Release, ReleaseStatus
from governance.services.common import settings_of
from governance.services.settings import settings_update
from usecases.models import UseCase


class GovernanceHomeView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        counts = dict(
            Release.objects.for_org(org).values_list("status").annotate(n=Count("pk")).order_by()
        )
        return render_page(
            request,
            "governance/index.html",
            {
                "recent": selectors.releases_of(org)[:10],
                "in_review": counts.get(ReleaseStatus.IN_REVIEW, 0),
                "release_total": sum(counts.values()),
                "open_incidents": selectors.incidents_of(org, status="unclosed").count(),
                "reports_due": list(selectors.reports_due(org)[:3]),
                "use_cases": UseCase.objects.for_org(org)
                .filter(archived_at__isnull=True)
                .order_by("number")[:20],
                "can_view_audit": role_can(request.role, Action.VIEW_AUDIT),
                "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
                "can_sign": role_can(request.role, Action.SIGN_OFF),
            },
        )


class GovernanceSettingsView(OrgView):
    permission = {"GET": Action.VIEW, "POST": Action.MANAGE_ORG}

    def get(self, request):
        form = GovernanceSettingsForm(instance=settings_of(request.organization))
        return render_page(
            request,
            "governance/settings.html",
            {"form": form, "can_edit": role_can(request.role, Action.MANAGE_ORG)},
        )

    def post(self, request):
        row = settings_of(request.organization)
        form = GovernanceSettingsForm(request.POST, instance=row)
        if form.is_valid():
            settings_update(
                actor=request.actor,
                settings=row,
                run_max_age_days=form.cleaned_data["run_max_age_days"],
                min_cases_per_requirement=form.cleaned_data["min_cases_per_requirement"],
            )
            messages.success(request, "Governance settings saved.")
            return redirect("governance_settings", request.organization.slug)
        return render_page(
            request, "governance/settings.html", {"form": form, "can_edit": True}, status=400
        )
