"""Models of the metrics area: the telemetry events the AI system sends (through the API or
as OpenTelemetry spans), one row each, idempotent on the sender's `event_id`."""

from django.db import models

from genai_po.tenancy import OrgScopedModel


class EventType(models.TextChoices):
    INTERACTION = "interaction", "Interaction"
    FEEDBACK = "feedback", "Feedback"
    ESCALATION = "escalation", "Escalation"
    ERROR = "error", "Error"
    FLAG = "flag", "Flag"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    ESCALATED = "escalated", "Escalated"
    ABANDONED = "abandoned", "Abandoned"


class EventSource(models.TextChoices):
    API = "api", "Telemetry API"
    OTLP = "otlp", "OpenTelemetry"


class TelemetryEvent(OrgScopedModel):
    """One thing that happened in production: an interaction, a piece of feedback, an
    escalation, an error or a flag. Written in bulk by `metrics.ingest`, never one save
    per event; the dashboards read rollups of these, never the rows."""

    id = models.BigAutoField(primary_key=True)
    use_case = models.ForeignKey(
        "usecases.UseCase", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    event_id = models.CharField(max_length=128, help_text="The sender's idempotency key")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    user_ref = models.CharField(
        max_length=128, blank=True, help_text="Pseudonymous; an email is hashed on ingest"
    )
    session_id = models.CharField(max_length=128, blank=True)
    event_type = models.CharField("type", max_length=12, choices=EventType.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    hallucination = models.BooleanField(default=False)
    unsafe = models.BooleanField(default=False)
    unsupported_claim = models.BooleanField(default=False)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    tokens_in = models.PositiveIntegerField(null=True, blank=True)
    tokens_out = models.PositiveIntegerField(null=True, blank=True)
    cost = models.FloatField(null=True, blank=True, help_text="In the organization's currency")
    minutes_saved = models.FloatField(null=True, blank=True)
    model = models.CharField(max_length=120, blank=True)
    input_text = models.TextField(blank=True)
    output_text = models.TextField(blank=True)
    knowledge_numbers = models.JSONField(
        default=list, blank=True, help_text="KB numbers of the retrieved knowledge items"
    )
    metadata = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=8, choices=EventSource.choices, default=EventSource.API)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "event_id"], name="telemetryevent_event_id"
            )
        ]
        indexes = [
            models.Index(
                fields=["organization", "use_case", "occurred_at"], name="telemetry_uc_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
