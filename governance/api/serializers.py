"""Serializers of the governance API: shapes only; the services check business rules."""

from rest_framework import serializers

from genai_po.api.fields import id_field
from governance.models import (
    ChangeType,
    FollowUpStatus,
    HarmType,
    Incident,
    IncidentChannel,
    IncidentFollowUp,
    IncidentStatus,
    IncidentType,
    Release,
    ReleaseStatus,
    ReviewerRole,
    SeriousKind,
)
from usecases.api.serializers import StrictInputSerializer
from usecases.models import RiskTier


def _user(user) -> dict | None:
    return {"id": user.pk, "email": user.email, "name": user.display_name} if user else None


class ReleaseSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True, help_text="REL-<number>; never changes.")
    use_case = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField()
    eval_run = serializers.SerializerMethodField()
    hitl_policy_version = serializers.SerializerMethodField()
    gate_url = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id", "number", "key", "use_case", "name", "model", "prompt_version",
            "knowledge_snapshot", "config_hash", "eval_run", "hitl_policy_version",
            "change_type", "risk_tier", "environment", "rollout_stage", "status",
            "reviewer_roles", "owner", "target_date", "notes", "created_at", "updated_at",
            "submitted_at", "decided_at", "released_at", "gate_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_use_case(self, obj) -> dict:
        return {"id": obj.use_case_id, "key": f"UC-{obj.use_case.number}"}

    def get_owner(self, obj) -> dict | None:
        return _user(obj.owner)

    def get_eval_run(self, obj) -> dict | None:
        run = obj.eval_run
        return {"id": run.pk, "number": run.number, "plan_id": run.plan_id} if run else None

    def get_hitl_policy_version(self, obj) -> int | None:
        return obj.hitl_policy.version if obj.hitl_policy_id else None

    def get_gate_url(self, obj) -> str:
        return f"/api/v1/releases/{obj.number}/gate/"


class ReleaseWriteSerializer(StrictInputSerializer):
    use_case = id_field(help_text="The use case's id")
    name = serializers.CharField(max_length=120)
    model = serializers.CharField(max_length=200, required=False, allow_blank=True)
    prompt_version = serializers.CharField(max_length=120, required=False, allow_blank=True)
    config_hash = serializers.CharField(max_length=128, required=False, allow_blank=True)
    eval_run = id_field(required=False, allow_null=True, help_text="A full run's id")
    change_type = serializers.ChoiceField(choices=ChangeType.choices, required=False)
    risk_tier = serializers.ChoiceField(
        choices=RiskTier.choices,
        required=False,
        help_text="unacceptable is refused: such a use case is never released",
    )
    environment = serializers.CharField(max_length=60, required=False)
    target_date = serializers.DateField(required=False, allow_null=True)
    reviewer_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=ReviewerRole.choices), required=False, max_length=5
    )
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class ReleaseFilterSerializer(StrictInputSerializer):
    use_case = id_field(required=False, help_text="A use case's id")
    status = serializers.ChoiceField(choices=ReleaseStatus.choices, required=False)
    page = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)


class BlockerSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["release", "item", "sign_off"])
    state = serializers.ChoiceField(choices=["blocked", "insufficient_evidence"])
    message = serializers.CharField()
    url = serializers.CharField(help_text="Where it is resolved, in the browser")


class GateItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    kind = serializers.CharField()
    state = serializers.ChoiceField(
        choices=["met", "blocked", "insufficient_evidence", "waived", "not_applicable"]
    )
    detail = serializers.CharField()


class GateSerializer(serializers.Serializer):
    release = serializers.CharField(help_text="REL-<number>")
    verdict = serializers.ChoiceField(choices=["ready", "blocked", "insufficient_evidence"])
    blockers = BlockerSerializer(many=True)
    items = GateItemSerializer(many=True)
    sign_offs_required = serializers.IntegerField()
    sign_offs_fresh = serializers.IntegerField()
    state_hash = serializers.CharField()
    status = serializers.CharField()
    rollout_stage = serializers.CharField()


class HitlActionSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    reversibility = serializers.ChoiceField(choices=["reversible", "costly", "irreversible"])
    risk = serializers.ChoiceField(choices=["low", "medium", "high"])
    autonomy = serializers.ChoiceField(choices=["autonomous", "human_review", "forbidden"])
    reason = serializers.CharField()


class HitlPolicySerializer(serializers.Serializer):
    use_case = serializers.CharField(help_text="UC-<number>")
    version = serializers.IntegerField()
    approved_in = serializers.CharField(
        allow_null=True, help_text="The release that approved this version (null: none yet)"
    )
    actions = HitlActionSerializer(many=True)
    created_at = serializers.DateTimeField()


