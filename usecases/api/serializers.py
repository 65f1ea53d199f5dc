"""Shapes of the use-case API: what it shows, and what it accepts before a service
validates the rules (owners are members, titles are given, gates are met)."""

from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from genai_po.api.fields import id_field
from usecases.models import (
    PRD_SECTIONS,
    Criterion,
    HumanInvolvement,
    PrdVersion,
    Requirement,
    RequirementStatus,
    RequirementType,
    RiskTier,
    Stage,
    StageTransition,
    UseCase,
    UseCaseStatus,
    VerificationKind,
    VerificationMethod,
)

# --- Building blocks


class StrictInputSerializer(serializers.Serializer):
    """Refuses keys it does not accept: a typo or a read-only field is never ignored silently.

    `hints` says what to do instead for keys a client may expect to work.
    """

    hints: dict[str, str] = {}

    def unknown_message(self, key: str) -> str:
        return self.hints.get(key, "Unknown field.")

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = {key: [self.unknown_message(key)] for key in data if key not in writable}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, Mapping):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


@extend_schema_field(OpenApiTypes.INT)
class OrgPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """The id of an object of the request's organization.

    The queryset is built per request from the token's organization, never
    `Model.objects.all()`: another organization's id gets exactly the answer of an
    id that does not exist.
    """

    def __init__(self, model, noun: str, **kwargs):
        self.model = model
        kwargs.setdefault(
            "error_messages",
            {
                "does_not_exist": f"No such {noun}.",
                "incorrect_type": f"Give the {noun}'s id, a number.",
            },
        )
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.for_org(self.context["request"].organization)


class ErrorSerializer(serializers.Serializer):
    """Every error: a readable `message`, a `code`, and for invalid input `errors` by field."""

    message = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False, child=serializers.JSONField())


def _score_input():
    return serializers.IntegerField(min_value=1, max_value=5, allow_null=True, required=False)


def _text(max_length=None, **kwargs):
    return serializers.CharField(required=False, allow_blank=True, max_length=max_length, **kwargs)


# --- Use cases


class UseCaseScoresSerializer(serializers.Serializer):
    """The six prioritization scores of the guide, 1-5, null while not scored."""

    volume = serializers.IntegerField(source="score_volume", allow_null=True, read_only=True)
    owner = serializers.IntegerField(source="score_owner", allow_null=True, read_only=True)
    observable = serializers.IntegerField(
        source="score_observable", allow_null=True, read_only=True
    )
    risk = serializers.IntegerField(source="score_risk", allow_null=True, read_only=True)
    context = serializers.IntegerField(source="score_context", allow_null=True, read_only=True)
    reuse = serializers.IntegerField(source="score_reuse", allow_null=True, read_only=True)


class UseCaseSerializer(serializers.ModelSerializer):
    """A use-case brief with its lifecycle stage, scores and rank."""

    key = serializers.CharField(read_only=True, help_text="UC-<number>; never changes.")
    owner = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="User id of the owner."
    )
    owner_email = serializers.EmailField(source="owner.email", read_only=True, allow_null=True)
    archived = serializers.SerializerMethodField()
    scores = UseCaseScoresSerializer(source="*", read_only=True)
    rank = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="1 = highest priority among the organization's active, fully scored use "
        "cases; null while unscored or archived.",
    )

    class Meta:
        model = UseCase
        fields = [
            "id", "key", "number", "title", "problem", "workflow", "target_users",
            "user_count", "owner", "owner_email", "department", "value_hypothesis",
            "metric_name", "metric_unit", "metric_baseline", "metric_target", "stage",
            "risk_tier", "human_involvement", "status", "archived", "archived_at", "scores",
            "priority_score", "rank", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_archived(self, use_case) -> bool:
        return use_case.archived_at is not None


class ScoresInputSerializer(StrictInputSerializer):
    """Some of the six scores: 1-5 each, or null to clear one."""

    volume = _score_input()
    owner = _score_input()
    observable = _score_input()
    risk = _score_input()
    context = _score_input()
    reuse = _score_input()

    def unknown_message(self, key: str) -> str:
        return f"Unknown criterion. Known: {', '.join(Criterion.values)}."


_READ_ONLY_HINT = "Read-only."


class BriefInputSerializer(StrictInputSerializer):
    """The brief fields a client may set; the services check the rest."""

    hints = {
        "stage": "Move a use case with POST /api/v1/use-cases/{id}/stage/.",
        **dict.fromkeys(
            ["id", "key", "number", "priority_score", "rank", "owner_email", "archived_at",
             "created_at", "updated_at"],
            _READ_ONLY_HINT,
        ),
    }  # fmt: skip

    title = serializers.CharField(required=False, max_length=200)
    problem = _text()
    workflow = _text()
    target_users = _text(200)
    user_count = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2_147_483_647
    )
    owner = id_field(
        required=False, allow_null=True, help_text="User id of a member of the organization."
    )
    department = _text(120)
    value_hypothesis = _text()
    metric_name = _text(120)
    metric_unit = _text(40)
    metric_baseline = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    metric_target = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    risk_tier = serializers.ChoiceField(choices=RiskTier.choices, required=False)
    human_involvement = serializers.ChoiceField(choices=HumanInvolvement.choices, required=False)
    status = serializers.ChoiceField(choices=UseCaseStatus.choices, required=False)
    scores = ScoresInputSerializer(required=False)


