"""Alert rules, the alerts they fired, and their acknowledgment; the value assumptions."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect

from genai_po import inputs
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from metrics import dashboard, services
from metrics.models import Alert, AlertRule, ValueAssumptions
from usecases.models import UseCase


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = ["use_case", "metric", "condition", "threshold", "window_hours",
                  "min_interactions", "action", "enabled"]  # fmt: skip
        labels = {"window_hours": "Window (hours)", "min_interactions": "At least, interactions"}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["use_case"].queryset = UseCase.objects.for_org(organization).filter(
            archived_at__isnull=True
        ).order_by("number")  # fmt: skip
        self.fields["threshold"].help_text = (
            "A percentage for rates (5 is 5%), milliseconds for latency, the currency for cost; "
            "for a week-over-week rise, the factor (2 is a doubling)."
        )

    def _post_clean(self):  # the service validates; the form only parses
        pass


def _rules(organization):
    return AlertRule.objects.for_org(organization).select_related("use_case").order_by("number")


class AlertListView(OrgView):
    """`/metrics/alerts/`: the rules, the alerts they fired (newest first), acknowledged or
    not, and a form for a new rule."""

    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}

    def _render(self, request, form=None, status=200):
        org = request.organization
        alerts = Alert.objects.for_org(org).select_related("rule", "use_case").order_by(
            "-fired_at", "-pk"
        )  # fmt: skip
        state = request.GET.get("state", "")
        if state == "open":
            alerts = alerts.filter(acknowledged_at__isnull=True)
        page = Paginator(alerts, 50).get_page(request.GET.get("page"))
        return render_page(
            request,
            "metrics/alerts.html",
            {
                "rules": _rules(org),
                "page": page,
                "state": state,
                "query": f"state={state}" if state else "",
                "form": form or AlertRuleForm(organization=org),
                "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
            },
            status=status,
        )

    def get(self, request):
        return self._render(request)

    def post(self, request):
        form = AlertRuleForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                rule = services.rule_save(actor=request.actor, data=form.cleaned_data)
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{rule.key} is checked after every rollup.")
                return redirect("alert_list", request.organization.slug)
        return self._render(request, form, status=400)


class AlertRuleView(OrgView):
    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}
    scoped_objects = {"rule": Scoped(AlertRule, "number")}

    def _render(self, request, rule, form=None, status=200):
        return render_page(
            request, "metrics/alert_rule.html",
            {"rule": rule, "form": form or AlertRuleForm(instance=rule,
                                                         organization=request.organization),
             "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
             "alerts": rule.alerts.order_by("-fired_at")[:20]},
            status=status,
        )  # fmt: skip

    def get(self, request, rule):
        return self._render(request, rule)

    def post(self, request, rule):
        if request.POST.get("delete"):
            try:
                services.rule_delete(actor=request.actor, rule=rule)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect("alert_rule", request.organization.slug, rule.number)
            messages.success(request, f"{rule.key} deleted.")
            return redirect("alert_list", request.organization.slug)
        form = AlertRuleForm(request.POST, instance=rule, organization=request.organization)
        if form.is_valid():
            try:
                services.rule_save(actor=request.actor, rule=rule, data=form.cleaned_data)
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{rule.key} saved.")
                return redirect("alert_list", request.organization.slug)
        rule.refresh_from_db()
        return self._render(request, rule, form, status=400)


class AlertAcknowledgeView(OrgView):
    permission = Action.EDIT_PRODUCT
    scoped_objects = {"alert": Alert}

    def post(self, request, alert):
        try:
            services.alert_acknowledge(
                actor=request.actor, alert=alert, note=request.POST.get("note", "")
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{alert.key} acknowledged.")
        return redirect("alert_list", request.organization.slug)


class AssumptionsForm(forms.ModelForm):
    class Meta:
        model = ValueAssumptions
        fields = ["currency", "loaded_hourly_cost", "minutes_saved_per_success",
                  "other_value_per_month", "sme_hourly_cost", "sme_minutes_per_answer"]  # fmt: skip
        labels = {
            "loaded_hourly_cost": "Loaded hourly cost of a user",
            "minutes_saved_per_success": "Minutes saved per successful task (when not reported)",
            "other_value_per_month": "Other value per month",
            "sme_hourly_cost": "Loaded hourly cost of an SME",
            "sme_minutes_per_answer": "SME minutes per answer",
        }

    def _post_clean(self):
        pass


class AssumptionsView(OrgView):
    """`/metrics/assumptions/[?use_case=N]`: what the ROI is computed with."""

    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}

    def _use_case(self, request):
        """The use case of `?use_case=N`; none asked is the organization's defaults, and a
        number that is no use case here is a 404 (never a save to the defaults)."""
        raw = request.GET.get("use_case", "")
        if raw == "":
            return None
        number = inputs.id_or_none(raw)
        use_case = None
        if number is not None:
            use_case = UseCase.objects.for_org(request.organization).filter(number=number).first()
        if use_case is None:
            raise Http404("No such use case here.")
        return use_case

    def _render(self, request, use_case, form=None, status=200):
        current = dashboard.assumptions_for(request.organization, use_case)
        own = use_case is None or current.use_case_id == getattr(use_case, "pk", None)
        return render_page(
            request, "metrics/assumptions.html",
            {"use_case": use_case, "current": current, "own": own,
             "form": form or AssumptionsForm(instance=current),
             "use_cases": UseCase.objects.for_org(request.organization).order_by("number"),
             "can_edit": role_can(request.role, Action.EDIT_PRODUCT)},
            status=status,
        )  # fmt: skip

    def get(self, request):
        return self._render(request, self._use_case(request))

    def post(self, request):
        use_case = self._use_case(request)
        form = AssumptionsForm(request.POST)
        if form.is_valid():
            try:
                services.assumptions_save(
                    actor=request.actor, use_case=use_case, data=form.cleaned_data
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, "Value assumptions saved: every ROI figure uses them.")
                query = f"?use_case={use_case.number}" if use_case else ""
                return redirect(f"{request.path}{query}")
        return self._render(request, use_case, form, status=400)
