"""Shapes of the metrics API, for the schema and the docs (ingestion checks each event
itself, in `metrics.ingest`, to report every rejected event by its index)."""

from rest_framework import serializers

from metrics.ingest import FLAGS
from metrics.models import EventType, Outcome


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
