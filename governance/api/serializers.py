"""Serializers of the governance API: shapes only; the services check business rules."""

from rest_framework import serializers

from genai_po.api.fields import id_field
from governance.models import ChangeType, Release, ReleaseStatus, ReviewerRole
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
    actions = HitlActionSerializer(many=True)
    created_at = serializers.DateTimeField()
