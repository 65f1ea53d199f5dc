"""Shapes of the metrics API, for the schema and the docs (ingestion checks each event
itself, in `metrics.ingest`, to report every rejected event by its index)."""

from rest_framework import serializers

from genai_po.api.fields import id_field
from metrics.ingest import FLAGS
from metrics.models import (
    Alert,
    AlertAction,
    AlertCondition,
    AlertMetric,
    AlertRule,
    BusinessMetricReading,
    EventType,
    Outcome,
)
from usecases.api.serializers import StrictInputSerializer


class TelemetryEventSerializer(serializers.Serializer):
    event_id = serializers.CharField(
        max_length=128, help_text="Idempotency key: sent twice, stored once"
    )
    use_case = serializers.CharField(help_text="The use case's key (UC-3) or id")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone")
    type = serializers.ChoiceField(choices=EventType.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False)
    user = serializers.CharField(
        required=False, max_length=256,
        help_text="A pseudonymous reference; an email is stored as its SHA-256",
    )  # fmt: skip
    session_id = serializers.CharField(required=False, max_length=128)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=FLAGS), required=False)
    latency_ms = serializers.IntegerField(required=False, min_value=0)
    tokens_in = serializers.IntegerField(required=False, min_value=0)
    tokens_out = serializers.IntegerField(required=False, min_value=0)
    cost = serializers.FloatField(required=False, min_value=0)
    minutes_saved = serializers.FloatField(required=False, min_value=0, max_value=1440)
    model = serializers.CharField(required=False, max_length=120)
    input = serializers.CharField(required=False, max_length=20_000)
    output = serializers.CharField(required=False, max_length=20_000)
    knowledge_ids = serializers.ListField(
        child=serializers.CharField(), required=False, max_length=50,
        help_text="The retrieved knowledge items' keys (KB-12)",
    )  # fmt: skip
    metadata = serializers.DictField(required=False, help_text="At most 50 keys, 4 KB as JSON")


class TelemetryBatchSerializer(serializers.Serializer):
    events = TelemetryEventSerializer(many=True, help_text="At most 5,000 events, 5 MB")


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Its position in `events`, from 0")
    event_id = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Stored now")
    duplicates = serializers.IntegerField(help_text="Stored before, or twice in this batch")
    rejected = RejectedEventSerializer(many=True)


# --------------------------------------------------------------------------- dashboards


class DashboardFilterSerializer(StrictInputSerializer):
    use_case = id_field(required=False, help_text="A use case's id; none: the portfolio")
    range = serializers.ChoiceField(choices=["24h", "7d", "30d", "90d"], required=False)
    start = serializers.DateField(required=False, help_text="With end: both days included")
    end = serializers.DateField(required=False)


class DashboardSerializer(serializers.Serializer):
    """The figures of a dashboard and the data of each chart (the CSV's columns and rows)."""

    use_case = serializers.CharField(allow_null=True)
    range = serializers.DictField()
    totals = serializers.DictField(help_text="Sums of the range's rollups")
    rates = serializers.DictField(help_text="0 to 1, or null when there is nothing to divide by")
    latency_ms = serializers.FloatField(allow_null=True)
    cost_per_success = serializers.FloatField(allow_null=True)
    roi = serializers.DictField()
    assumptions = serializers.DictField()
    users = serializers.DictField()
    context = serializers.DictField()
    charts = serializers.DictField(help_text="{key: {title, columns, rows}}")
    definitions = serializers.DictField(help_text="{metric: formula}")


# --------------------------------------------------------------------------- alerts


class AlertRuleSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    use_case_key = serializers.CharField(source="use_case.key", read_only=True)

    class Meta:
        model = AlertRule
        fields = ["key", "number", "use_case", "use_case_key", "metric", "condition",
                  "threshold", "window_hours", "min_interactions", "action", "enabled",
                  "created_by_label", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = fields


class AlertRuleWriteSerializer(StrictInputSerializer):
    use_case = id_field(help_text="The use case's id")
    metric = serializers.ChoiceField(choices=AlertMetric.choices)
    condition = serializers.ChoiceField(choices=AlertCondition.choices)
    threshold = serializers.DecimalField(
        max_digits=14, decimal_places=4,
        help_text="A percentage for rates (5 is 5%), ms for latency, the currency for cost; "
        "for rises_by, the factor (2 is a doubling week over week)",
    )  # fmt: skip
    window_hours = serializers.IntegerField(min_value=1, max_value=720, required=False)
    min_interactions = serializers.IntegerField(min_value=0, max_value=10**9, required=False)
    action = serializers.ChoiceField(choices=AlertAction.choices, required=False)
    enabled = serializers.BooleanField(required=False)


class AlertSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    rule = serializers.CharField(source="rule.key", read_only=True)
    use_case_key = serializers.CharField(source="use_case.key", read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "key", "rule", "use_case", "use_case_key", "value", "threshold",
                  "summary", "window_start", "window_end", "fired_at", "resolved_at",
                  "acknowledged_at", "acknowledged_by_label", "acknowledgment_note",
                  "incident_number", "notified"]  # fmt: skip
        read_only_fields = fields


class AlertFilterSerializer(StrictInputSerializer):
    state = serializers.ChoiceField(choices=["open"], required=False,
                                    help_text="open: not acknowledged yet")  # fmt: skip
    use_case = id_field(required=False)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1)


class AcknowledgeSerializer(StrictInputSerializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


# --------------------------------------------------------------------------- settings


class ReadingSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessMetricReading
        fields = ["id", "use_case", "measured_on", "value", "note", "recorded_by_label",
                  "created_at"]  # fmt: skip
        read_only_fields = fields


class ReadingWriteSerializer(StrictInputSerializer):
    use_case = id_field()
    measured_on = serializers.DateField()
    value = serializers.DecimalField(max_digits=14, decimal_places=2)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


class ReadingFilterSerializer(StrictInputSerializer):
    use_case = id_field(required=False)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1)


class UseCaseParamSerializer(StrictInputSerializer):
    use_case = id_field(required=False, help_text="A use case's id; none: the organization's")


class AssumptionsSerializer(StrictInputSerializer):
    currency = serializers.CharField(max_length=3, required=False)
    loaded_hourly_cost = serializers.DecimalField(max_digits=10, decimal_places=2, required=False)
    minutes_saved_per_success = serializers.DecimalField(
        max_digits=8, decimal_places=2, required=False
    )
    other_value_per_month = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False
    )
    sme_hourly_cost = serializers.DecimalField(max_digits=10, decimal_places=2, required=False)
    sme_minutes_per_answer = serializers.DecimalField(
        max_digits=8, decimal_places=2, required=False
    )


class OnlineScoringSerializer(StrictInputSerializer):
    plan = id_field(required=False, allow_null=True, help_text="An eval plan of the use case")
    sample_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    enabled = serializers.BooleanField()
