"""The context area: what the AI may know, what it was missing, and the people who fill it.

How the pieces fit (the loop of the guide, section 11):

- A **ContextSource** is an approved place knowledge comes from (a policy, a KB article,
  a database...), with its owner, steward, SMEs, approval and review cadence. A daily
  task computes its freshness (fresh, due, stale).
- A **ContextGap** is knowledge the AI lacked, found by a failure (an eval case triaged
  as "context gap", an incident, feedback, an SME, or by hand). Its **GapEvidence** rows
  point at the failing results. It is routed to an SME (**SmeProfile**, whose expertise
  is the normalized **ExpertiseTag** table), answered, reviewed, published as knowledge,
  then re-verified by re-running its cases.
- An **Answer** is proposed knowledge awaiting review: an SME's answer to a gap, or an
  item written directly. A second person reviews it (**AnswerReview**). Approved, it
  becomes a new **KnowledgeVersion** of a published **KnowledgeItem**, which the AI
  retrieves through the knowledge search API and the MCP tool.
- A **GapVerification** is the re-run of a gap's cases after its knowledge was published:
  before and after, case by case.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from genai_po.tenancy import OrgScopedModel

USER = settings.AUTH_USER_MODEL


class ContextSettings(OrgScopedModel):
    """An organization's settings of the context loop, and the counters of its numbers
    (its own row, locked to hand out GAP-/KB- numbers one after another)."""

    sla_business_days = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Business days (Monday to Friday) an SME has to answer a routed gap",
    )
    gap_seq = models.PositiveIntegerField(default=0)
    knowledge_seq = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="context_settings_one_per_org")
        ]

    def __str__(self) -> str:
        return f"context settings of {self.organization_id}"


# --------------------------------------------------------------------------- inventory


class SourceType(models.TextChoices):
    DOCUMENT_REPOSITORY = "document_repository", "Document repository"
    KB_ARTICLE = "kb_article", "Knowledge-base article"
    DATABASE = "database", "Database or table"
    API = "api", "API"
    POLICY = "policy", "Policy"
    SME_KNOWLEDGE = "sme_knowledge", "SME-authored knowledge"
    WEB_PAGE = "web_page", "Web page"
    DATASET = "dataset", "Dataset"


class ApprovalStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    RESTRICTED = "restricted", "Restricted"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


# Sources the AI may draw on: approved, or approved with restrictions.
USABLE_APPROVALS = (ApprovalStatus.APPROVED, ApprovalStatus.RESTRICTED)


class Classification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class Freshness(models.TextChoices):
    FRESH = "fresh", "Fresh"
    DUE = "due", "Review due"
    STALE = "stale", "Stale"


class ContextSource(OrgScopedModel):
    """An approved source of context for one or more use cases."""

    name = models.CharField(max_length=200)
    source_type = models.CharField(max_length=30, choices=SourceType.choices)
    location = models.CharField(
        max_length=1000, help_text="Where it lives: a URL, a path, a table name"
    )
    description = models.TextField(blank=True, max_length=5000)
    owner = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    steward = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approval_status = models.CharField(
        max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.PROPOSED
    )
    approved_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    classification = models.CharField(
        max_length=20, choices=Classification.choices, default=Classification.INTERNAL
    )
    review_every_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Freshness requirement: verify it every N days",
    )
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_verified_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    next_review_due = models.DateField()
    freshness = models.CharField(max_length=10, choices=Freshness.choices, default=Freshness.FRESH)
    # Set when its owners were told it went stale; cleared when it is verified again.
    stale_notified_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="source_unique_name")
        ]
        indexes = [
            models.Index(fields=["organization", "freshness"], name="source_freshness_idx"),
            models.Index(fields=["next_review_due"], name="source_due_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class SourceUseCase(OrgScopedModel):
    """A source covers a use case."""

    source = models.ForeignKey(
        ContextSource, on_delete=models.CASCADE, related_name="use_case_links"
    )
    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "use_case"], name="sourceusecase_unique")
        ]
        indexes = [models.Index(fields=["organization", "use_case"], name="sourceusecase_uc")]


class SourceSme(OrgScopedModel):
    """An SME who knows a source."""

    source = models.ForeignKey(ContextSource, on_delete=models.CASCADE, related_name="sme_links")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "user"], name="sourcesme_unique")]


# --------------------------------------------------------------------------- SMEs


class ExpertiseTag(OrgScopedModel):
    """A normalized expertise tag of an organization ("refunds", "shipping")."""

    name = models.SlugField(max_length=60, allow_unicode=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="expertisetag_unique")
        ]

    def __str__(self) -> str:
        return self.name


class SmeProfile(OrgScopedModel):
    """What an SME of the organization knows, and who stands in when they are away."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    tags = models.ManyToManyField(ExpertiseTag, through="SmeExpertise", related_name="+")
    backup = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    available = models.BooleanField(default=True, help_text="Takes new questions")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="sme_unique")]

    def __str__(self) -> str:
        return f"SME profile of {self.user_id}"


