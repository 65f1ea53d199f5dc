"""Governance: what the AI may do alone, what ships, and who signed for it.

How the pieces fit (the guide's sections 09, 12 and 13):

- A **HitlPolicy** is one version of a use case's human-in-the-loop policy: the actions
  the AI system can take, each autonomous, needing human review, or forbidden. Versions
  are never edited; the newest one is served to the AI system with an ETag.
- A **Release** is a version bundle of a use case (model, prompt version, knowledge
  snapshot, configuration hash, the eval run that proves it) with a change type, a risk
  tier, a rollout stage and a status.
- Its **ChecklistItem** rows come from the organization's **ChecklistTemplate**.
  Automatic items are computed live from evidence (`governance.checks`) and never ticked
  by hand; manual items carry evidence (a link, or a stored and hashed file) and an
  attestation. A **Waiver** lets an item count as met until it expires, approved by
  someone other than who asked.
- An **Incident** is a report of harm or malfunction in production, with its timeline,
  classification, analysis, **IncidentFollowUp** actions and, when serious, the
  reporting deadline of the EU AI Act's Article 73.
- A **SignOff** is a reviewer's decision for one reviewer role of the checklist, with
  the hash of the checklist state they saw: when the evidence changes, it is stale.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from genai_po.tenancy import OrgScopedModel
from usecases.models import RiskTier

USER = settings.AUTH_USER_MODEL


class GovernanceSettings(OrgScopedModel):
    """An organization's evidence windows, and the counters of its REL- numbers (its own
    row, locked to hand out numbers one after another)."""

    run_max_age_days = models.PositiveSmallIntegerField(
        "eval run window (days)",
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="A release's latest eval run may be at most this many days old",
    )
    min_cases_per_requirement = models.PositiveSmallIntegerField(
        "cases behind a launch-blocking requirement",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Fewer eval cases than this behind a launch-blocking requirement is "
        "insufficient evidence",
    )
    release_seq = models.PositiveIntegerField(default=0)
    incident_seq = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="governance_settings_one_per_org")
        ]

    def __str__(self) -> str:
        return f"governance settings of {self.organization_id}"


# --------------------------------------------------------------------------- HITL policy


class Reversibility(models.TextChoices):
    REVERSIBLE = "reversible", "Reversible"
    COSTLY = "costly", "Reversible at a cost"
    IRREVERSIBLE = "irreversible", "Irreversible"


class ActionRisk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Autonomy(models.TextChoices):
    AUTONOMOUS = "autonomous", "Autonomous"
    HUMAN_REVIEW = "human_review", "Needs human review"
    FORBIDDEN = "forbidden", "Forbidden"


class HitlPolicy(OrgScopedModel):
    """One version of a use case's human-in-the-loop policy (never edited).

    `actions`: [{"name", "description", "reversibility", "risk", "autonomy", "reason"}],
    checked by `governance.services.hitl`.
    """

    use_case = models.ForeignKey(
        "usecases.UseCase", on_delete=models.CASCADE, related_name="hitl_policies"
    )
    version = models.PositiveIntegerField()
    actions = models.JSONField(default=list)
    note = models.CharField("what changed", max_length=300, blank=True)
    content_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_by_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["use_case", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["use_case", "version"], name="hitlpolicy_unique")
        ]
        indexes = [models.Index(fields=["organization", "use_case", "-version"])]

    def __str__(self) -> str:
        return f"HITL policy v{self.version}"


# --------------------------------------------------------------------------- releases


class ChangeType(models.TextChoices):
    NEW = "new", "New"
    SUBSTANTIAL = "substantial", "Substantial change"
    MINOR = "minor", "Minor"


class RolloutStage(models.TextChoices):
    SHADOW = "shadow", "Shadow"
    REVIEW_MODE = "review_mode", "Review mode"
    CHAMPION = "champion", "Champion group"
    GENERAL = "general", "General availability"
    ROLLED_BACK = "rolled_back", "Rolled back"


# From narrowest to widest; rolled back is off this scale.
ROLLOUT_ORDER = [
    RolloutStage.SHADOW,
    RolloutStage.REVIEW_MODE,
    RolloutStage.CHAMPION,
    RolloutStage.GENERAL,
]


class ReleaseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions", "Approved with conditions"
    REJECTED = "rejected", "Rejected"
    RELEASED = "released", "Released"
    ROLLED_BACK = "rolled_back", "Rolled back"


APPROVED_STATUSES = (
    ReleaseStatus.APPROVED,
    ReleaseStatus.APPROVED_WITH_CONDITIONS,
    ReleaseStatus.RELEASED,
)


class ReviewerRole(models.TextChoices):
    SECURITY = "security", "Security"
    LEGAL = "legal", "Legal"
    COMPLIANCE = "compliance", "Compliance"
    BUSINESS_OWNER = "business_owner", "Business owner"
    SME_LEAD = "sme_lead", "SME lead"


# Approvals a release needs, by risk tier (an unacceptable risk is never released).
SIGN_OFFS_REQUIRED = {
    RiskTier.MINIMAL: 1,
    RiskTier.LIMITED: 2,
    RiskTier.HIGH: 3,
    RiskTier.UNACCEPTABLE: 5,
}


class Release(OrgScopedModel):
    """A version bundle of a use case on its way to users (REL-<number>)."""

    number = models.PositiveIntegerField()
    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120, help_text="e.g. v1.4, or what this release brings")
    # The version bundle
    model = models.CharField(max_length=200, blank=True, help_text="Model and version")
    prompt_version = models.CharField(max_length=120, blank=True)
    knowledge_snapshot = models.JSONField(
        default=list, blank=True, help_text='[{"key": "KB-1", "version": 3, "title": ...}]'
    )
    config_hash = models.CharField(
        "configuration hash",
        max_length=128,
        blank=True,
        help_text="Hash of the tool and agent configuration shipped",
    )
    eval_run = models.ForeignKey(
        "evals.EvalRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hitl_policy = models.ForeignKey(
        HitlPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    change_type = models.CharField(max_length=12, choices=ChangeType.choices)
    risk_tier = models.CharField(max_length=20, choices=RiskTier.choices)
    environment = models.CharField(max_length=60, default="production")
    rollout_stage = models.CharField(
        max_length=12, choices=RolloutStage.choices, default=RolloutStage.SHADOW
    )
    status = models.CharField(
        max_length=30, choices=ReleaseStatus.choices, default=ReleaseStatus.DRAFT
    )
    reviewer_roles = models.JSONField(default=list, help_text="The checklist's reviewer roles")
    owner = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    target_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=5000)
    capability_card = models.TextField(
        blank=True, max_length=50_000, help_text="Markdown, generated; approved with the release"
    )
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_by_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="release_number")
        ]
        indexes = [models.Index(fields=["organization", "use_case", "-number"])]

    def __str__(self) -> str:
        return self.key

    @property
    def key(self) -> str:
        return f"REL-{self.number}"


# --------------------------------------------------------------------------- checklists


class ItemKind(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic"
    MANUAL = "manual", "Manual"


class ItemStatus(models.TextChoices):
    """Of a manual item; an automatic item's state is computed, never stored."""

    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    MET = "met", "Met"
    NOT_MET = "not_met", "Not met"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class ChecklistTemplate(OrgScopedModel):
    """An organization's checklist: the items each new release starts with.

    `items`: [{"key", "category", "text", "kind", "check_key" (automatic), "reviewer_role"}].
    """

    name = models.CharField(max_length=120)
    items = models.JSONField(default=list)
    reviewer_roles = models.JSONField(default=list)
    is_default = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="checklisttemplate_name"),
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(is_default=True),
                name="checklisttemplate_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EvidenceFile(OrgScopedModel):
    """A file attached as evidence, kept in the database (tenant-scoped, served only to
    members) under its SHA-256, so the same file stored twice is one row."""

    sha256 = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    data = models.BinaryField()
    uploaded_by_label = models.CharField(max_length=254)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "sha256"], name="evidencefile_hash")
        ]

    def __str__(self) -> str:
        return self.name


