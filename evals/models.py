"""Evals: targets (the AI system under test), plans, versioned cases, runs and results.

How the pieces fit:

- A **Target** is an endpoint we call: OpenAI-compatible chat completions or a generic
  HTTP JSON API. Its secrets are encrypted at rest (``EncryptedTextField``).
- An **EvalPlan** belongs to a use case: scorers, thresholds, repetitions, cadence.
- **EvalCase** rows are immutable revisions. Every change to a plan's case set makes a
  new case-set version: changed cases get a new row (``version_added``) and the old row
  is closed (``version_removed``). Version V of the set is every row with
  ``version_added <= V`` and no ``version_removed <= V``. A run pins V, so its results
  point at exactly the rows it ran, and ``number`` (CASE-n) ties revisions together.
- An **EvalRun** is split into **RunChunk** rows. PostgreSQL is the source of truth: a
  worker leases a chunk (lease token, expiry, attempt counter), a beat reaper
  re-enqueues expired leases, and a chunk that fails its attempts is marked dead.
- **EvalResult** has one row per (run, case, repetition), unique, so a duplicate
  execution writes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from genai_po.fields import EncryptedTextField
from genai_po.tenancy import OrgScopedModel

# --------------------------------------------------------------------------- egress


class EgressSettings(OrgScopedModel):
    """Which non-public addresses an organization's targets may reach (admins only).

    Link-local and cloud-metadata addresses are refused whatever is set here.
    """

    allow_loopback = models.BooleanField(default=False)
    allow_private = models.BooleanField(default=False)
    allowed_networks = models.JSONField(
        default=list, blank=True, help_text="Extra CIDR networks, e.g. 10.20.0.0/16"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="egress_one_per_org")]

    def __str__(self) -> str:
        return f"egress settings of {self.organization_id}"


# --------------------------------------------------------------------------- targets


class TargetKind(models.TextChoices):
    OPENAI_CHAT = "openai_chat", "OpenAI-compatible chat completions"
    HTTP_JSON = "http_json", "HTTP JSON endpoint"


class HttpMethod(models.TextChoices):
    POST = "POST", "POST"
    PUT = "PUT", "PUT"


class Target(OrgScopedModel):
    """An AI system under test (or a judge): where to send a case and how to read the answer."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=TargetKind.choices)
    url = models.URLField(
        max_length=500,
        help_text="Base URL for chat completions (…/v1), or the full URL of a JSON endpoint",
    )
    # OpenAI-compatible
    model = models.CharField(max_length=200, blank=True)
    api_key = EncryptedTextField(blank=True)
    system_prompt = models.TextField(blank=True, max_length=20_000)
    temperature = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(2)]
    )
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    # HTTP JSON
    method = models.CharField(max_length=6, choices=HttpMethod.choices, default=HttpMethod.POST)
    body_template = models.TextField(
        blank=True,
        max_length=20_000,
        help_text='JSON with {{variable}} placeholders, e.g. {"q": "{{input}}"}',
    )
    response_path = models.CharField(
        max_length=200,
        blank=True,
        help_text="Where the answer is, e.g. data.answer or items.0.text",
    )
    # Both kinds. Header values may hold credentials: encrypted, names kept in clear.
    headers = EncryptedTextField(blank=True, help_text="JSON object of extra headers")
    header_names = models.JSONField(default=list, blank=True)
    timeout_s = models.FloatField(
        default=30, validators=[MinValueValidator(0.1), MaxValueValidator(600)]
    )
    concurrency = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(256)]
    )
    rate_limit_per_s = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.01)], help_text="Requests/second"
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    # Cost per 1,000 tokens, when known, so runs can report cost.
    cost_per_1k_input = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    cost_per_1k_output = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)

    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_message = models.CharField(max_length=500, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="target_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- plans and cases


class Cadence(models.TextChoices):
    NONE = "none", "Only when started"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class EvalPlan(OrgScopedModel):
    """How a use case is evaluated: the case set, scorers, thresholds and cadence."""

    use_case = models.ForeignKey(
        "usecases.UseCase", on_delete=models.CASCADE, related_name="eval_plans"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    target = models.ForeignKey(
        Target, null=True, blank=True, on_delete=models.SET_NULL, related_name="plans"
    )
    judge_target = models.ForeignKey(
        Target,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="judged_plans",
        help_text="OpenAI-compatible endpoint used by LLM-as-judge scorers",
    )
    # Scorers applied to every case, before the case's own (see evals.scorers).
    scorers = models.JSONField(default=list, blank=True)
    forbidden_phrases = models.JSONField(default=list, blank=True)
    approved_sources = models.JSONField(default=list, blank=True)
    pass_threshold = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=90,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Overall pass rate (%) a run needs",
    )
    requirement_thresholds = models.JSONField(default=dict, blank=True)  # {"REQ-3": 100}
    tag_thresholds = models.JSONField(default=dict, blank=True)  # {"refunds": 95}
    repetitions = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.NONE)
    next_run_at = models.DateTimeField(null=True, blank=True)
    case_version = models.PositiveIntegerField(default=0, help_text="Current case-set version")
    case_seq = models.PositiveIntegerField(default=0, help_text="CASE numbers handed out")
    run_seq = models.PositiveIntegerField(default=0, help_text="Run numbers handed out")
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["cadence", "next_run_at"], name="evalplan_due_idx")]

    def __str__(self) -> str:
        return self.name