class SmeExpertise(OrgScopedModel):
    """An SME has an expertise tag."""

    profile = models.ForeignKey(SmeProfile, on_delete=models.CASCADE, related_name="expertise")
    tag = models.ForeignKey(ExpertiseTag, on_delete=models.CASCADE, related_name="experts")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "tag"], name="smeexpertise_unique")
        ]


# --------------------------------------------------------------------------- gaps


class DetectedBy(models.TextChoices):
    EVAL_FAILURE = "eval_failure", "Eval failure"
    INCIDENT = "incident", "Incident"
    USER_FEEDBACK = "user_feedback", "User feedback"
    SME = "sme", "SME"
    MANUAL = "manual", "Manual entry"


class GapStatus(models.TextChoices):
    OPEN = "open", "Open"
    ROUTED = "routed", "Routed"
    ANSWERED = "answered", "Answered"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    VERIFIED = "verified", "Verified"
    CLOSED = "closed", "Closed"
    DUPLICATE = "duplicate", "Duplicate"
    WONT_FIX = "wont_fix", "Won't fix"


# A gap still waiting on someone: it counts as open work.
OPEN_GAP_STATUSES = (GapStatus.OPEN, GapStatus.ROUTED, GapStatus.ANSWERED, GapStatus.IN_REVIEW)
# Waiting on its SME: in their inbox.
INBOX_STATUSES = (GapStatus.ROUTED, GapStatus.ANSWERED)
# Done with, one way or another.
RESOLVED_GAP_STATUSES = (
    GapStatus.VERIFIED,
    GapStatus.CLOSED,
    GapStatus.DUPLICATE,
    GapStatus.WONT_FIX,
)


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


SEVERITY_WEIGHT = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 5}


class Priority(models.TextChoices):
    P1 = "p1", "P1"
    P2 = "p2", "P2"
    P3 = "p3", "P3"
    P4 = "p4", "P4"


class ContextGap(OrgScopedModel):
    """Knowledge the AI lacked: a canonical question, its evidence, and where it stands."""

    number = models.PositiveIntegerField()
    question = models.CharField(max_length=1000, help_text="The canonical question to answer")
    topic = models.SlugField(max_length=60, blank=True, allow_unicode=True)
    detected_by = models.CharField(max_length=20, choices=DetectedBy.choices)
    status = models.CharField(max_length=20, choices=GapStatus.choices, default=GapStatus.OPEN)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P4)
    # Set by hand: the impact no longer moves it.
    priority_by_hand = models.BooleanField(default=False)
    # Kept by the services: failing cases x severity weight.
    impact = models.PositiveIntegerField(default=0)
    failing_cases = models.PositiveIntegerField(default=0)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    assigned_to = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    backup = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    routed_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    breach_notified_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True, max_length=2000)
    knowledge = models.ForeignKey(
        "KnowledgeItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="gaps"
    )
    # "did not fix it": the last verification left failing cases.
    verification_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-impact", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="gap_unique_number")
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="gap_status_idx"),
            models.Index(fields=["organization", "assigned_to", "status"], name="gap_inbox_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.question[:60]}"

    @property
    def key(self) -> str:
        return f"GAP-{self.number}"


class GapUseCase(OrgScopedModel):
    """A gap affects a use case."""

    gap = models.ForeignKey(ContextGap, on_delete=models.CASCADE, related_name="use_case_links")
    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gap", "use_case"], name="gapusecase_unique")
        ]
        indexes = [models.Index(fields=["organization", "use_case"], name="gapusecase_uc")]


