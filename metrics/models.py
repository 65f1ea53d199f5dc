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
    knowledge_matched = models.BooleanField(
        default=False,
        db_default=False,
        help_text="At least one of them is a published item of ours",
    )
    metadata = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=8, choices=EventSource.choices, default=EventSource.API)
    # Online scoring (metrics.online): set on the sampled interactions once scored.
    scored_at = models.DateTimeField(null=True, blank=True)
    online_passed = models.BooleanField(null=True, blank=True)
    online_failures = models.JSONField(
        null=True, blank=True, help_text="[{type, label, reason}] of the scorers that failed"
    )
    online_hallucination = models.BooleanField(
        null=True, blank=True, help_text="A citation or must-not-contain scorer failed"
    )

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
    knowledge_retrieved = models.PositiveIntegerField(
        default=0, help_text="Events that retrieved at least one published knowledge item"
    )
    successes_without_minutes = models.PositiveIntegerField(
        default=0, help_text="Successful interactions that reported no minutes saved"
    )
    online_scored = models.PositiveIntegerField(default=0)
    online_failures = models.PositiveIntegerField(default=0)
    online_hallucinations = models.PositiveIntegerField(
        default=0,
        help_text="Online-scored answers that cited no approved source or said a forbidden phrase",
    )
    # Day buckets only: active users over the day and the 6 or 29 days before it, and
    # today's users who were active before (returning) or for the first time (new).
    users_7d = models.PositiveIntegerField(default=0)
    users_30d = models.PositiveIntegerField(default=0)
    new_users = models.PositiveIntegerField(default=0)
    returning_users = models.PositiveIntegerField(default=0)
    cohort_7d = models.PositiveIntegerField(
        default=0, help_text="Users of the launch cohort active over the 7 days to this one"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "use_case", "granularity", "bucket"],
                name="metricrollup_bucket",
            )
        ]

    def __str__(self) -> str:
        return f"{self.granularity} {self.bucket:%Y-%m-%d %H:%M}"


class UserFirstSeen(OrgScopedModel):
    """The first day a user was active on a use case: new and returning users, and the
    launch cohort, are read from it."""

    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")
    user_ref = models.CharField(max_length=128)
    first_day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "use_case", "user_ref"], name="userfirstseen_unique"
            )
        ]
        indexes = [models.Index(fields=["organization", "use_case", "first_day"])]


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


class OnlineScoring(OrgScopedModel):
    """Which plan's scorers grade a use case's production answers, and on what share."""

    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey("evals.EvalPlan", on_delete=models.CASCADE, related_name="+")
    sample_percent = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="Share of the interactions scored, 0.01 to 100"
    )
    enabled = models.BooleanField(default=True)
    scored_until = models.DateTimeField(
        null=True, blank=True, help_text="Events received until then have been sampled"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "use_case"], name="onlinescoring_one")
        ]


class ValueAssumptions(OrgScopedModel):
    """What the ROI is computed with: the organization's defaults (no use case), or one use
    case's own figures. Edited by the product owner, shown next to each ROI figure."""

    use_case = models.ForeignKey(
        "usecases.UseCase", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    currency = models.CharField(max_length=3, default="EUR")
    loaded_hourly_cost = models.DecimalField(
        max_digits=10, decimal_places=2, default=60, help_text="Of the people whose time is saved"
    )
    minutes_saved_per_success = models.DecimalField(
        max_digits=8, decimal_places=2, default=0,
        help_text="Used for successful interactions that report no minutes saved",
    )  # fmt: skip
    other_value_per_month = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, help_text="Value not counted in time saved"
    )
    sme_hourly_cost = models.DecimalField(max_digits=10, decimal_places=2, default=90)
    sme_minutes_per_answer = models.DecimalField(max_digits=8, decimal_places=2, default=20)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by_label = models.CharField(max_length=254, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "use_case"], name="valueassumptions_use_case"
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(use_case__isnull=True),
                name="valueassumptions_org_default",
            ),
        ]


class BusinessMetricReading(OrgScopedModel):
    """A measurement of the use case's own business metric (its name, unit, baseline and
    target are on the use case), entered by the product owner or sent through the API."""

    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")
    measured_on = models.DateField()
    value = models.DecimalField(max_digits=14, decimal_places=2)
    note = models.CharField(max_length=300, blank=True)
    recorded_by_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "use_case", "measured_on"], name="businessmetric_day"
            )
        ]
        ordering = ["measured_on"]


class AlertMetric(models.TextChoices):
    ERROR_RATE = "error_rate", "Error rate"
    ESCALATION_RATE = "escalation_rate", "Escalation rate"
    HALLUCINATION_RATE = "hallucination_rate", "Hallucination rate"
    TASK_SUCCESS_RATE = "task_success_rate", "Task success rate"
    ONLINE_FAILURE_RATE = "online_failure_rate", "Online scoring failure rate"
    LATENCY = "latency", "Mean latency (ms)"
    COST_PER_SUCCESS = "cost_per_success", "Cost per successful task"
    ACTIVE_USERS = "active_users", "Active users"


class AlertCondition(models.TextChoices):
    ABOVE = "above", "is above"
    BELOW = "below", "is below"
    RISES_BY = "rises_by", "rises, week over week, by at least (×)"


class AlertAction(models.TextChoices):
    NOTIFY = "notify", "Notify the owner"
    INCIDENT = "incident", "Notify and open an incident"
    BACKLOG = "backlog", "Notify and keep it on the backlog until acknowledged"


class AlertRule(OrgScopedModel):
    """A threshold on one metric of one use case, checked after each rollup."""

    number = models.PositiveIntegerField()
    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=24, choices=AlertMetric.choices)
    condition = models.CharField(max_length=10, choices=AlertCondition.choices)
    threshold = models.DecimalField(
        max_digits=14, decimal_places=4,
        help_text="A percentage for rates, a factor for week-over-week rises",
    )  # fmt: skip
    window_hours = models.PositiveSmallIntegerField(default=24)
    min_interactions = models.PositiveIntegerField(
        default=20, help_text="No alert on fewer interactions than this in the window"
    )
    action = models.CharField(
        max_length=10, choices=AlertAction.choices, default=AlertAction.NOTIFY
    )
    enabled = models.BooleanField(default=True)
    created_by_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="alertrule_number")
        ]

    @property
    def threshold_label(self) -> str:
        """5% for a rate, ×2 week over week for a rise, the number for the rest."""
        from metrics.alerts import threshold_text

        return threshold_text(self)

    @property
    def key(self) -> str:
        return f"AR-{self.number}"

    def __str__(self) -> str:
        return self.key


class Alert(OrgScopedModel):
    """One breach of a rule: fired once, from its start until the metric is back within the
    threshold (a rule that stays breached does not fire again)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")
    value = models.FloatField()
    threshold = models.FloatField()
    summary = models.CharField(max_length=400)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    fired_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="Back within threshold")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by_label = models.CharField(max_length=254, blank=True)
    acknowledgment_note = models.CharField(max_length=1000, blank=True)
    incident_number = models.PositiveIntegerField(null=True, blank=True)
    notified = models.JSONField(default=list, blank=True, help_text="Emails notified")

    class Meta:
        constraints = [
            # One open breach per rule: the de-duplication of a breach that lasts.
            models.UniqueConstraint(
                fields=["organization", "rule"],
                condition=models.Q(resolved_at__isnull=True),
                name="alert_one_open_per_rule",
            )
        ]
        indexes = [models.Index(fields=["organization", "use_case", "fired_at"])]

    @property
    def key(self) -> str:
        return f"AL-{self.pk}"
