"""Forms of the governance area. Every choice list is the organization's own; the
services check the business rules (separation of duties, evidence, expiry)."""

from django import forms

from evals.models import EvalPlan, EvalRun, RunScope, RunStatus
from genai_po.forms import (
    BoundedModelMultipleChoiceField,
    MemberChoiceField,
    TextLimitsMixin,
    members,
)
from genai_po.models import User
from governance.models import (
    ChangeType,
    ChecklistItem,
    ChecklistTemplate,
    Decision,
    FollowUpStatus,
    GovernanceSettings,
    HarmType,
    Incident,
    IncidentChannel,
    IncidentFollowUp,
    IncidentStatus,
    IncidentType,
    ItemStatus,
    Release,
    ReviewerRole,
    RolloutStage,
    SeriousKind,
    SignOff,
    Waiver,
)
from usecases.models import RiskTier, UseCase

RELEASABLE_TIERS = [(v, label) for v, label in RiskTier.choices if v != RiskTier.UNACCEPTABLE]


class RunChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        rate = "" if obj.pass_rate is None else f", {obj.pass_rate * 100:.0f}% passed"
        return f"{obj.plan.use_case.key} {obj.plan.name}: run #{obj.number}{rate}"


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
    risk_tier = forms.ChoiceField(
        choices=[("", "The use case's tier")] + RELEASABLE_TIERS, required=False,
        help_text="At least the use case's tier.",
    )  # fmt: skip
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
        from governance.services.releases import OWNER_ROLES

        self.fields["owner"].queryset = members(organization, OWNER_ROLES)
        self.fields["template"].queryset = ChecklistTemplate.objects.for_org(organization)
        runs = (
            EvalRun.objects.for_org(organization)
            .filter(scope=RunScope.FULL, status__in=(RunStatus.COMPLETED, RunStatus.FAILED))
            .select_related("plan", "plan__use_case")
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
        if not data.get("risk_tier"):
            data.pop("risk_tier", None)  # the use case's
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
    seen_hash = forms.CharField(
        widget=forms.HiddenInput, max_length=64, min_length=64,
        error_messages={"required": "Reload the page and sign again: the state you saw is "
                        "missing."},
    )  # fmt: skip


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
        widgets = {
            "run_max_age_days": forms.NumberInput(attrs={"min": 1, "max": 365}),
            "min_cases_per_requirement": forms.NumberInput(attrs={"min": 1, "max": 1000}),
        }


# --------------------------------------------------------------------------- incidents

DATETIME = {
    "widget": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
}
SEVERITIES = [(1, "1: critical"), (2, "2: major"), (3, "3: moderate"), (4, "4: minor")]


def _text(rows: int = 3, **kwargs):
    return forms.CharField(widget=forms.Textarea(attrs={"rows": rows}), required=False, **kwargs)


class IncidentForm(TextLimitsMixin, forms.Form):
    """The incident report: what the service checks is the order of the three times, the
    members, the release of the use case, and the Article 73 clock of a serious one."""

    limits_model = Incident

    title = forms.CharField()
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    use_case = forms.ModelChoiceField(queryset=UseCase.objects.none(), empty_label=None)
    release = forms.ModelChoiceField(
        queryset=Release.objects.none(), required=False, empty_label="No release (or unknown)",
        help_text="The release that was live, of the same use case.",
    )  # fmt: skip
    environment = forms.CharField(initial="production")
    reporter = MemberChoiceField(
        queryset=User.objects.none(), required=False, label="Reported by (a member)"
    )
    reporter_label = forms.CharField(
        required=False, label="or by (someone outside)", help_text="e.g. a customer, ticket #123."
    )
    channel = forms.ChoiceField(choices=IncidentChannel.choices)
    owner = MemberChoiceField(
        queryset=User.objects.none(), required=False, label="Incident owner",
        help_text="Drives the response; reminded before a reporting deadline.",
    )  # fmt: skip
    occurred_at = forms.DateTimeField(label="Occurred", **DATETIME)
    discovered_at = forms.DateTimeField(label="Discovered", **DATETIME)
    aware_at = forms.DateTimeField(
        label="Organization aware", help_text="Starts the Article 73 clock.", **DATETIME
    )
    incident_type = forms.ChoiceField(choices=IncidentType.choices, label="Type")
    severity = forms.TypedChoiceField(choices=SEVERITIES, coerce=int)
    affected_users = forms.IntegerField(
        required=False, min_value=0, max_value=2**31 - 1, label="Affected users"
    )
    affected_description = forms.CharField(required=False, label="Who was affected")
    harm_types = forms.MultipleChoiceField(
        choices=HarmType.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    expected = _text(label="What was expected")
    actual = _text(label="What happened")
    steps_to_reproduce = _text()
    evidence_links = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=21_000,
        help_text="Links to traces, tickets, screenshots: one per line.",
    )  # fmt: skip
    root_cause = _text()
    mitigation = _text(label="Immediate mitigation")
    fix_plan = _text()
    prevention_plan = _text()
    serious = forms.BooleanField(
        required=False, label="Serious incident (EU AI Act Article 73)",
        help_text="Starts the reporting clock from the time the organization became aware.",
    )  # fmt: skip
    serious_kind = forms.ChoiceField(
        choices=[("", "—")] + SeriousKind.choices, required=False, label="Reporting clock"
    )
    serious_rationale = _text(2, label="Why it is serious")

    def __init__(self, *args, organization, incident=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["use_case"].queryset = UseCase.objects.for_org(organization).order_by("number")
        self.fields["use_case"].label_from_instance = lambda uc: f"{uc.key} {uc.title}"
        self.fields["release"].queryset = (
            Release.objects.for_org(organization).select_related("use_case").order_by("-number")
        )
        self.fields["release"].label_from_instance = lambda r: (
            f"{r.key} {r.name} ({r.use_case.key}, {r.get_status_display().lower()})"
        )
        from governance.services.incidents import OWNER_ROLES

        self.fields["reporter"].queryset = members(organization)
        self.fields["owner"].queryset = members(organization, OWNER_ROLES)

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["harm_types"] = list(data.get("harm_types") or [])
        data["evidence_links"] = (data.get("evidence_links") or "").splitlines()
        return data


class IncidentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=IncidentStatus.choices)


class IncidentReportForm(forms.Form):
    which = forms.ChoiceField(
        choices=[("initial", "Initial report"), ("complete", "Complete report")]
    )
    at = forms.DateTimeField(label="Sent", required=False, **DATETIME)


class FollowUpForm(TextLimitsMixin, forms.Form):
    limits_model = IncidentFollowUp

    title = forms.CharField(label="Follow-up action")
    owner = MemberChoiceField(queryset=User.objects.none(), required=False)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members(organization)  # anyone may carry an action


class FollowUpStatusForm(TextLimitsMixin, forms.Form):
    limits_model = IncidentFollowUp

    status = forms.ChoiceField(choices=FollowUpStatus.choices)
    note = forms.CharField(required=False, help_text="Required to accept it as is.")


class RegressionCaseForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=EvalPlan.objects.none(), empty_label=None)
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000,
        help_text="The input that went wrong.",
    )  # fmt: skip
    expected_behavior = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=20_000,
        help_text="What the AI system must do instead.",
    )  # fmt: skip
    must_escalate = forms.BooleanField(required=False, label="Must hand off to a human")

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = EvalPlan.objects.for_org(incident.organization_id).filter(
            use_case_id=incident.use_case_id, archived_at__isnull=True
        ).order_by("name")  # fmt: skip


class IncidentGapForm(forms.Form):
    question = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=1000,
        help_text="The question an SME must answer so it does not happen again.",
    )  # fmt: skip


class IncidentGapLinkForm(forms.Form):
    gaps = BoundedModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
        label="Contributing context gaps",
    )  # fmt: skip

    def __init__(self, *args, gaps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gaps"].queryset = gaps
        self.fields["gaps"].label_from_instance = lambda g: f"{g.key} {g.question[:100]}"