# --------------------------------------------------------------------------- incidents


class FollowUpSerializer(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField()

    class Meta:
        model = IncidentFollowUp
        fields = ["id", "title", "owner", "due_date", "status", "note", "updated_at"]
        read_only_fields = fields

    def get_owner(self, obj) -> dict | None:
        return _user(obj.owner)


class IncidentSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True, help_text="INC-<number>; never changes.")
    use_case = serializers.SerializerMethodField()
    release = serializers.SerializerMethodField()
    reporter = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField()
    type = serializers.CharField(source="incident_type", read_only=True)
    follow_ups = FollowUpSerializer(many=True, read_only=True)
    context_gaps = serializers.SerializerMethodField()
    regression_case = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id", "number", "key", "title", "summary", "use_case", "release", "environment",
            "reporter", "reporter_label", "channel", "owner", "occurred_at", "discovered_at",
            "aware_at", "type", "severity", "affected_users", "affected_description",
            "harm_types", "expected", "actual", "steps_to_reproduce", "evidence_links",
            "root_cause", "mitigation", "fix_plan", "prevention_plan", "status", "serious",
            "serious_kind", "serious_rationale", "deadline_at", "initial_report_at",
            "complete_report_at", "reminder_sent_at", "follow_ups", "context_gaps",
            "regression_case", "created_at", "updated_at", "closed_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_use_case(self, obj) -> dict:
        return {"id": obj.use_case_id, "key": f"UC-{obj.use_case.number}"}

    def get_release(self, obj) -> dict | None:
        r = obj.release
        return {"id": r.pk, "number": r.number, "key": r.key} if r else None

    def get_reporter(self, obj) -> dict | None:
        return _user(obj.reporter)

    def get_owner(self, obj) -> dict | None:
        return _user(obj.owner)

    def get_context_gaps(self, obj) -> list[dict]:
        return [
            {"id": link.gap_id, "key": f"GAP-{link.gap.number}"} for link in obj.gap_links.all()
        ]

    def get_regression_case(self, obj) -> dict | None:
        case = obj.regression_case
        return {"id": case.pk, "key": case.key, "plan_id": case.plan_id} if case else None


class IncidentWriteSerializer(StrictInputSerializer):
    """Every field of the report; on PATCH, only those sent change."""

    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(max_length=5000)
    use_case = id_field(help_text="The use case's id")
    release = id_field(required=False, allow_null=True, help_text="A release of the use case")
    environment = serializers.CharField(max_length=60, required=False)
    reporter = id_field(required=False, allow_null=True, help_text="A member's user id")
    reporter_label = serializers.CharField(
        max_length=254, required=False, allow_blank=True,
        help_text="Who reported it, when not a member (required then)",
    )  # fmt: skip
    channel = serializers.ChoiceField(choices=IncidentChannel.choices)
    owner = id_field(required=False, allow_null=True, help_text="A member's user id")
    occurred_at = serializers.DateTimeField()
    discovered_at = serializers.DateTimeField()
    aware_at = serializers.DateTimeField(help_text="Starts the Article 73 clock")
    type = serializers.ChoiceField(choices=IncidentType.choices)
    severity = serializers.IntegerField(min_value=1, max_value=4, help_text="1 is the most severe")
    affected_users = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, required=False, allow_null=True
    )
    affected_description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    harm_types = serializers.ListField(
        child=serializers.ChoiceField(choices=HarmType.choices), required=False, max_length=10
    )
    evidence_links = serializers.ListField(
        child=serializers.CharField(max_length=1000), required=False, max_length=20
    )
    serious = serializers.BooleanField(required=False)
    serious_kind = serializers.ChoiceField(
        choices=SeriousKind.choices, required=False, allow_blank=True
    )
    serious_rationale = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    expected = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    actual = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    steps_to_reproduce = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    root_cause = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    mitigation = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    fix_plan = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    prevention_plan = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class IncidentStatusSerializer(StrictInputSerializer):
    status = serializers.ChoiceField(choices=IncidentStatus.choices)


class IncidentReportSerializer(StrictInputSerializer):
    which = serializers.ChoiceField(choices=["initial", "complete"])
    at = serializers.DateTimeField(required=False, help_text="When it was sent; now if absent")


class FollowUpWriteSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=300)
    owner = id_field(required=False, allow_null=True, help_text="A member's user id")
    due_date = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=FollowUpStatus.choices, required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class IncidentFilterSerializer(StrictInputSerializer):
    use_case = id_field(required=False, help_text="A use case's id")
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    severity = serializers.IntegerField(min_value=1, max_value=4, required=False)
    serious = serializers.BooleanField(required=False, allow_null=True, default=None)
    page = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
