"""Targets (the AI systems evals call) and the egress settings that bound what they reach.

Secrets typed here go to the service and never come back: forms show only whether a key
is set and the names of stored headers. "Test connection" makes one real call with the
saved settings, through the organization's egress policy, and records the answer.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect

from evals import services
from evals.models import EvalPlan, Target
from evals.target_forms import EgressForm, TargetForm
from genai_po.base_views import OrgView
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can

RUN = {"GET": Action.RUN_EVALS, "POST": Action.RUN_EVALS}
TARGET = {"target": Target}


def _plans_using(organization) -> Coalesce:
    """Count of the active plans that use a target, to run or to judge (one subquery)."""
    plans = (
        EvalPlan.objects.for_org(organization)
        .filter(Q(target=OuterRef("pk")) | Q(judge_target=OuterRef("pk")))
        .filter(archived_at__isnull=True)
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(plans, output_field=IntegerField()), 0)


class TargetListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        rows = list(self.scoped(Target).annotate(plan_count=_plans_using(org)))
        active = [t for t in rows if t.archived_at is None]
        archived = [t for t in rows if t.archived_at is not None]
        egress = services.egress_settings_of(org)
        return render_page(request, "evals/targets/list.html", {
            "targets": active,
            "archived": archived,
            "show_archived": request.GET.get("archived") == "1",
            "egress": egress,
            "can_run": role_can(request.role, Action.RUN_EVALS),
            "can_manage_egress": role_can(request.role, Action.MANAGE_ORG),
        })  # fmt: skip


class TargetCreateView(OrgView):
    permission = RUN

    def get(self, request):
        return render_page(
            request, "evals/targets/form.html", {"form": TargetForm(), "target": None}
        )

    def post(self, request):
        form = TargetForm(request.POST)
        if form.is_valid():
            try:
                target = services.target_create(actor=request.actor, data=form.service_data())
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"Target {target.name} created. Test its connection.")
                return redirect("target_edit", request.organization.slug, target.pk)
        return render_page(request, "evals/targets/form.html", {"form": form, "target": None},
                           status=400)  # fmt: skip


def _edit_context(request, target, form) -> dict:
    plans = EvalPlan.objects.for_org(request.organization).filter(
        Q(target=target) | Q(judge_target=target), archived_at__isnull=True
    )
    return {"target": target, "form": form, "plan_count": plans.count()}


class TargetEditView(OrgView):
    permission = RUN
    scoped_objects = TARGET

    def get(self, request, target):
        form = TargetForm(initial=TargetForm.initial_from(target), target=target)
        return render_page(request, "evals/targets/form.html", _edit_context(request, target, form))

    def post(self, request, target):
        form = TargetForm(request.POST, target=target)
        if form.is_valid():
            try:
                services.target_update(actor=request.actor, target=target,
                                       data=form.service_data())  # fmt: skip
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"Target {target.name} saved.")
                return redirect("target_edit", request.organization.slug, target.pk)
        # The service changed the object before refusing it: show what is stored.
        target = self.get_scoped_or_404(Target, pk=target.pk)
        return render_page(request, "evals/targets/form.html",
                           _edit_context(request, target, form), status=400)  # fmt: skip


class TargetTestView(OrgView):
    """POST only: htmx gets the result sentence, a plain form post the page again."""

    permission = {"POST": Action.RUN_EVALS}
    scoped_objects = TARGET

    def post(self, request, target):
        target = services.target_connection_check(actor=request.actor, target=target)
        ok = target.last_check_ok
        if request.htmx:
            return render_page(request, "evals/targets/form.html", {"target": target},
                               partial="check")  # fmt: skip
        (messages.success if ok else messages.error)(request, target.last_check_message)
        return redirect("target_edit", request.organization.slug, target.pk)


class TargetArchiveView(OrgView):
    permission = {"POST": Action.RUN_EVALS}
    scoped_objects = TARGET

    def post(self, request, target):
        archive = request.POST.get("archive") != "0"
        services.target_archive(actor=request.actor, target=target, archived=archive)
        if archive:
            messages.success(request, f"Target {target.name} archived: new runs cannot use it.")
            return redirect("target_list", request.organization.slug)
        messages.success(request, f"Target {target.name} restored.")
        return redirect("target_edit", request.organization.slug, target.pk)


class EgressSettingsView(OrgView):
    """Which non-public addresses this organization's targets may reach (admins only)."""

    permission = {"GET": Action.MANAGE_ORG, "POST": Action.MANAGE_ORG}

    def get(self, request):
        row = services.egress_settings_of(request.organization)
        form = EgressForm(initial=EgressForm.initial_from(row))
        return render_page(request, "evals/egress.html", {"form": form, "egress": row})

    def post(self, request):
        form = EgressForm(request.POST)
        if form.is_valid():
            try:
                services.egress_update(actor=request.actor, **form.service_data())
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, "Egress settings saved.")
                return redirect("egress_settings", request.organization.slug)
        row = services.egress_settings_of(request.organization)
        return render_page(request, "evals/egress.html", {"form": form, "egress": row},
                           status=400)  # fmt: skip
