"""Forms of the context area. Every choice list is the organization's own (a bare
`Model.objects.all()` here would be a leak); the services check business rules."""

from django import forms

from context.models import (
    USABLE_APPROVALS,
    Answer,
    AnswerReview,
    ApprovalStatus,
    Classification,
    Confidence,
    ContextGap,
    ContextSource,
    DetectedBy,
    GapStatus,
    KnowledgeItem,
    Priority,
    ReviewDecision,
    Severity,
    SourceType,
)
from context.services.gaps import MANUAL_STATUSES
from context.services.smes import ANSWERING_ROLES
from genai_po.forms import (
    BoundedModelMultipleChoiceField,
    MemberChoiceField,
    TextLimitsMixin,
    members,
)
from genai_po.models import User
from usecases.models import Requirement, UseCase


class MemberMultipleChoiceField(BoundedModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


def use_case_choices(organization):
    return UseCase.objects.for_org(organization).filter(archived_at__isnull=True).order_by("number")


class CitationChoices(BoundedModelMultipleChoiceField):
    def label_from_instance(self, obj):
        if obj.freshness == "stale":
            return f"{obj.name} (stale: its review is overdue)"
        return obj.name


class UseCaseChoices(BoundedModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.key} {obj.title}"


class SourceForm(TextLimitsMixin, forms.Form):
    limits_model = ContextSource

    name = forms.CharField()
    source_type = forms.ChoiceField(choices=SourceType.choices, label="Type")
    location = forms.CharField(help_text="A URL, a path, a table name: where it lives.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    owner = MemberChoiceField(queryset=User.objects.none(), required=False)
    steward = MemberChoiceField(queryset=User.objects.none(), required=False)
    smes = MemberMultipleChoiceField(queryset=User.objects.none(), required=False, label="SMEs")
    use_cases = UseCaseChoices(
        queryset=UseCase.objects.none(), required=False, label="Use cases it covers"
    )
    classification = forms.ChoiceField(
        choices=Classification.choices, initial=Classification.INTERNAL
    )
    review_every_days = forms.IntegerField(
        min_value=1, max_value=3650, initial=90, label="Review every (days)"
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members(organization)
        self.fields["steward"].queryset = members(organization)
        self.fields["smes"].queryset = members(organization, ANSWERING_ROLES)
        self.fields["use_cases"].queryset = use_case_choices(organization)
        for name in ("smes", "use_cases"):
            self.fields[name].widget.attrs["size"] = "4"

    def service_data(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k not in ("smes", "use_cases")}


class ApprovalForm(forms.Form):
    approval_status = forms.ChoiceField(choices=ApprovalStatus.choices)


class GapForm(TextLimitsMixin, forms.Form):
    limits_model = ContextGap

    question = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The question the AI could not answer, as a user asks it.",
    )
    detected_by = forms.ChoiceField(
        choices=[c for c in DetectedBy.choices if c[0] != DetectedBy.EVAL_FAILURE],
        initial=DetectedBy.MANUAL,
        label="Found by",
        help_text="Eval failures open gaps from the run page, by triage.",
    )
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.MEDIUM)
    priority = forms.ChoiceField(
        choices=[("", "From its impact"), *Priority.choices], required=False
    )
    tags = forms.CharField(
        required=False,
        max_length=1300,
        help_text="Comma-separated topics an SME's expertise matches, e.g. refunds, gift-cards",
    )
    use_cases = UseCaseChoices(
        queryset=UseCase.objects.none(), required=False, label="Affected use cases"
    )
    requirements = BoundedModelMultipleChoiceField(
        queryset=Requirement.objects.none(), required=False, label="Affected requirements"
    )

    def __init__(self, *args, organization, edit: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["use_cases"].queryset = use_case_choices(organization)
        self.fields["requirements"].queryset = (
            Requirement.objects.for_org(organization)
            .select_related("use_case")
            .order_by("use_case__number", "number")
        )
        self.fields["requirements"].label_from_instance = lambda r: (
            f"{r.use_case.key} {r.key}: {r.statement[:80]}"
        )
        for name in ("use_cases", "requirements"):
            self.fields[name].widget.attrs["size"] = "4"
        if edit:
            del self.fields["detected_by"]


class RouteForm(forms.Form):
    assignee = MemberChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Match by expertise"
    )
    backup = MemberChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Their usual backup"
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = members(organization, ANSWERING_ROLES)
        self.fields["backup"].queryset = members(organization, ANSWERING_ROLES)


class GapStatusForm(TextLimitsMixin, forms.Form):
    limits_model = ContextGap

    status = forms.ChoiceField(
        choices=[("", "Choose…"), *((s, GapStatus(s).label) for s in MANUAL_STATUSES)]
    )
    resolution = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Required for won't fix.",
    )
    duplicate_of = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31,
        label="Duplicate of (its GAP number)",
        help_text="For a duplicate: e.g. 3 for GAP-3.",
    )


class AnswerForm(TextLimitsMixin, forms.Form):
    limits_model = Answer

    title = forms.CharField()
    question = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="The question(s) it answers."
    )
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        label="Answer",
        help_text="Markdown. The AI retrieves this text.",
    )
    scope = forms.CharField(
        required=False, help_text="When it applies: product, region, segment, dates."
    )
    confidence = forms.ChoiceField(
        choices=Confidence.choices,
        initial=Confidence.MEDIUM,
        help_text="High: stated by the source of record. Low: your best judgment.",
    )
    citations = CitationChoices(
        queryset=ContextSource.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Approved sources it rests on. A stale one is marked: check it first.",
    )
    use_cases = UseCaseChoices(
        queryset=UseCase.objects.none(),
        required=False,
        help_text="None: every use case may use it.",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["citations"].queryset = ContextSource.objects.for_org(organization).filter(
            approval_status__in=USABLE_APPROVALS
        )
        self.fields["use_cases"].queryset = use_case_choices(organization)
        self.fields["use_cases"].widget.attrs["size"] = "4"

    def service_data(self) -> dict:
        return {
            f: self.cleaned_data[f] for f in ("title", "question", "body", "scope", "confidence")
        }


class ReviewForm(TextLimitsMixin, forms.Form):
    limits_model = AnswerReview

    decision = forms.ChoiceField(choices=ReviewDecision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required to request changes.",
    )
    review_by = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Review the knowledge again by",
        help_text="Default: in 180 days.",
    )


class RetireForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        help_text="Required. The gaps it answered open again, and the AI stops retrieving it.",
    )


class SmeProfileForm(forms.Form):
    tags = forms.CharField(
        required=False, max_length=1300, help_text="Comma-separated: refunds, shipping, gift-cards"
    )
    backup = MemberChoiceField(queryset=User.objects.none(), required=False)
    available = forms.BooleanField(required=False, initial=True, label="Takes new questions")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["backup"].queryset = members(organization, ANSWERING_ROLES)


class ContextSettingsForm(forms.Form):
    sla_business_days = forms.IntegerField(
        min_value=1, max_value=60, label="SME answer SLA (business days)"
    )


class KnowledgeUseForm(forms.Form):
    knowledge = forms.ModelChoiceField(queryset=KnowledgeItem.objects.none())

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["knowledge"].queryset = KnowledgeItem.objects.for_org(organization).filter(
            status="published"
        )
