"""Forms of the portfolio and the priority weights. They parse; services decide."""

from django import forms

from genai_po import inputs
from usecases.models import Criterion, Stage, rubric_text
from usecases.selectors import SORTS


class PortfolioFilterForm(forms.Form):
    """Filters and sort of the portfolio (a GET form: what is not understood is ignored)."""

    q = forms.CharField(required=False, label="Search")
    stage = forms.ChoiceField(choices=[("", "Any"), *Stage.choices], required=False)
    owner = forms.IntegerField(min_value=1, max_value=inputs.MAX_INT, required=False)
    sort = forms.ChoiceField(choices=[(key, key) for key in SORTS], required=False)

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:100]

    def filters(self) -> dict:
        """The valid filters, for `selectors.use_cases_filtered`; invalid ones are dropped."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "stage": data.get("stage") or "",
            "owner": data.get("owner"),
            "q": data.get("q") or "",
            "sort": data.get("sort") or "rank",
        }


class WeightsForm(forms.Form):
    """The six weights, 0-10 each, with the rubric of each criterion beside it."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        messages = {
            "required": "Give a weight from 0 to 10.",
            "invalid": "Give a whole number from 0 to 10.",
            "min_value": "Give a weight from 0 to 10.",
            "max_value": "Give a weight from 0 to 10.",
        }
        for criterion in Criterion:
            self.fields[criterion.value] = forms.IntegerField(
                min_value=0, max_value=10, label=criterion.label,
                help_text=rubric_text(criterion), error_messages=messages,
            )  # fmt: skip

    def weights(self) -> dict[str, int]:
        return {c.value: self.cleaned_data[c.value] for c in Criterion}
