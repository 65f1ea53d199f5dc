"""Forms of plans, cases, imports and triage. They parse text into values; services decide."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from evals.models import (
    Cadence,
    EvalCase,
    EvalPlan,
    Target,
    TargetKind,
    Triage,
    TriageCategory,
)
from genai_po import inputs
from genai_po.forms import TextLimitsMixin
from usecases.models import Requirement

SCORER_HELP = (
    'A JSON list, e.g. [{"type": "contains", "values": ["refund"]}, {"type": "escalation"}]. '
    "Types: equals, contains, not_contains, regex, starts_with, length, is_json, json_schema, "
    "latency, refusal, escalation, citation, similarity, llm_judge; each may have a weight."
)


def _json_field(label: str, *, help_text: str = "", rows: int = 3) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "spellcheck": "false", "class": "mono"}),
    )  # fmt: skip


def _parse_json(value: str, *, kind: type, example: str):
    value = (value or "").strip()
    if not value:
        return kind()
    try:
        parsed = inputs.loads(value)
    except inputs.InputRefused as exc:
        raise ValidationError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"Not valid JSON ({exc.msg}, line {exc.lineno}). E.g. {example}"
        ) from None
    if not isinstance(parsed, kind):
        raise ValidationError(f"Give a JSON {kind.__name__}, e.g. {example}")
    return parsed


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _percent_lines(value: str, example: str) -> dict[str, float]:
    """ "REQ-1 = 100" per line -> {"REQ-1": 100.0}."""
    result = {}
    for line in _lines(value):
        key, sep, number = line.partition("=")
        if not sep:
            raise ValidationError(f'Write one per line as "{example}"; got "{line}".')
        try:
            result[key.strip()] = float(number.strip().rstrip("%"))
        except ValueError:
            raise ValidationError(f'"{number.strip()}" is not a number (line "{line}").') from None
    return result


def _dump(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) if value else ""


class PlanForm(TextLimitsMixin, forms.Form):
    limits_model = EvalPlan

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    target = forms.ModelChoiceField(queryset=Target.objects.none(), required=False,
                                    help_text="The AI system the cases are sent to.")  # fmt: skip
    judge_target = forms.ModelChoiceField(
        queryset=Target.objects.none(), required=False, label="Judge (for LLM-as-judge scorers)",
        help_text="An OpenAI-compatible endpoint that grades answers against a rubric.",
    )  # fmt: skip
    pass_threshold = forms.DecimalField(
        min_value=0, max_value=100, decimal_places=2, initial=90,
        label="Overall pass rate needed (%)",
    )  # fmt: skip
    requirement_thresholds = forms.CharField(
        required=False, label="Pass rate per requirement (%)",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "REQ-1 = 100"}),
        help_text='One per line, e.g. "REQ-3 = 100" for a launch-blocking requirement.',
    )  # fmt: skip
    tag_thresholds = forms.CharField(
        required=False, label="Pass rate per tag (%)",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "refunds = 95"}),
    )  # fmt: skip
    repetitions = forms.IntegerField(min_value=1, max_value=20, initial=1,
                                     help_text="Run each case this many times to expose flaky "
                                               "behavior.")  # fmt: skip
    cadence = forms.ChoiceField(choices=Cadence.choices, initial=Cadence.NONE,
                                label="Scheduled runs")  # fmt: skip
    scorers = _json_field("Scorers for every case", help_text=SCORER_HELP)
    forbidden_phrases = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line; used by not_contains scorers without their own list. A new "
        "plan starts with the quoted phrases of the PRD's forbidden actions and bad examples.",
    )  # fmt: skip
    approved_sources = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line (ids, titles or URLs); used by citation scorers.",
    )  # fmt: skip

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        targets = Target.objects.for_org(organization).filter(archived_at__isnull=True)
        self.fields["target"].queryset = targets
        self.fields["judge_target"].queryset = targets.filter(kind=TargetKind.OPENAI_CHAT)

    def clean_scorers(self):
        return _parse_json(self.cleaned_data["scorers"], kind=list, example='[{"type": "equals"}]')

    def clean_requirement_thresholds(self):
        return _percent_lines(self.cleaned_data["requirement_thresholds"], "REQ-1 = 100")

    def clean_tag_thresholds(self):
        return _percent_lines(self.cleaned_data["tag_thresholds"], "refunds = 95")

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["forbidden_phrases"] = _lines(data["forbidden_phrases"])
        data["approved_sources"] = _lines(data["approved_sources"])
        return data

    @staticmethod
    def initial_from(plan: EvalPlan) -> dict:
        def pairs(mapping):
            return "\n".join(f"{k} = {v:g}" for k, v in mapping.items())

        return {
            "name": plan.name, "description": plan.description, "target": plan.target_id,
            "judge_target": plan.judge_target_id, "pass_threshold": plan.pass_threshold,
            "requirement_thresholds": pairs(plan.requirement_thresholds),
            "tag_thresholds": pairs(plan.tag_thresholds), "repetitions": plan.repetitions,
            "cadence": plan.cadence, "scorers": _dump(plan.scorers),
            "forbidden_phrases": "\n".join(plan.forbidden_phrases),
            "approved_sources": "\n".join(plan.approved_sources),
        }  # fmt: skip


class CaseForm(TextLimitsMixin, forms.Form):
    limits_model = EvalCase

    name = forms.CharField(max_length=200, required=False)
    prompt = forms.CharField(required=False, label="Input (the user's message)",
                             widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip
    messages = _json_field(
        "Or chat messages", rows=2,
        help_text='A JSON list: [{"role": "user", "content": "..."}]. Or leave it empty.',
    )  # fmt: skip
    expected = forms.CharField(required=False, label="Expected output",
                               widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    expected_behavior = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    context = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent to the target as context before the input.",
    )  # fmt: skip
    variables = _json_field("Variables", rows=2, help_text='A JSON object, e.g. {"order": "A-1"}.')
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. refunds, policy")
    requirement_keys = forms.MultipleChoiceField(
        required=False, label="Requirements it verifies", widget=forms.CheckboxSelectMultiple
    )
    must_escalate = forms.BooleanField(required=False, label="Must hand off to a human")
    scorers = _json_field("Scorers of this case (added to the plan's)", help_text=SCORER_HELP)
    pass_threshold = forms.FloatField(
        required=False, min_value=0, max_value=1, label="Weighted score needed (0-1)",
        help_text="Empty: every scorer must pass.",
    )  # fmt: skip

    def __init__(self, *args, plan: EvalPlan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["requirement_keys"].choices = [
            (r.key, f"{r.key} {r.statement[:90]}")
            for r in Requirement.objects.for_org(plan.organization_id).filter(
                use_case_id=plan.use_case_id
            )
        ]

    def clean_messages(self):
        return _parse_json(self.cleaned_data["messages"], kind=list,
                           example='[{"role": "user", "content": "Hi"}]')  # fmt: skip

    def clean_variables(self):
        return _parse_json(self.cleaned_data["variables"], kind=dict, example='{"order": "A-1"}')

    def clean_scorers(self):
        return _parse_json(self.cleaned_data["scorers"], kind=list, example='[{"type": "equals"}]')

    def clean_tags(self):
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]

    def service_data(self) -> dict:
        return dict(self.cleaned_data)

    @staticmethod
    def initial_from(case: EvalCase) -> dict:
        return {
            "name": case.name, "prompt": case.prompt, "messages": _dump(case.messages),
            "expected": case.expected, "expected_behavior": case.expected_behavior,
            "context": case.context, "variables": _dump(case.variables),
            "tags": ", ".join(case.tags),
            "requirement_keys": [f"REQ-{r.number}" for r in case.requirements.all()],
            "must_escalate": case.must_escalate, "scorers": _dump(case.scorers),
            "pass_threshold": case.pass_threshold,
        }  # fmt: skip


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, JSONL, promptfoo tests (YAML) or OpenAI Evals JSONL.")
    format = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Detect from the file"),
            ("csv", "CSV"),
            ("jsonl", "JSONL"),
            ("promptfoo", "promptfoo tests (YAML)"),
            ("openai_evals", "OpenAI Evals samples (JSONL)"),
        ],  # fmt: skip
    )


class TriageForm(TextLimitsMixin, forms.Form):
    limits_model = Triage

    category = forms.ChoiceField(choices=TriageCategory.choices, widget=forms.RadioSelect,
                                 label="What went wrong")  # fmt: skip
    note = forms.CharField(required=False, max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


class RunStartForm(forms.Form):
    label = forms.CharField(
        max_length=200, required=False,
        help_text="Optional: a commit, a prompt version, a model name.",
    )  # fmt: skip