class UseCaseCreateSerializer(BriefInputSerializer):
    """A new use case (stage discover): a title, any brief fields, optionally scores."""

    hints = {
        **BriefInputSerializer.hints,
        "archived": "Create the use case, then archive it with PATCH.",
    }

    title = serializers.CharField(max_length=200)


class UseCaseUpdateSerializer(BriefInputSerializer):
    """Changes to a use case: brief fields, scores, and `archived` to archive or restore."""

    archived = serializers.BooleanField(required=False)


class UseCaseFilterSerializer(serializers.Serializer):
    """Query parameters of the use-case list."""

    ORDERINGS = ["rank", "-rank", "key", "-key", "updated", "-updated"]

    stage = serializers.ChoiceField(choices=Stage.choices, required=False, allow_blank=True)
    owner = id_field(required=False, help_text="User id of the owner.")
    status = serializers.ChoiceField(
        choices=UseCaseStatus.choices, required=False, allow_blank=True
    )
    risk_tier = serializers.ChoiceField(choices=RiskTier.choices, required=False, allow_blank=True)
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="In title, problem, department"
    )
    archived = serializers.BooleanField(
        required=False, default=False, help_text="true: only archived use cases"
    )
    ordering = serializers.ChoiceField(
        choices=ORDERINGS,
        required=False,
        default="rank",
        help_text="rank (highest priority first, unscored last), key (UC-1 first), updated "
        "(least recently updated first); '-' reverses.",
    )


class StageMoveSerializer(StrictInputSerializer):
    to_stage = serializers.ChoiceField(choices=Stage.choices)
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Needed when a gate criterion is not met; recorded in the audit trail.",
    )


class GateCheckSerializer(serializers.Serializer):
    label = serializers.CharField()
    state = serializers.ChoiceField(choices=["met", "missing", "unavailable"])
    detail = serializers.CharField()


class StageTransitionSerializer(serializers.ModelSerializer):
    """One move between lifecycle stages, with the gate criteria that were not met."""

    actor = serializers.CharField(source="actor_label", read_only=True)
    unmet = GateCheckSerializer(many=True, read_only=True)

    class Meta:
        model = StageTransition
        fields = ["id", "use_case", "from_stage", "to_stage", "overridden", "override_reason",
                  "unmet", "actor", "created_at"]  # fmt: skip
        read_only_fields = fields


# --- Requirements


class VerificationSerializer(serializers.Serializer):
    """Something that verifies a requirement: a named human review, an eval case, a monitor
    (from the app that verifies)."""

    kind = serializers.ChoiceField(choices=VerificationKind.choices, read_only=True)
    name = serializers.CharField(read_only=True)
    owner = serializers.IntegerField(source="owner.pk", read_only=True, allow_null=True)
    owner_email = serializers.EmailField(read_only=True, allow_null=True)
    url = serializers.CharField(
        read_only=True, help_text="Where it lives in the browser (a path of this workspace)."
    )
    review_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The id of a named human review, else null."
    )


