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
            models.Index(fields=["organization", "received_at"], name="telemetry_received"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class Granularity(models.TextChoices):
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


class MetricRollup(OrgScopedModel):
    """One use case's telemetry over one hour or one day, recomputed from the events of
    that bucket whenever an event lands in it (so a late event re-aggregates only its own
    buckets, and a second run changes nothing). The dashboards read these, never events."""

    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")
    granularity = models.CharField(max_length=4, choices=Granularity.choices)
    bucket = models.DateTimeField(help_text="The start of the hour or of the day (UTC)")
    events = models.PositiveIntegerField(default=0)
    interactions = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    escalations = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    feedback = models.PositiveIntegerField(default=0)
    hallucinations = models.PositiveIntegerField(default=0)
    unsafe = models.PositiveIntegerField(default=0)
    unsupported_claims = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0, help_text="Distinct users in the bucket")
    latency_ms_sum = models.BigIntegerField(default=0)
    latency_count = models.PositiveIntegerField(default=0)
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)
    cost = models.FloatField(default=0)
    minutes_saved = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "use_case", "granularity", "bucket"],
                name="metricrollup_bucket",
            )
        ]

    def __str__(self) -> str:
        return f"{self.granularity} {self.bucket:%Y-%m-%d %H:%M}"


class ActiveUserDay(OrgScopedModel):
    """That a user was active on a use case on a day: weekly and monthly active users and
    cohort retention are counted from these (much fewer than events)."""

    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    user_ref = models.CharField(max_length=128)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "use_case", "day", "user_ref"], name="activeuserday_unique"
            )
        ]
        indexes = [models.Index(fields=["organization", "use_case", "day"])]


class RollupWatermark(OrgScopedModel):
    """How far the rollups have read the organization's events (by the time they were
    received)."""

    received_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="rollupwatermark_one")]