class ChecklistItem(OrgScopedModel):
    """One item of a release's checklist."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.SlugField(max_length=60)
    category = models.CharField(max_length=60)
    text = models.CharField(max_length=500)
    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    check_key = models.CharField(max_length=40, blank=True, help_text="The automatic check's key")
    reviewer_role = models.CharField(max_length=20, choices=ReviewerRole.choices, blank=True)
    status = models.CharField(
        max_length=20, choices=ItemStatus.choices, default=ItemStatus.NOT_STARTED
    )
    evidence_url = models.URLField(max_length=1000, blank=True)
    evidence_file = models.ForeignKey(
        "EvidenceFile", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    attestation = models.TextField(blank=True, max_length=2000)
    attested_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attested_by_label = models.CharField(max_length=254, blank=True)
    attested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["release", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["release", "key"], name="checklistitem_key")]
        indexes = [models.Index(fields=["organization", "release"])]

    def __str__(self) -> str:
        return self.text[:60]


class WaiverStatus(models.TextChoices):
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    REVOKED = "revoked", "Revoked"


class Waiver(OrgScopedModel):
    """An item counts as met, for a reason, until it expires; approved by someone else."""

    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="waivers")
    justification = models.TextField(max_length=2000)
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=WaiverStatus.choices, default=WaiverStatus.PENDING
    )
    requested_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_label = models.CharField(max_length=254)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_label = models.CharField(max_length=254, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["organization", "item", "status"])]

    def __str__(self) -> str:
        return f"waiver of item {self.item_id}"


# --------------------------------------------------------------------------- sign-offs


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions", "Approve with conditions"
    REJECT = "reject", "Reject"


class ReleaseReviewer(OrgScopedModel):
    """Who is asked to sign for one reviewer role of a release (none: any reviewer)."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="reviewers")
    reviewer_role = models.CharField(max_length=20, choices=ReviewerRole.choices)
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["release", "reviewer_role"], name="releasereviewer_role"
            )
        ]