class GapTag(OrgScopedModel):
    """A gap is about a topic an SME's expertise can match (routing reads these)."""

    gap = models.ForeignKey(ContextGap, on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey(ExpertiseTag, on_delete=models.CASCADE, related_name="gap_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gap", "tag"], name="gaptag_unique")]


class GapRequirement(OrgScopedModel):
    """A gap affects a requirement."""

    gap = models.ForeignKey(ContextGap, on_delete=models.CASCADE, related_name="requirement_links")
    requirement = models.ForeignKey(
        "usecases.Requirement", on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gap", "requirement"], name="gaprequirement_unique")
        ]


class GapEvidence(OrgScopedModel):
    """A failing eval result behind a gap (its input, output and scorers' reasons are read
    from the result)."""

    gap = models.ForeignKey(ContextGap, on_delete=models.CASCADE, related_name="evidence")
    result = models.ForeignKey("evals.EvalResult", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey("evals.EvalRun", on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey("evals.EvalCase", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["gap", "result"], name="gapevidence_unique")]
        indexes = [models.Index(fields=["organization", "case"], name="gapevidence_case")]


class GapEventKind(models.TextChoices):
    CREATED = "created", "Created"
    EVIDENCE = "evidence", "Evidence added"
    ROUTED = "routed", "Routed"
    ANSWERED = "answered", "Answered"
    REVIEWED = "reviewed", "Reviewed"
    PUBLISHED = "published", "Published"
    VERIFIED = "verified", "Verified"
    NOT_FIXED = "not_fixed", "Did not fix it"
    STATUS = "status", "Status changed"


class GapEvent(OrgScopedModel):
    """A line of a gap's history, as its page shows it (the audit trail keeps the proof)."""

    gap = models.ForeignKey(ContextGap, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=GapEventKind.choices)
    text = models.CharField(max_length=500)
    actor_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]


# --------------------------------------------------------------------------- answers and review


class Confidence(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class AnswerStatus(models.TextChoices):
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Answer(OrgScopedModel):
    """Proposed knowledge awaiting a second person's review: an SME's answer to a gap, or an
    item (or a new version of one) written directly."""

    gap = models.ForeignKey(
        ContextGap, null=True, blank=True, on_delete=models.CASCADE, related_name="answers"
    )
    knowledge = models.ForeignKey(
        "KnowledgeItem", null=True, blank=True, on_delete=models.CASCADE, related_name="proposals"
    )
    title = models.CharField(max_length=200)
    question = models.CharField(max_length=1000, help_text="The question(s) it answers")
    body = models.TextField(max_length=20_000, help_text="Markdown")
    scope = models.CharField(
        max_length=500, blank=True, help_text="When it applies: product, region, segment, dates"
    )
    confidence = models.CharField(
        max_length=10, choices=Confidence.choices, default=Confidence.HIGH
    )
    citations = models.ManyToManyField(ContextSource, through="AnswerCitation", related_name="+")
    use_cases = models.ManyToManyField(
        "usecases.UseCase", through="AnswerUseCase", related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=AnswerStatus.choices, default=AnswerStatus.IN_REVIEW
    )
    author = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    author_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "status"], name="answer_status_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def last_review(self):
        """The newest review (from the prefetched reviews when there are some)."""
        reviews = list(self.reviews.all())
        return reviews[-1] if reviews else None


