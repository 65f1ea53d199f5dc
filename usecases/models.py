"""Use cases: the brief, its lifecycle, its priority, its AI PRD and requirements."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from genai_po.tenancy import OrgScopedModel


class Stage(models.TextChoices):
    """The GenAI delivery lifecycle of the guide (section 05), in order."""

    DISCOVER = "discover", "Discover"
    PROTOTYPE = "prototype", "Prototype"
    EVALUATE = "evaluate", "Evaluate"
    DEPLOY = "deploy", "Deploy"
    MONITOR = "monitor", "Monitor"
    IMPROVE = "improve", "Improve"


STAGE_ORDER = list(Stage.values)


class RiskTier(models.TextChoices):
    MINIMAL = "minimal", "Minimal"
    LIMITED = "limited", "Limited"
    HIGH = "high", "High"
    UNACCEPTABLE = "unacceptable", "Unacceptable"


RISK_TIER_HINTS = {
    RiskTier.MINIMAL: "Internal helper; no effect on people's rights or money; errors are cheap.",
    RiskTier.LIMITED: "People use the AI and must know it; outputs reviewed or low-stakes.",
    RiskTier.HIGH: "Affects customers' money, access, safety or rights; needs oversight.",
    RiskTier.UNACCEPTABLE: "Manipulation, social scoring or similar: must not be launched.",
}


class HumanInvolvement(models.TextChoices):
    USER_DECIDES = "user_decides", "User decides, AI suggests"
    HUMAN_REVIEWS_EACH = "review_each", "A human reviews every output"
    HUMAN_REVIEWS_EXCEPTIONS = "review_exceptions", "A human reviews escalations and samples"
    AUTOMATED = "automated", "Fully automated"


class UseCaseStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    RETIRED = "retired", "Retired"


class Criterion(models.TextChoices):
    """The six prioritization criteria of the guide (section 06)."""

    VOLUME = "volume", "Volume or cost of the pain"
    OWNER = "owner", "Clear owner and reachable users"
    OBSERVABLE = "observable", "Observable success and failure"
    RISK = "risk", "Manageable risk and escalation path"
    CONTEXT = "context", "Available context sources or SMEs"
    REUSE = "reuse", "Path from narrow launch to reuse"


# What a score of 1, 3 and 5 means for each criterion.
CRITERION_RUBRIC = {
    Criterion.VOLUME: ("rare, cheap annoyance", "weekly pain for a team",
                       "high-volume or costly daily pain"),
    Criterion.OWNER: ("no owner, users hard to reach", "owner named, some users",
                      "committed owner and a pilot group ready"),
    Criterion.OBSERVABLE: ("success is a matter of opinion", "some measurable signal",
                           "task success and failure are logged"),
    Criterion.RISK: ("harm likely, no escalation", "risk known, partial controls",
                     "low risk, clear escalation to a human"),
    Criterion.CONTEXT: ("knowledge lives in people's heads", "some documents, SMEs busy",
                        "approved sources and available SMEs"),
    Criterion.REUSE: ("one-off", "reusable in one department", "narrow launch, then many teams"),
}  # fmt: skip


def rubric_text(criterion: str) -> str:
    low, mid, high = CRITERION_RUBRIC[Criterion(criterion)]
    return f"1: {low} · 3: {mid} · 5: {high}"


# Value against feasibility, for the portfolio chart.
VALUE_CRITERIA = (Criterion.VOLUME, Criterion.REUSE)
FEASIBILITY_CRITERIA = (Criterion.OWNER, Criterion.OBSERVABLE, Criterion.RISK, Criterion.CONTEXT)

_score = {
    "null": True,
    "blank": True,
    "validators": [MinValueValidator(1), MaxValueValidator(5)],
}


class UseCase(OrgScopedModel):
    """A use-case brief: the home of one GenAI product use case."""

    number = models.PositiveIntegerField(help_text="Per organization; the key is UC-<number>.")
    title = models.CharField(max_length=200)
    problem = models.TextField(
        blank=True, max_length=5000, help_text="The user problem, in the user's words."
    )
    workflow = models.TextField(blank=True, max_length=5000, help_text="The workflow this changes.")
    target_users = models.CharField(max_length=200, blank=True)
    user_count = models.PositiveIntegerField(null=True, blank=True, help_text="How many users")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    department = models.CharField(max_length=120, blank=True)
    value_hypothesis = models.TextField(blank=True, max_length=2000)
    metric_name = models.CharField("business metric", max_length=120, blank=True)
    metric_unit = models.CharField(max_length=40, blank=True)
    metric_baseline = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    metric_target = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.DISCOVER)
    risk_tier = models.CharField(max_length=20, choices=RiskTier.choices, default=RiskTier.LIMITED)
    human_involvement = models.CharField(
        max_length=20,
        choices=HumanInvolvement.choices,
        default=HumanInvolvement.HUMAN_REVIEWS_EXCEPTIONS,
    )
    status = models.CharField(
        max_length=20, choices=UseCaseStatus.choices, default=UseCaseStatus.PROPOSED
    )
    archived_at = models.DateTimeField(null=True, blank=True)

    score_volume = models.PositiveSmallIntegerField(**_score)
    score_owner = models.PositiveSmallIntegerField(**_score)
    score_observable = models.PositiveSmallIntegerField(**_score)
    score_risk = models.PositiveSmallIntegerField(**_score)
    score_context = models.PositiveSmallIntegerField(**_score)
    score_reuse = models.PositiveSmallIntegerField(**_score)
    # Weighted score (1-5), kept by the scoring service so the portfolio sorts in SQL.
    priority_score = models.DecimalField(max_digits=5, decimal_places=3, null=True, blank=True)
    # Requirement numbers handed out so far: REQ keys are never reused.
    requirement_seq = models.PositiveIntegerField(default=0)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [models.F("priority_score").desc(nulls_last=True), "number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="usecase_unique_number")
        ]
        indexes = [
            models.Index(fields=["organization", "stage"], name="usecase_stage_idx"),
            models.Index(fields=["organization", "priority_score"], name="usecase_priority_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def key(self) -> str:
        return f"UC-{self.number}"

    def score_of(self, criterion: str) -> int | None:
        return getattr(self, f"score_{criterion}")


class PriorityWeights(OrgScopedModel):
    """An organization's weights of the six criteria (0-10 each)."""

    volume = models.PositiveSmallIntegerField(default=3, validators=[MaxValueValidator(10)])
    owner = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(10)])
    observable = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(10)])
    risk = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(10)])
    context = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(10)])
    reuse = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(10)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="priority_weights_one_per_org")
        ]

    def __str__(self) -> str:
        return f"weights of {self.organization_id}"

    def as_dict(self) -> dict[str, int]:
        return {c.value: getattr(self, c.value) for c in Criterion}