class CaseOrigin(models.TextChoices):
    MANUAL = "manual", "Manual"
    IMPORT = "import", "Import"
    INCIDENT = "incident", "Incident"
    CONTEXT_GAP = "context_gap", "Context gap"
    PRODUCTION_TRACE = "production_trace", "Production trace"


class EvalCase(OrgScopedModel):
    """One immutable revision of an eval case (CASE-<number> of its plan)."""

    plan = models.ForeignKey(EvalPlan, on_delete=models.CASCADE, related_name="case_rows")
    number = models.PositiveIntegerField()
    version_added = models.PositiveIntegerField()
    version_removed = models.PositiveIntegerField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    name = models.CharField(max_length=200, blank=True)
    prompt = models.TextField(
        blank=True, max_length=100_000, help_text="The user's message (or use messages)"
    )
    messages = models.JSONField(default=list, blank=True, help_text="Chat messages, if any")
    variables = models.JSONField(default=dict, blank=True)
    expected = models.TextField(
        blank=True, max_length=100_000, help_text="Expected output, for equality/similarity"
    )
    expected_behavior = models.TextField(blank=True, max_length=100_000)
    context = models.TextField(blank=True, max_length=100_000)
    tags = models.JSONField(default=list, blank=True)
    scorers = models.JSONField(default=list, blank=True)
    pass_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Weighted score needed (0-1); empty means every scorer must pass",
    )
    must_escalate = models.BooleanField(default=False)
    origin = models.CharField(max_length=20, choices=CaseOrigin.choices, default=CaseOrigin.MANUAL)
    origin_ref = models.CharField(max_length=200, blank=True)
    # What the case verifies: the PRD shows it through evals' verification provider.
    requirements = models.ManyToManyField(
        "usecases.Requirement",
        blank=True,
        related_name="eval_case_rows",
        through="EvalCaseRequirement",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "number", "version_added"], name="evalcase_unique_revision"
            ),
        ]
        indexes = [
            models.Index(fields=["plan", "version_added", "version_removed"], name="evalcase_ver"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.name or self.prompt[:60]}"

    @property
    def key(self) -> str:
        return f"CASE-{self.number}"

    @property
    def input_text(self) -> str:
        """The case's input for display: the prompt, or the last user message."""
        if self.prompt:
            return self.prompt
        for message in reversed(self.messages or []):
            if isinstance(message, dict) and message.get("role") == "user":
                return str(message.get("content", ""))
        return ""


class EvalCaseRequirement(OrgScopedModel):
    """A case revision verifies a requirement of its plan's use case (the case's own link,
    copied to each new revision)."""

    case = models.ForeignKey(EvalCase, on_delete=models.CASCADE, related_name="requirement_links")
    requirement = models.ForeignKey(
        "usecases.Requirement", on_delete=models.CASCADE, related_name="eval_case_links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "requirement"], name="evalcaserequirement_unique"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "requirement"], name="evalcasereq_requirement")
        ]

    def __str__(self) -> str:
        return f"case {self.case_id} verifies requirement {self.requirement_id}"


def cases_at_version(version: int) -> Q:
    """The filter selecting the case rows that make up case-set version ``version``."""
    return Q(version_added__lte=version) & (
        Q(version_removed__isnull=True) | Q(version_removed__gt=version)
    )


class CaseSetVersion(OrgScopedModel):
    """What changed in a case-set version, and who changed it."""

    plan = models.ForeignKey(EvalPlan, on_delete=models.CASCADE, related_name="case_versions")
    number = models.PositiveIntegerField()
    summary = models.CharField(max_length=300)
    case_count = models.PositiveIntegerField(default=0)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="casesetversion_unique")
        ]

    def __str__(self) -> str:
        return f"v{self.number}"