class AnswerCitation(OrgScopedModel):
    """An answer cites an approved source."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="citation_links")
    source = models.ForeignKey(ContextSource, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["answer", "source"], name="answercitation_unique")
        ]


class AnswerUseCase(OrgScopedModel):
    """The use cases an answer's knowledge is for."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="use_case_links")
    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["answer", "use_case"], name="answerusecase_unique")
        ]


class ReviewDecision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REQUEST_CHANGES = "request_changes", "Request changes"
    REJECT = "reject", "Reject"


class AnswerReview(OrgScopedModel):
    """A second person's decision on an answer (never its author's)."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    reviewer_label = models.CharField(max_length=254)
    decision = models.CharField(max_length=20, choices=ReviewDecision.choices)
    comment = models.TextField(blank=True, max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]


# --------------------------------------------------------------------------- knowledge


class KnowledgeStatus(models.TextChoices):
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class KnowledgeItem(OrgScopedModel):
    """Validated, versioned knowledge the AI may use (KB-<number>); the newest approved
    version is the one served."""

    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=KnowledgeStatus.choices, default=KnowledgeStatus.PUBLISHED
    )
    current = models.ForeignKey(
        "KnowledgeVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied from the current version: what search reads without a join.
    title = models.CharField(max_length=200)
    question = models.CharField(max_length=1000)
    body = models.TextField(max_length=20_000)
    scope = models.CharField(max_length=500, blank=True)
    use_cases = models.ManyToManyField(
        "usecases.UseCase", through="KnowledgeUseCase", related_name="+"
    )
    review_by = models.DateField(null=True, blank=True, help_text="Review or expiry date")
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="knowledge_unique_number"
            )
        ]
        indexes = [models.Index(fields=["organization", "status"], name="knowledge_status_idx")]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def key(self) -> str:
        return f"KB-{self.number}"


class KnowledgeUseCase(OrgScopedModel):
    """A knowledge item applies to a use case (none: to every use case)."""

    item = models.ForeignKey(KnowledgeItem, on_delete=models.CASCADE, related_name="use_case_links")
    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "use_case"], name="knowledgeusecase_unique")
        ]
        indexes = [models.Index(fields=["organization", "use_case"], name="knowledgeusecase_uc")]


class KnowledgeVersion(OrgScopedModel):
    """One approved version of a knowledge item, never changed once written."""

    item = models.ForeignKey(KnowledgeItem, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    answer = models.ForeignKey(Answer, null=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=200)
    question = models.CharField(max_length=1000)
    body = models.TextField(max_length=20_000)
    scope = models.CharField(max_length=500, blank=True)
    confidence = models.CharField(max_length=10, choices=Confidence.choices)
    citations = models.ManyToManyField(ContextSource, through="KnowledgeCitation", related_name="+")
    author_label = models.CharField(max_length=254)
    approved_by_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="knowledgeversion_unique")
        ]

    def __str__(self) -> str:
        return f"{self.item_id} v{self.number}"


class KnowledgeCitation(OrgScopedModel):
    """A knowledge version cites an approved source."""

    version = models.ForeignKey(
        KnowledgeVersion, on_delete=models.CASCADE, related_name="citation_links"
    )
    source = models.ForeignKey(ContextSource, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "source"], name="knowledgecitation_unique")
        ]


# --------------------------------------------------------------------------- verification


class VerificationStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FIXED = "fixed", "Fixed"
    NOT_FIXED = "not_fixed", "Did not fix it"
    FAILED = "failed", "Could not run"


class GapVerification(OrgScopedModel):
    """The re-run of a gap's cases after its knowledge was published."""

    gap = models.ForeignKey(ContextGap, on_delete=models.CASCADE, related_name="verifications")
    knowledge_version = models.ForeignKey(
        KnowledgeVersion, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey("evals.EvalRun", null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(
        max_length=10, choices=VerificationStatus.choices, default=VerificationStatus.RUNNING
    )
    # [{case_number, before: {status, output}, after: {status, output}}]
    comparison = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