class StageTransition(OrgScopedModel):
    """One move of a use case between lifecycle stages, with what the gate said."""

    use_case = models.ForeignKey(UseCase, on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    overridden = models.BooleanField(default=False)
    override_reason = models.TextField(blank=True, max_length=2000)
    unmet = models.JSONField(default=list, blank=True, help_text="Criteria not met at the time")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.from_stage} -> {self.to_stage}"


PRD_SECTIONS = [
    ("user_problem", "User problem"),
    ("workflow", "Workflow"),
    ("user_goal", "User goal"),
    ("allowed_tools", "Allowed tools"),
    ("required_sources", "Required sources"),
    ("tone_constraints", "Tone constraints"),
    ("forbidden_actions", "Forbidden actions"),
    ("handoff_rules", "Handoff rules"),
    ("confidence_thresholds", "Confidence thresholds"),
    ("good_examples", "Examples of good behavior"),
    ("bad_examples", "Examples of bad behavior"),
]
PRD_SECTION_KEYS = [key for key, _ in PRD_SECTIONS]


class PrdTemplate(OrgScopedModel):
    """The organization's starting text for each PRD section."""

    sections = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="prd_template_one")]

    def __str__(self) -> str:
        return f"PRD template of {self.organization_id}"


class Prd(OrgScopedModel):
    """The one living AI PRD of a use case; every save is a PrdVersion."""

    use_case = models.OneToOneField(UseCase, on_delete=models.CASCADE, related_name="prd")
    sections = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"PRD of {self.use_case_id} v{self.version}"

    def section(self, key: str) -> str:
        return self.sections.get(key, "")