# --------------------------------------------------------------------------- runs


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class RunTrigger(models.TextChoices):
    BROWSER = "browser", "Browser"
    API = "api", "API"
    SCHEDULE = "schedule", "Schedule"
    CI = "ci", "CI"
    EXTERNAL = "external", "Uploaded results"
    DEMO = "demo", "Demo data"
    RECHECK = "recheck", "Re-check of failed cases"


class RunScope(models.TextChoices):
    FULL = "full", "The whole case set"
    # Some cases of an earlier run, again, with its target and case-set version (the context
    # loop re-checks a gap's cases this way). Never a plan's verdict, trend or baseline.
    CASES = "cases", "Some cases of an earlier run"


class EvalRun(OrgScopedModel):
    """One execution of a plan's pinned case-set version against a target."""

    plan = models.ForeignKey(EvalPlan, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=10, choices=RunTrigger.choices)
    case_version = models.PositiveIntegerField()
    target = models.ForeignKey(
        Target, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    target_label = models.CharField(max_length=200, blank=True)
    repetitions = models.PositiveSmallIntegerField(default=1)
    # What the run was judged by, frozen when it was queued.
    config = models.JSONField(default=dict, blank=True)
    is_baseline = models.BooleanField(default=False)
    scope = models.CharField(max_length=10, choices=RunScope.choices, default=RunScope.FULL)
    rechecks = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rechecked_by",
        help_text="The run whose cases this one runs again",
    )
    label = models.CharField(max_length=200, blank=True, help_text="e.g. a commit or branch")
    ci_metadata = models.JSONField(default=dict, blank=True)

    total_items = models.PositiveIntegerField(default=0)
    # Written at finalization (counts while running are read from the results).
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errored = models.PositiveIntegerField(default=0)
    pass_rate = models.FloatField(null=True, blank=True)
    thresholds_met = models.BooleanField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written by a live driver at each lease renewal; the reaper restarts stale runs.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="evalrun_unique_number"),
            models.UniqueConstraint(
                fields=["plan"], condition=Q(is_baseline=True), name="evalrun_one_baseline"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="evalrun_status_idx")]

    def __str__(self) -> str:
        return f"Run #{self.number}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    LEASED = "leased", "Leased"
    DONE = "done", "Done"
    DEAD = "dead", "Dead"


class RunChunk(OrgScopedModel):
    """A slice of a run's cases, leased by one worker at a time."""

    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    case_ids = models.JSONField(help_text="EvalCase row ids, in order")
    status = models.CharField(
        max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_token = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="runchunk_unique_index")
        ]
        indexes = [models.Index(fields=["status", "leased_until"], name="runchunk_lease_idx")]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id}"


class ResultStatus(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    ERROR = "error", "Error"
    DEAD = "dead", "Dead"


class EvalResult(OrgScopedModel):
    """The outcome of one (run, case, repetition): written once, never duplicated."""

    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="results")
    case = models.ForeignKey(EvalCase, on_delete=models.CASCADE, related_name="results")
    case_number = models.PositiveIntegerField()
    repetition = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=ResultStatus.choices)
    score = models.FloatField(null=True, blank=True)
    output = models.TextField(blank=True)
    handoff = models.BooleanField(null=True, blank=True)
    assertions = models.JSONField(default=list, blank=True)  # [{type, passed, score, reason}]
    error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    tokens_in = models.PositiveIntegerField(null=True, blank=True)
    tokens_out = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case__position", "case_number", "repetition"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "case", "repetition"], name="evalresult_unique_item"
            )
        ]
        indexes = [
            models.Index(fields=["run", "status"], name="evalresult_run_status"),
            models.Index(fields=["run", "case_number"], name="evalresult_run_case"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/CASE-{self.case_number}#{self.repetition}: {self.status}"


class TriageCategory(models.TextChoices):
    MODEL_ERROR = "model_error", "Model error"
    CONTEXT_GAP = "context_gap", "Context gap"
    REQUIREMENT_AMBIGUITY = "requirement_ambiguity", "Requirement ambiguity"
    FLAKY = "flaky", "Flaky"
    TEST_WRONG = "test_wrong", "Test wrong"


class Triage(OrgScopedModel):
    """What a person decided about a failed case in a run."""

    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="triages")
    case = models.ForeignKey(EvalCase, on_delete=models.CASCADE, related_name="triages")
    category = models.CharField(max_length=30, choices=TriageCategory.choices)
    note = models.TextField(blank=True, max_length=5000)
    # What a triage handler made of it (the context area: "GAP-12"), and where it is.
    follow_up_ref = models.CharField(max_length=100, blank=True)
    follow_up_url = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["run", "case"], name="triage_one_per_case")]

    def __str__(self) -> str:
        return f"{self.get_category_display()} for {self.case_id} in {self.run_id}"