class SignOff(OrgScopedModel):
    """A reviewer's decision for a role, on the checklist state whose hash it keeps. A new
    decision for the role replaces the last (`superseded`)."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="sign_offs")
    reviewer_role = models.CharField(max_length=20, choices=ReviewerRole.choices)
    user = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    user_label = models.CharField(max_length=254)
    decision = models.CharField(max_length=30, choices=Decision.choices)
    comment = models.TextField(blank=True, max_length=5000)
    state_hash = models.CharField(max_length=64)
    superseded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "release", "superseded"])]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} ({self.reviewer_role})"


# --------------------------------------------------------------------------- incidents


class IncidentType(models.TextChoices):
    CONFABULATION = "confabulation", "Confabulation"
    HARMFUL_CONTENT = "harmful_content", "Harmful content"
    PRIVACY_LEAK = "privacy_leak", "Privacy leak"
    PROMPT_INJECTION = "prompt_injection", "Prompt injection"
    WRONG_TOOL_ACTION = "wrong_tool_action", "Wrong tool action"
    PERFORMANCE = "performance", "Performance degradation"
    OTHER = "other", "Other"


class IncidentChannel(models.TextChoices):
    END_USER = "end_user", "End user"
    SME = "sme", "SME"
    EVAL_MONITOR = "eval_monitor", "Eval or monitor"
    EXTERNAL = "external", "External"


class HarmType(models.TextChoices):
    PHYSICAL = "physical", "Physical"
    PSYCHOLOGICAL = "psychological", "Psychological"
    ECONOMIC = "economic", "Economic"
    REPUTATIONAL = "reputational", "Reputational"
    FUNDAMENTAL_RIGHTS = "fundamental_rights", "Fundamental rights"
    CRITICAL_INFRASTRUCTURE = "critical_infrastructure", "Critical infrastructure"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    INVESTIGATING = "investigating", "Investigating"
    MITIGATED = "mitigated", "Mitigated"
    CLOSED = "closed", "Closed"


class SeriousKind(models.TextChoices):
    """Article 73's clocks, from the time the organization became aware."""

    STANDARD = "standard", "Serious incident (15 days)"
    DEATH = "death", "Death of a person (10 days)"
    WIDESPREAD = "widespread", "Widespread infringement or critical infrastructure (2 days)"