class PrdVersion(OrgScopedModel):
    """A saved state of a PRD: its sections and its requirements at that moment."""

    prd = models.ForeignKey(Prd, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    summary = models.CharField(max_length=300)
    content = models.JSONField(help_text='{"sections": {...}, "requirements": [...]}')

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["prd", "number"], name="prd_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"v{self.number}"


class RequirementType(models.TextChoices):
    BEHAVIOR = "behavior", "Behavior"
    CONSTRAINT = "constraint", "Constraint"
    FORBIDDEN = "forbidden", "Forbidden action"
    HANDOFF = "handoff", "Handoff / escalation"
    TONE = "tone", "Tone"
    TOOL_USE = "tool_use", "Tool use"


class VerificationMethod(models.TextChoices):
    EVAL = "eval", "Eval"
    MONITOR = "monitor", "Monitor"
    HUMAN_REVIEW = "human_review", "Human review"


class RequirementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AGREED = "agreed", "Agreed"
    VERIFIED = "verified", "Verified"
    RETIRED = "retired", "Retired"


class Requirement(OrgScopedModel):
    """A behavioral requirement of a PRD, with a stable key REQ-<number>."""

    use_case = models.ForeignKey(UseCase, on_delete=models.CASCADE, related_name="requirements")
    number = models.PositiveIntegerField()
    statement = models.TextField(max_length=2000)
    type = models.CharField(
        max_length=20, choices=RequirementType.choices, default=RequirementType.BEHAVIOR
    )
    launch_blocking = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verification_method = models.CharField(
        max_length=20, choices=VerificationMethod.choices, default=VerificationMethod.EVAL
    )
    status = models.CharField(
        max_length=20, choices=RequirementStatus.choices, default=RequirementStatus.DRAFT
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "number"]
        constraints = [
            models.UniqueConstraint(fields=["use_case", "number"], name="requirement_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.statement[:60]}"

    @property
    def key(self) -> str:
        return f"REQ-{self.number}"


class VerificationKind(models.TextChoices):
    HUMAN_REVIEW = "human_review", "Named human review"
    EVAL_CASE = "eval_case", "Eval case"
    MONITOR = "monitor", "Monitor"


class RequirementVerification(OrgScopedModel):
    """A named human review that verifies a requirement, with the person who does it.

    The other kinds of verification are owned by the app that verifies, as real links
    (eval cases: evals.EvalCaseRequirement) and reach the PRD through the providers of
    `usecases.verification`.
    """

    requirement = models.ForeignKey(
        Requirement, on_delete=models.CASCADE, related_name="verifications"
    )
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    kind = VerificationKind.HUMAN_REVIEW

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Human review: {self.name}"


# --- The unified backlog


class BacklogItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    DROPPED = "dropped", "Dropped"


class BacklogItem(OrgScopedModel):
    """A feature item of the backlog: work the product owner plans, beside the work the other
    areas raise (eval failures, gaps, governance, incidents, alerts), which stays theirs."""

    number = models.PositiveIntegerField(help_text="Per organization; the key is BL-<number>.")
    use_case = models.ForeignKey(
        UseCase,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="backlog_items",
        help_text="Empty for work of the whole organization.",
    )
    title = models.CharField(max_length=200)
    description = models.TextField(max_length=20_000, blank=True)
    value = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (nice to have) to 5 (the use case fails without it).",
    )
    effort = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (hours) to 5 (weeks).",
    )
    due_on = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=10, choices=BacklogItemStatus.choices, default=BacklogItemStatus.OPEN
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="backlog_item_number"),
            models.CheckConstraint(
                condition=models.Q(value__gte=1, value__lte=5), name="backlog_item_value_1_5"
            ),
            models.CheckConstraint(
                condition=models.Q(effort__gte=1, effort__lte=5), name="backlog_item_effort_1_5"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="backlog_item_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def key(self) -> str:
        return f"BL-{self.number}"


class BacklogRank(OrgScopedModel):
    """One member's own place for one backlog entry (lower comes first).

    An entry is any object a backlog source lists (a gap, a run, a checklist item…), named by
    its content type and id: the rank survives the entry's changes and goes with its object.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.CASCADE, related_name="+"
    )
    object_id = models.PositiveBigIntegerField()
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "content_type", "object_id"],
                name="backlog_rank_one_per_entry",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "user", "position"], name="backlog_rank_idx")
        ]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} at {self.position}"


class BacklogView(OrgScopedModel):
    """A member's saved backlog filters, under a name of their own."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    filters = models.JSONField(default=dict, help_text="kind, owner, use_case, order.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "name"], name="backlog_view_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name
