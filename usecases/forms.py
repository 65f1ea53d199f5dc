"""Forms of use-case briefs, stage moves and scores. They parse; services decide."""

from django import forms

from genai_po.forms import TextLimitsMixin
from genai_po.selectors import members_of_org
from usecases.models import (
    RISK_TIER_HINTS,
    Criterion,
    HumanInvolvement,
    RiskTier,
    Stage,
    StageTransition,
    UseCase,
    UseCaseStatus,
    rubric_text,
)


def member_choices(organization) -> list[tuple[str, str]]:
    """Org members for an owner drop-down (scoped: never every user)."""
    return [("", "—")] + [
        (str(m.user_id), m.user.display_name) for m in members_of_org(organization=organization)
    ]


class UseCaseForm(TextLimitsMixin, forms.Form):
    limits_model = UseCase

    title = forms.CharField(max_length=200)
    problem = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="The user problem, in the user's words.",
    )
    workflow = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="The workflow this use case changes.",
    )
    target_users = forms.CharField(max_length=200, required=False)
    user_count = forms.IntegerField(min_value=0, required=False, label="Number of users")
    owner = forms.ChoiceField(required=False)
    department = forms.CharField(max_length=120, required=False)
    value_hypothesis = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    metric_name = forms.CharField(max_length=120, required=False, label="Business metric")
    metric_unit = forms.CharField(max_length=40, required=False, label="Unit")
    metric_baseline = forms.DecimalField(
        max_digits=14, decimal_places=2, required=False, label="Baseline"
    )
    metric_target = forms.DecimalField(
        max_digits=14, decimal_places=2, required=False, label="Target"
    )
    risk_tier = forms.ChoiceField(
        choices=RiskTier.choices,
        initial=RiskTier.LIMITED,
        help_text=" · ".join(f"{RiskTier(k).label}: {v}" for k, v in RISK_TIER_HINTS.items()),
    )
    human_involvement = forms.ChoiceField(
        choices=HumanInvolvement.choices,
        initial=HumanInvolvement.HUMAN_REVIEWS_EXCEPTIONS,
        label="Level of human involvement",
    )
    status = forms.ChoiceField(choices=UseCaseStatus.choices, initial=UseCaseStatus.PROPOSED)

    def __init__(self, *args, organization, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = member_choices(organization)

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["owner"] = int(data["owner"]) if data.get("owner") else None
        return data

    @staticmethod
    def initial_from(use_case) -> dict:
        from usecases.services import BRIEF_FIELDS

        initial = {f: getattr(use_case, f) for f in BRIEF_FIELDS if f != "owner"}
        initial["owner"] = str(use_case.owner_id) if use_case.owner_id else ""
        return initial  # fmt: skip


class StageMoveForm(TextLimitsMixin, forms.Form):
    limits_model = StageTransition

    to_stage = forms.ChoiceField(choices=Stage.choices, label="Move to")
    override_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False,
        label="Reason to override the gate",
        help_text="Needed only when the gate is not met; it is recorded in the audit trail.",
    )  # fmt: skip


SCORE_CHOICES = [("", "—")] + [(str(n), str(n)) for n in range(1, 6)]


class ScoresForm(forms.Form):
    """The six criteria, 1-5 each, with the rubric beside each."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for criterion in Criterion:
            self.fields[criterion.value] = forms.TypedChoiceField(
                choices=SCORE_CHOICES, coerce=int, empty_value=None, required=False,
                label=criterion.label, help_text=rubric_text(criterion),
            )  # fmt: skip

    @staticmethod
    def initial_from(use_case) -> dict:
        return {c.value: use_case.score_of(c.value) for c in Criterion}