class RequirementSerializer(serializers.ModelSerializer):
    """A behavioral requirement of a use case's PRD, with its stable key and verifications."""

    key = serializers.CharField(read_only=True, help_text="REQ-<number>; never reused.")
    use_case = serializers.PrimaryKeyRelatedField(read_only=True)
    use_case_key = serializers.CharField(source="use_case.key", read_only=True)
    owner = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    owner_email = serializers.EmailField(source="owner.email", read_only=True, allow_null=True)
    verifications = VerificationSerializer(source="verified_by", many=True, read_only=True)

    class Meta:
        model = Requirement
        fields = [
            "id", "key", "number", "use_case", "use_case_key", "statement", "type",
            "launch_blocking", "owner", "owner_email", "verification_method", "status",
            "position", "verifications", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class RequirementUpdateSerializer(StrictInputSerializer):
    """Changes to a requirement; its key and use case never change."""

    hints = {
        "use_case": "A requirement stays with its use case: add a new one there instead.",
        "key": "Keys are given once and never change.",
        "number": "Keys are given once and never change.",
        **dict.fromkeys(
            ["id", "use_case_key", "owner_email", "position", "verifications", "created_at",
             "updated_at"],
            _READ_ONLY_HINT,
        ),
    }  # fmt: skip

    statement = serializers.CharField(required=False, max_length=2000)
    type = serializers.ChoiceField(choices=RequirementType.choices, required=False)
    launch_blocking = serializers.BooleanField(required=False)
    owner = id_field(
        required=False, allow_null=True, help_text="User id of a member of the organization."
    )
    verification_method = serializers.ChoiceField(
        choices=VerificationMethod.choices, required=False
    )
    status = serializers.ChoiceField(choices=RequirementStatus.choices, required=False)


class RequirementCreateSerializer(RequirementUpdateSerializer):
    """A new requirement of a use case; it gets the use case's next REQ key."""

    hints = {k: v for k, v in RequirementUpdateSerializer.hints.items() if k != "use_case"}

    use_case = OrgPrimaryKeyRelatedField(UseCase, "use case", help_text="Id of the use case.")
    statement = serializers.CharField(max_length=2000)


class RequirementFilterSerializer(serializers.Serializer):
    """Query parameters of the requirement list."""

    use_case = id_field(required=False, help_text="Id of the use case.")
    launch_blocking = serializers.BooleanField(required=False)
    status = serializers.ChoiceField(
        choices=RequirementStatus.choices, required=False, allow_blank=True
    )
    type = serializers.ChoiceField(
        choices=RequirementType.choices, required=False, allow_blank=True
    )


# --- AI PRD


class PrdSectionsSerializer(serializers.Serializer):
    """The PRD's sections, as text (Markdown)."""

    def get_fields(self):
        return {
            key: serializers.CharField(read_only=True, help_text=label)
            for key, label in PRD_SECTIONS
        }


class PrdSectionsInputSerializer(StrictInputSerializer):
    """Sections to change; sections left out keep their text."""

    def get_fields(self):
        return {
            key: serializers.CharField(
                required=False, allow_blank=True, max_length=20000, help_text=label
            )
            for key, label in PRD_SECTIONS
        }

    def unknown_message(self, key: str) -> str:
        return f"Unknown section. Known: {', '.join(k for k, _ in PRD_SECTIONS)}."


class PrdSaveSerializer(StrictInputSerializer):
    """Save the PRD as its next version."""

    sections = PrdSectionsInputSerializer()
    summary = serializers.CharField(max_length=300, help_text="What changed, in a few words.")


class UnverifiedSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="REQ-<number>")
    reasons = serializers.ListField(child=serializers.CharField())


class ReadinessSerializer(serializers.Serializer):
    """Ready when the PRD has requirements and every launch-blocking one has an owner and a
    verification."""

    ready = serializers.BooleanField()
    requirement_count = serializers.IntegerField()
    launch_blocking_count = serializers.IntegerField()
    unverified = UnverifiedSerializer(many=True)


class PrdSerializer(serializers.Serializer):
    """The current AI PRD of a use case. Version 0: not saved yet (sections from the
    organization's template)."""

    use_case = serializers.IntegerField()
    use_case_key = serializers.CharField()
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)
    sections = PrdSectionsSerializer()
    requirements = RequirementSerializer(many=True)
    readiness = ReadinessSerializer()


class PrdVersionSummarySerializer(serializers.ModelSerializer):
    """A saved version of the PRD: who, when, what changed."""

    author = serializers.CharField(source="author_label", read_only=True)

    class Meta:
        model = PrdVersion
        fields = ["number", "author", "created_at", "summary"]
        read_only_fields = fields


class RequirementSnapshotSerializer(serializers.Serializer):
    key = serializers.CharField()
    statement = serializers.CharField()
    type = serializers.CharField()
    launch_blocking = serializers.BooleanField()
    owner = serializers.CharField(allow_null=True, help_text="Owner's email at that time")
    verification_method = serializers.CharField()
    status = serializers.CharField()


class PrdVersionContentSerializer(serializers.Serializer):
    sections = PrdSectionsSerializer()
    requirements = RequirementSnapshotSerializer(many=True)


class PrdVersionSerializer(PrdVersionSummarySerializer):
    """A saved version with its content: the sections and requirements at that moment."""

    content = serializers.SerializerMethodField()

    class Meta(PrdVersionSummarySerializer.Meta):
        fields = [*PrdVersionSummarySerializer.Meta.fields, "content"]
        read_only_fields = fields

    @extend_schema_field(PrdVersionContentSerializer)
    def get_content(self, version) -> dict:
        content = version.content or {}
        sections = content.get("sections", {})
        return {
            "sections": {key: sections.get(key, "") for key, _ in PRD_SECTIONS},
            "requirements": content.get("requirements", []),
        }
