"""Forms of the governance area. Every choice list is the organization's own; the
services check the business rules (separation of duties, evidence, expiry)."""

from django import forms

from evals.models import EvalRun, RunScope, RunStatus
from genai_po.forms import MemberChoiceField, TextLimitsMixin, members
from genai_po.models import User
from governance.models import (
    ChangeType,
    ChecklistItem,
    ChecklistTemplate,
    Decision,
    GovernanceSettings,
    ItemStatus,
    Release,
    ReviewerRole,
    RolloutStage,
    SignOff,
    Waiver,
)
from usecases.models import RiskTier, UseCase

RELEASABLE_TIERS = [(v, label) for v, label in RiskTier.choices if v != RiskTier.UNACCEPTABLE]


class RunChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        rate = "" if obj.pass_rate is None else f", {obj.pass_rate * 100:.0f}% passed"
        return f"{obj.plan.name}: run #{obj.number}{rate}"


class ReleaseForm(TextLimitsMixin, forms.Form):
    limits_model = Release

    use_case = forms.ModelChoiceField(queryset=UseCase.objects.none(), empty_label=None)
    name = forms.CharField(help_text="e.g. v1.4, or what this release brings.")
    model = forms.CharField(required=False, help_text="Model and version, e.g. gpt-4o-2024-08-06.")
    prompt_version = forms.CharField(required=False)
    config_hash = forms.CharField(
        required=False, label="Configuration hash", help_text="Of the tool and agent configuration."
    )
    eval_run = RunChoiceField(
        queryset=EvalRun.objects.none(), required=False, label="Eval run that proves it"
    )
    change_type = forms.ChoiceField(choices=ChangeType.choices)
    risk_tier = forms.ChoiceField(choices=RELEASABLE_TIERS)
    environment = forms.CharField(initial="production")
    owner = MemberChoiceField(queryset=User.objects.none(), label="Release owner")
    target_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Target date"
    )
    reviewer_roles = forms.MultipleChoiceField(
        choices=ReviewerRole.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    template = forms.ModelChoiceField(
        queryset=ChecklistTemplate.objects.none(), required=False, label="Checklist template",
        empty_label="The organization's default",
    )  # fmt: skip
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, organization, release=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["use_case"].queryset = (
            UseCase.objects.for_org(organization)
            .filter(archived_at__isnull=True)
            .order_by("number")
        )
        self.fields["use_case"].label_from_instance = lambda uc: f"{uc.key} {uc.title}"
        self.fields["owner"].queryset = members(organization)
        self.fields["template"].queryset = ChecklistTemplate.objects.for_org(organization)
        runs = (
            EvalRun.objects.for_org(organization)
            .filter(scope=RunScope.FULL, status__in=(RunStatus.COMPLETED, RunStatus.FAILED))
            .select_related("plan")
            .order_by("-created_at")
        )
        if release is not None:
            runs = runs.filter(plan__use_case=release.use_case)
            del self.fields["use_case"]
            del self.fields["template"]
        self.fields["eval_run"].queryset = runs[:200] if not self.is_bound else runs

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("use_case", None)
        data.pop("template", None)
        data["reviewer_roles"] = list(data.get("reviewer_roles") or [])
        return data


class ItemForm(TextLimitsMixin, forms.Form):
    limits_model = ChecklistItem

    status = forms.ChoiceField(choices=ItemStatus.choices)
    evidence_url = forms.URLField(required=False, max_length=1000, label="Evidence link",
                                  assume_scheme="https")  # fmt: skip
    evidence_file = forms.FileField(required=False, label="or a file (at most 10 MB)")
    attestation = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000,
        help_text="What was checked, and by whom.",
    )  # fmt: skip


class WaiverForm(TextLimitsMixin, forms.Form):
    limits_model = Waiver

    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    expires_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Expires"
    )


class SignOffForm(TextLimitsMixin, forms.Form):
    limits_model = SignOff

    reviewer_role = forms.ChoiceField(choices=ReviewerRole.choices, label="Signing as")
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="Required to reject, and for the conditions of an approval.",
    )  # fmt: skip
    seen_hash = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=RolloutStage.choices)


class AssignForm(forms.Form):
    reviewer_role = forms.ChoiceField(choices=ReviewerRole.choices)
    user = MemberChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args, organization, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = members(organization, roles)


class GovernanceSettingsForm(forms.ModelForm):
    class Meta:
        model = GovernanceSettings
        fields = ["run_max_age_days", "min_cases_per_requirement"]
