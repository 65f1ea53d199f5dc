"""Serializers of the context API: shapes only; the services check business rules."""

from rest_framework import serializers

from context.models import (
    Answer,
    ApprovalStatus,
    Classification,
    Confidence,
    ContextGap,
    ContextSource,
    DetectedBy,
    GapStatus,
    KnowledgeItem,
    Priority,
    Severity,
    SourceType,
)
from context.services.gaps import MANUAL_STATUSES
from genai_po.api.fields import id_field, number_field


def _user(user) -> dict | None:
    return {"id": user.pk, "email": user.email, "name": user.display_name} if user else None


class SourceSerializer(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField()
    steward = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    last_verified_by = serializers.SerializerMethodField()
    use_cases = serializers.SerializerMethodField()
    smes = serializers.SerializerMethodField()

    class Meta:
        model = ContextSource
        fields = [
            "id",
            "name",
            "source_type",
            "location",
            "description",
            "owner",
            "steward",
            "smes",
            "use_cases",
            "approval_status",
            "approved_by",
            "approved_at",
            "classification",
            "review_every_days",
            "last_verified_at",
            "last_verified_by",
            "next_review_due",
            "freshness",
            "created_at",
            "updated_at",
        ]

    def get_owner(self, obj) -> dict | None:
        return _user(obj.owner)

    def get_steward(self, obj) -> dict | None:
        return _user(obj.steward)

    def get_approved_by(self, obj) -> dict | None:
        return _user(obj.approved_by)

    def get_last_verified_by(self, obj) -> dict | None:
        return _user(obj.last_verified_by)

    def get_use_cases(self, obj) -> list[str]:
        return [link.use_case.key for link in obj.use_case_links.all()]

    def get_smes(self, obj) -> list[str]:
        return [link.user.email for link in obj.sme_links.all()]


class SourceWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    source_type = serializers.ChoiceField(choices=SourceType.choices)
    location = serializers.CharField(max_length=1000)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    owner = id_field(required=False, allow_null=True)
    steward = id_field(required=False, allow_null=True)
    classification = serializers.ChoiceField(choices=Classification.choices, required=False)
    review_every_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    approval_status = serializers.ChoiceField(choices=ApprovalStatus.choices, required=False)
    use_cases = serializers.ListField(child=id_field(), max_length=100, required=False)
    smes = serializers.ListField(child=id_field(), max_length=100, required=False)


class SourceListFilterSerializer(serializers.Serializer):
    freshness = serializers.ChoiceField(choices=["fresh", "due", "stale"], required=False)
    approval_status = serializers.ChoiceField(choices=ApprovalStatus.choices, required=False)
    source_type = serializers.ChoiceField(choices=SourceType.choices, required=False)
    use_case = id_field(required=False)


class GapSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    assigned_to = serializers.SerializerMethodField()
    backup = serializers.SerializerMethodField()
    knowledge = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    use_cases = serializers.SerializerMethodField()
    duplicate_of = serializers.SerializerMethodField()

    class Meta:
        model = ContextGap
        fields = [
            "id",
            "number",
            "key",
            "question",
            "detected_by",
            "status",
            "severity",
            "priority",
            "impact",
            "failing_cases",
            "tags",
            "use_cases",
            "assigned_to",
            "backup",
            "routed_at",
            "due_at",
            "answered_at",
            "published_at",
            "verified_at",
            "closed_at",
            "knowledge",
            "duplicate_of",
            "resolution",
            "verification_note",
            "created_at",
            "updated_at",
        ]

    def get_assigned_to(self, obj) -> dict | None:
        return _user(obj.assigned_to)

    def get_backup(self, obj) -> dict | None:
        return _user(obj.backup)

    def get_knowledge(self, obj) -> str | None:
        return obj.knowledge.key if obj.knowledge_id else None

    def get_duplicate_of(self, obj) -> str | None:
        return f"GAP-{obj.duplicate_of.number}" if obj.duplicate_of_id else None

    def get_tags(self, obj) -> list[str]:
        return sorted(link.tag.name for link in obj.tag_links.all())

    def get_use_cases(self, obj) -> list[str]:
        return [link.use_case.key for link in obj.use_case_links.all()]


class GapWriteSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=1000)
    detected_by = serializers.ChoiceField(
        choices=[c for c in DetectedBy.choices if c[0] != DetectedBy.EVAL_FAILURE],
        required=False,
        help_text="eval_failure is recorded by triaging a failed case (POST .../triage/)",
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60), max_length=20, required=False
    )
    use_cases = serializers.ListField(child=id_field(), max_length=100, required=False)
    requirements = serializers.ListField(child=id_field(), max_length=200, required=False)


class GapListFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("open", "open"), *GapStatus.choices], required=False)
    use_case = id_field(required=False)
    assigned_to = id_field(required=False)


class GapRouteSerializer(serializers.Serializer):
    assignee = id_field(required=False, allow_null=True)
    backup = id_field(required=False, allow_null=True)


class GapStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[(s, s) for s in MANUAL_STATUSES])
    resolution = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    duplicate_of = number_field(required=False, allow_null=True, help_text="The gap number (GAP-n)")


class AnswerWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    question = serializers.CharField(max_length=1000)
    body = serializers.CharField(max_length=20_000)
    scope = serializers.CharField(max_length=500, required=False, allow_blank=True)
    confidence = serializers.ChoiceField(choices=Confidence.choices, required=False)
    citations = serializers.ListField(child=id_field(), max_length=20, required=False)


class AnswerSerializer(serializers.ModelSerializer):
    gap = serializers.SerializerMethodField()

    class Meta:
        model = Answer
        fields = [
            "id",
            "gap",
            "title",
            "question",
            "body",
            "scope",
            "confidence",
            "status",
            "author_label",
            "created_at",
        ]

    def get_gap(self, obj) -> str | None:
        return obj.gap.key if obj.gap_id else None


class KnowledgeSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    answer = serializers.CharField(source="body", read_only=True)
    version = serializers.SerializerMethodField()
    use_cases = serializers.SerializerMethodField()
    citations = serializers.SerializerMethodField()

    class Meta:
        model = KnowledgeItem
        fields = [
            "id",
            "key",
            "title",
            "question",
            "answer",
            "scope",
            "status",
            "version",
            "use_cases",
            "citations",
            "review_by",
            "published_at",
        ]

    def get_version(self, obj) -> int | None:
        return obj.current.number if obj.current_id else None

    def get_use_cases(self, obj) -> list[str]:
        return [link.use_case.key for link in obj.use_case_links.all()]

    def get_citations(self, obj) -> list[dict]:
        if not obj.current_id:
            return []
        return [
            {"name": link.source.name, "location": link.source.location}
            for link in obj.current.citation_links.all()
        ]


class KnowledgeHitSerializer(KnowledgeSerializer):
    score = serializers.FloatField()

    class Meta(KnowledgeSerializer.Meta):
        fields = [*KnowledgeSerializer.Meta.fields, "score"]


class KnowledgeSearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=1000, trim_whitespace=True)
    use_case = serializers.CharField(
        max_length=30, required=False, help_text="The use case's key (UC-3) or id"
    )
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False, default=10)


def knowledge_hit_data(item: KnowledgeItem, score: float) -> dict:
    """What KnowledgeHitSerializer gives for a search hit, written out by hand: the search is
    on the AI's hot path and DRF's field machinery would be a third of its time. A test
    checks the two agree."""
    current = item.current
    return {
        "id": item.pk, "key": item.key, "title": item.title, "question": item.question,
        "answer": item.body, "scope": item.scope, "status": item.status,
        "version": current.number if current else None,
        "use_cases": [link.use_case.key for link in item.use_case_links.all()],
        "citations": [{"name": link.source.name, "location": link.source.location}
                      for link in current.citation_links.all()] if current else [],
        "review_by": item.review_by.isoformat() if item.review_by else None,
        "published_at": item.published_at.isoformat().replace("+00:00", "Z")
        if item.published_at else None,
        "score": score,
    }  # fmt: skip