class Incident(OrgScopedModel):
    """A report of an AI failure in use (INC-<number>)."""

    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    summary = models.TextField(max_length=5000)
    reporter = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reporter_label = models.CharField(max_length=254)
    owner = models.ForeignKey(
        USER,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Drives the response; reminded before a reporting deadline",
    )
    channel = models.CharField(max_length=20, choices=IncidentChannel.choices)
    use_case = models.ForeignKey("usecases.UseCase", on_delete=models.CASCADE, related_name="+")
    release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    environment = models.CharField(max_length=60, default="production")
    occurred_at = models.DateTimeField()
    discovered_at = models.DateTimeField()
    aware_at = models.DateTimeField(
        help_text="When the organization became aware: starts the clock"
    )
    incident_type = models.CharField("type", max_length=20, choices=IncidentType.choices)
    severity = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="1 is the most severe, 4 the least",
    )
    affected_users = models.PositiveIntegerField(null=True, blank=True)
    affected_description = models.CharField("who was affected", max_length=500, blank=True)
    harm_types = models.JSONField(default=list, blank=True)
    expected = models.TextField("what was expected", blank=True, max_length=5000)
    actual = models.TextField("what happened", blank=True, max_length=5000)
    steps_to_reproduce = models.TextField(blank=True, max_length=5000)
    evidence_links = models.JSONField(default=list, blank=True)
    root_cause = models.TextField(blank=True, max_length=5000)
    mitigation = models.TextField("immediate mitigation", blank=True, max_length=5000)
    fix_plan = models.TextField(blank=True, max_length=5000)
    prevention_plan = models.TextField(blank=True, max_length=5000)
    status = models.CharField(
        max_length=15, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    serious = models.BooleanField(default=False)
    serious_kind = models.CharField(max_length=12, choices=SeriousKind.choices, blank=True)
    serious_rationale = models.TextField(blank=True, max_length=2000)
    deadline_at = models.DateTimeField(null=True, blank=True)
    initial_report_at = models.DateTimeField(null=True, blank=True)
    complete_report_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    regression_case = models.ForeignKey(
        "evals.EvalCase", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    context_gaps = models.ManyToManyField(
        "context.ContextGap", through="IncidentGap", related_name="+", blank=True
    )
    created_by_label = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="incident_number")
        ]
        indexes = [models.Index(fields=["organization", "use_case", "severity"])]

    def __str__(self) -> str:
        return self.key

    @property
    def key(self) -> str:
        return f"INC-{self.number}"


class IncidentGap(OrgScopedModel):
    """A context gap that contributed to an incident."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="gap_links")
    gap = models.ForeignKey("context.ContextGap", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "gap"], name="incidentgap_unique")
        ]


class FollowUpStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    ACCEPTED = "accepted", "Accepted as is"


class IncidentFollowUp(OrgScopedModel):
    """An action of an incident's response, with its owner and due date."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="follow_ups")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN
    )
    note = models.CharField(
        max_length=500, blank=True, help_text="Required to accept a follow-up as is"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["incident", "due_date", "pk"]
        indexes = [models.Index(fields=["organization", "status"])]

    def __str__(self) -> str:
        return self.title[:60]
