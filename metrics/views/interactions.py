"""Production interactions, and the one click that makes one an eval case."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect

from evals.models import EvalPlan
from genai_po import inputs
from genai_po.base_views import OrgView, Scoped
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from metrics import selectors, services
from metrics.models import Outcome, TelemetryEvent
from usecases.models import UseCase


class CaseFromInteractionForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=EvalPlan.objects.none(), empty_label=None)
    kind = forms.ChoiceField(
        choices=[("good", "A good example: its answer is the expected one"),
                 ("bad", "A bad example: say what it should have done")],
        widget=forms.RadioSelect, initial="bad",
    )  # fmt: skip
    expected_behavior = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=20_000,
        label="What it should have done",
    )  # fmt: skip

    def __init__(self, *args, event, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = EvalPlan.objects.for_org(event.organization_id).filter(
            use_case_id=event.use_case_id, archived_at__isnull=True
        ).order_by("name")  # fmt: skip


class InteractionListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        use_cases = list(UseCase.objects.for_org(org).order_by("number"))
        use_case = None
        if number := inputs.id_or_none(request.GET.get("use_case", "")):
            use_case = next((uc for uc in use_cases if uc.number == number), None)
        use_case = use_case or (use_cases[0] if use_cases else None)
        outcome = request.GET.get("outcome", "")
        outcome = outcome if outcome in Outcome.values else ""
        flagged = request.GET.get("flagged") == "1"
        page = None
        if use_case is not None:
            rows = selectors.interactions_of(org, use_case, outcome=outcome, flagged=flagged)
            page = Paginator(rows, 50, allow_empty_first_page=True).get_page(
                request.GET.get("page")
            )
        query = request.GET.copy()
        query.pop("page", None)
        return render_page(
            request,
            "metrics/interactions.html",
            {
                "use_cases": use_cases,
                "use_case": use_case,
                "outcome": outcome,
                "flagged": flagged,
                "outcomes": Outcome.choices,
                "page": page,
                "query": query.urlencode(),
            },
        )


class InteractionDetailView(OrgView):
    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}
    scoped_objects = {"event": Scoped(TelemetryEvent, "pk")}

    def _context(self, request, event, form=None) -> dict:
        return {
            "event": event,
            "case": services.case_of(event),
            "form": form or CaseFromInteractionForm(event=event),
            "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
        }

    def get(self, request, event):
        return render_page(request, "metrics/interaction.html", self._context(request, event))

    def post(self, request, event):
        form = CaseFromInteractionForm(request.POST, event=event)
        if form.is_valid():
            data = form.cleaned_data
            try:
                case = services.case_from_interaction(
                    actor=request.actor, event=event, plan=data["plan"],
                    good=data["kind"] == "good", expected_behavior=data["expected_behavior"],
                )  # fmt: skip
            except ValidationError as exc:
                from genai_po.forms import errors_into_form

                errors_into_form(form, exc)
            else:
                messages.success(
                    request,
                    f"{case.key} added to {data['plan'].name} (origin: production trace): "
                    "every run of the plan replays it.",
                )
                return redirect("interaction_detail", request.organization.slug, event.pk)
        return render_page(
            request, "metrics/interaction.html", self._context(request, event, form), status=400
        )
