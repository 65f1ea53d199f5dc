"""Forms of the backlog: a feature item, the filters, a saved view. They parse; services
decide."""

from django import forms

from genai_po import inputs
from genai_po.forms import TextLimitsMixin
from usecases import backlog
from usecases.forms import member_choices
from usecases.models import BacklogItem, UseCase

SCALE = [(n, str(n)) for n in range(1, 6)]


def use_case_choices(organization) -> list[tuple[str, str]]:
    rows = UseCase.objects.for_org(organization).filter(archived_at__isnull=True)
    return [("", "— the whole organization")] + [
        (str(uc.number), f"{uc.key} {uc.title}") for uc in rows.order_by("number")
    ]


class BacklogItemForm(TextLimitsMixin, forms.Form):
    limits_model = BacklogItem

    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    use_case = forms.ChoiceField(required=False)
    value = forms.TypedChoiceField(
        choices=SCALE, coerce=int, initial=3, help_text="Impact: 1 nice to have, 5 essential."
    )
    effort = forms.TypedChoiceField(
        choices=SCALE, coerce=int, initial=3, help_text="1 hours, 3 days, 5 weeks."
    )
    due_on = forms.DateField(
        required=False, label="Due", widget=forms.DateInput(attrs={"type": "date"})
    )
    owner = forms.ChoiceField(required=False)

    def __init__(self, *args, organization, **kwargs):
        kwargs.setdefault("auto_id", "item_%s")  # the filters on the same page have an owner
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["use_case"].choices = use_case_choices(organization)
        self.fields["owner"].choices = member_choices(organization)

    @classmethod
    def initial_of(cls, item: BacklogItem) -> dict:
        return {
            "title": item.title,
            "description": item.description,
            "use_case": str(item.use_case.number) if item.use_case else "",
            "value": item.value,
            "effort": item.effort,
            "due_on": item.due_on,
            "owner": str(item.owner_id or ""),
        }

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        number = inputs.id_or_none(data.pop("use_case"))
        data["use_case"] = (
            UseCase.objects.for_org(self.organization).filter(number=number).first()
            if number
            else None
        )
        data["owner"] = inputs.id_or_none(data["owner"])
        return data


ORDERS = [("suggested", "Suggested rank"), ("mine", "My rank")]


class BacklogFilterForm(forms.Form):
    """What a view of the backlog shows; an unknown value shows everything, never an error."""

    kind = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    owner = forms.ChoiceField(required=False)
    use_case = forms.ChoiceField(required=False)
    order = forms.ChoiceField(choices=ORDERS, required=False)

    def __init__(self, *args, organization, fixed_use_case=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = backlog.kind_choices()
        self.fields["owner"].choices = [("", "Anyone"), ("none", "Nobody yet")] + [
            c for c in member_choices(organization) if c[0]
        ]
        self.fields["use_case"].choices = [("", "Every use case")] + use_case_choices(organization)[
            1:
        ]
        if fixed_use_case is not None:
            del self.fields["use_case"]

    def filters(self) -> dict:
        """{kinds, owner_id, use_case_number, order} from what parsed; the rest dropped."""
        data = self.cleaned_data if self.is_valid() else {}
        if not self.is_valid():  # keep each field that did parse on its own
            data = {}
            for name, field in self.fields.items():
                try:
                    data[name] = field.clean(field.widget.value_from_datadict(
                        self.data, self.files, self.add_prefix(name)))  # fmt: skip
                except forms.ValidationError:
                    data[name] = field.initial if field.initial is not None else ""
        owner = data.get("owner") or ""
        return {
            "kinds": list(data.get("kind") or []),
            "owner_id": None if owner == "none" else (inputs.id_or_none(owner) or ""),
            "use_case_number": inputs.id_or_none(data.get("use_case") or ""),
            "order": data.get("order") or "suggested",
        }


class BacklogViewForm(forms.Form):
    name = forms.CharField(max_length=80)
