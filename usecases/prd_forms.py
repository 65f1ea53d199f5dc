"""Forms of the AI PRD, its template, requirements and verifications. They parse;
services decide."""

from django import forms

from genai_po.forms import TextLimitsMixin
from genai_po.selectors import members_of_org
from usecases.models import (
    PRD_SECTIONS,
    Requirement,
    RequirementStatus,
    RequirementType,
    RequirementVerification,
    VerificationKind,
    VerificationMethod,
)

SECTION_HELP = {
    "user_problem": "The problem, in the user's words.",
    "workflow": "The workflow this changes, step by step.",
    "user_goal": "What the user is trying to get done.",
    "allowed_tools": "Tools and actions the AI may use on its own.",
    "required_sources": "Approved sources it must rely on (and cite).",
    "tone_constraints": "Voice, register, language, length.",
    "forbidden_actions": "What it must never do or say.",
    "handoff_rules": "When and how it hands over to a human.",
    "confidence_thresholds": "Below which confidence it abstains, asks or escalates.",
    "good_examples": "Inputs with the answer we want.",
    "bad_examples": "Inputs with answers we must never give.",
}

# Eval cases link to requirements from the case (in its eval plan), monitors from the
# metrics area once it exists: here they are offered greyed out, honestly labelled.
VERIFICATION_NOT_YET = {
    VerificationKind.EVAL_CASE: "linked from the case in its eval plan",
    VerificationKind.MONITOR: "arrives with the metrics area",
}


def member_choices(organization) -> list[tuple[str, str]]:
    """Members of the organization for an owner drop-down (scoped: never every user)."""
    return [("", "—")] + [
        (str(m.user_id), m.user.display_name) for m in members_of_org(organization=organization)
    ]


def _owner_id(value: str) -> int | None:
    return int(value) if value else None


class SectionsForm(forms.Form):
    """The eleven sections of the PRD (also the organization's template)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for key, label in PRD_SECTIONS:
            self.fields[key] = forms.CharField(
                label=label,
                required=False,
                max_length=20000,
                strip=True,
                help_text=SECTION_HELP.get(key, ""),
                widget=forms.Textarea(attrs={"rows": 4}),
            )

    def sections(self) -> dict[str, str]:
        return {key: self.cleaned_data[key] for key, _ in PRD_SECTIONS}

    def section_fields(self):
        return [self[key] for key, _ in PRD_SECTIONS]


class PrdForm(SectionsForm):
    """The sections plus a change summary; `base_version` is the version the editor
    started from, so a save never silently overwrites someone else's sections."""

    summary = forms.CharField(
        label="Change summary",
        max_length=300,
        help_text="Required: what changed and why, in a few words. It names the version.",
        error_messages={"required": "Say in a few words what changed."},
    )
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)


class RequirementForm(TextLimitsMixin, forms.Form):
    limits_model = Requirement

    statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="One testable behavior: 'When …, the assistant …'.",
        error_messages={"required": "State the expected behavior."},
    )
    type = forms.ChoiceField(choices=RequirementType.choices, initial=RequirementType.BEHAVIOR)
    launch_blocking = forms.BooleanField(required=False, label="Launch-blocking")
    owner = forms.ChoiceField(required=False)
    verification_method = forms.ChoiceField(
        choices=VerificationMethod.choices,
        initial=VerificationMethod.EVAL,
        label="Verification method",
    )
    status = forms.ChoiceField(choices=RequirementStatus.choices, initial=RequirementStatus.DRAFT)

    def __init__(self, *args, owner_choices, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owner_choices

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["owner"] = _owner_id(data["owner"])
        return data

    @staticmethod
    def initial_from(requirement) -> dict:
        return {
            "statement": requirement.statement,
            "type": requirement.type,
            "launch_blocking": requirement.launch_blocking,
            "owner": str(requirement.owner_id) if requirement.owner_id else "",
            "verification_method": requirement.verification_method,
            "status": requirement.status,
        }


class KindSelect(forms.Select):
    """Kinds that cannot be linked from this page yet are shown, disabled."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value in VERIFICATION_NOT_YET:
            option["attrs"]["disabled"] = True
        return option


class VerificationForm(TextLimitsMixin, forms.Form):
    limits_model = RequirementVerification

    kind = forms.ChoiceField(
        choices=[
            (
                k.value,
                k.label
                if k not in VERIFICATION_NOT_YET
                else f"{k.label} ({VERIFICATION_NOT_YET[k]})",
            )
            for k in VerificationKind
        ],
        initial=VerificationKind.HUMAN_REVIEW,
        widget=KindSelect,
    )
    name = forms.CharField(
        max_length=200,
        label="Review name",
        help_text="Who checks what, how often: 'Weekly review of 20 sampled answers'.",
        error_messages={"required": "Name the review."},
    )
    owner = forms.ChoiceField(required=False, label="Reviewer")

    def __init__(self, *args, owner_choices, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owner_choices

    def clean_kind(self):
        kind = self.cleaned_data["kind"]
        if kind in VERIFICATION_NOT_YET:
            if kind == VerificationKind.EVAL_CASE:
                raise forms.ValidationError(
                    "Eval cases are linked from the case itself: open the use case's eval "
                    "plan, edit the case and tick the requirements it verifies."
                )
            raise forms.ValidationError(
                "Monitors are linked from the metrics area, which does not exist yet. Add a "
                "named human review with an owner for now."
            )
        return kind

    def service_data(self) -> dict:
        return {
            "kind": self.cleaned_data["kind"],
            "name": self.cleaned_data["name"],
            "owner": _owner_id(self.cleaned_data["owner"]),
        }


def order_from(post) -> list[str]:
    """The requirement keys of a reorder form: `order=REQ-2,REQ-1` or repeated `order`."""
    keys: list[str] = []
    for value in post.getlist("order"):
        keys.extend(k.strip() for k in value.split(",") if k.strip())
    return keys
