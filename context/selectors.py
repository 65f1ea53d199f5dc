"""Reads of the context area that matter: the inbox, the gap lists, the inventory, the
knowledge search and the loop metrics. Each takes the organization first."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Prefetch, Q, When
from django.utils import timezone

from context import search
from context.business_days import business_days_between
from context.models import (
    INBOX_STATUSES,
    OPEN_GAP_STATUSES,
    USABLE_APPROVALS,
    Answer,
    AnswerStatus,
    ContextGap,
    ContextSource,
    DetectedBy,
    GapEvidence,
    GapStatus,
    GapTag,
    GapVerification,
    KnowledgeCitation,
    KnowledgeItem,
    KnowledgeStatus,
    KnowledgeUseCase,
    Priority,
    SourceUseCase,
    VerificationStatus,
)
from evals.models import EvalResult

SIMILAR_MIN = 0.4  # Dice coefficient of content words, above which a gap is "similar"


# --------------------------------------------------------------------------- inventory


def sources_of(
    organization,
    *,
    rows=None,
    use_case=None,
    freshness: str = "",
    approval: str = "",
    source_type: str = "",
    q: str = "",
):
    """The inventory, stale first, then due, then by name; filterable (`use_case`: a use
    case or its id; `rows`: the organization's sources to start from, e.g. an API view's)."""
    rows = (
        (rows if rows is not None else ContextSource.objects.for_org(organization))
        .select_related("owner", "steward", "last_verified_by", "approved_by")
        .prefetch_related("use_case_links__use_case", "sme_links__user")
        .annotate(
            staleness=Case(
                When(freshness="stale", then=0),
                When(freshness="due", then=1),
                default=2,
                output_field=IntegerField(),
            )
        )
        .order_by("staleness", "name", "pk")
    )
    if use_case is not None:
        linked = SourceUseCase.objects.for_org(organization).filter(
            use_case_id=getattr(use_case, "pk", use_case)
        )
        rows = rows.filter(pk__in=linked.values("source_id"))
    if freshness:
        rows = rows.filter(freshness=freshness)
    if approval:
        rows = rows.filter(approval_status=approval)
    if source_type:
        rows = rows.filter(source_type=source_type)
    if q:
        rows = rows.filter(Q(name__icontains=q) | Q(location__icontains=q))
    return rows


def freshness_counts(organization) -> dict[str, int]:
    return dict(
        ContextSource.objects.for_org(organization)
        .values_list("freshness")
        .annotate(n=Count("pk"))
        .order_by()
    )


# --------------------------------------------------------------------------- gaps


def gaps_of(
    organization,
    *,
    rows=None,
    status: str = "",
    use_case=None,
    assigned_to=None,
    q: str = "",
    open_only: bool = False,
):
    """Gaps, highest impact first; filterable (`use_case`, `assigned_to`: objects or ids;
    `rows`: the organization's gaps to start from)."""
    rows = (rows if rows is not None else ContextGap.objects.for_org(organization)).select_related(
        "assigned_to", "knowledge"
    )
    if status:
        rows = rows.filter(status=status)
    elif open_only:
        rows = rows.filter(status__in=OPEN_GAP_STATUSES)
    if use_case is not None:
        rows = rows.filter(use_case_links__use_case_id=getattr(use_case, "pk", use_case))
    if assigned_to is not None:
        rows = rows.filter(assigned_to_id=getattr(assigned_to, "pk", assigned_to))
    if q:
        rows = rows.filter(question__icontains=q)
    return rows.order_by("-impact", "due_at", "-pk")


@dataclass
class SlaState:
    key: str  # "overdue" | "due_soon" | "on_track" | "none"
    label: str


def sla_state(gap: ContextGap, now=None) -> SlaState:
    now = now or timezone.now()
    if gap.due_at is None or gap.status not in OPEN_GAP_STATUSES:
        return SlaState("none", "—")
    if gap.status == GapStatus.IN_REVIEW:
        return SlaState("on_track", "Answered, in review")
    if gap.due_at < now:
        return SlaState("overdue", "Overdue")
    if gap.due_at - now < timezone.timedelta(days=1):
        return SlaState("due_soon", "Due within a day")
    return SlaState("on_track", "On track")


def inbox_of(organization, user):
    """The SME's own questions (assigned or backup), overdue first, then by due time, with
    their evidence count; one query, whatever their number."""
    now = timezone.now()
    return (
        ContextGap.objects.for_org(organization)
        .filter(Q(assigned_to=user) | Q(backup=user), status__in=INBOX_STATUSES)
        .select_related("assigned_to")
        .annotate(
            overdue=Case(When(due_at__lt=now, then=0), default=1, output_field=IntegerField()),
            evidence_count=Count("evidence", distinct=True),
        )
        .order_by("overdue", "due_at", "-impact", "pk")
    )


def reviews_waiting(organization, user):
    """Answers waiting for a review this user may give (not their own)."""
    return (
        Answer.objects.for_org(organization)
        .filter(status=AnswerStatus.IN_REVIEW)
        .exclude(author=user)
        .select_related("gap", "knowledge")
        .order_by("created_at", "pk")
    )


@dataclass
class EvidenceRow:
    result: EvalResult
    reasons: list[str] = field(default_factory=list)


def evidence_of(gap: ContextGap, limit: int = 20) -> list[EvidenceRow]:
    """The failing results behind a gap with their input, output and failed scorers."""
    results = (
        EvalResult.objects.for_org(gap.organization_id)
        .filter(
            pk__in=GapEvidence.objects.for_org(gap.organization_id)
            .filter(gap=gap)
            .values("result_id")
        )
        .select_related("case", "run", "run__plan")
        .order_by("-run__created_at", "case_number", "repetition")[:limit]
    )
    rows = []
    for result in results:
        reasons = [
            str(a.get("reason") or a.get("type"))
            for a in (result.assertions or [])
            if isinstance(a, dict) and not a.get("passed")
        ]
        rows.append(EvidenceRow(result, reasons))
    return rows


def suggestions_for(organization, question: str, *, exclude_gap=None, use_case_id=None):
    """What already answers or asks this: similar gaps and published knowledge, best first.

    The databases retrieve candidates (trigram on PostgreSQL, FTS5 on SQLite); the same
    rule here decides which gaps are similar, so both give the same suggestions.
    """
    org_id = getattr(organization, "pk", organization)
    words = set(search.query_terms(question))
    candidates = search.gap_candidates(
        org_id, question, exclude_id=getattr(exclude_gap, "pk", None), limit=20
    )
    gaps = {
        g.pk: g
        for g in ContextGap.objects.for_org(org_id).filter(pk__in=[m.id for m in candidates])
    }
    similar = []
    for match in candidates:
        gap = gaps.get(match.id)
        if gap is None or gap.status == GapStatus.DUPLICATE:
            continue
        other = set(search.query_terms(gap.question))
        score = 2 * len(words & other) / (len(words) + len(other)) if words and other else 0
        if score >= SIMILAR_MIN:
            similar.append((round(score, 3), gap))
    similar.sort(key=lambda pair: (-pair[0], -pair[1].pk))
    knowledge = knowledge_search(org_id, question, use_case_id=use_case_id, limit=5)
    return {"gaps": similar[:5], "knowledge": knowledge}


# --------------------------------------------------------------------------- knowledge


@dataclass
class KnowledgeHit:
    item: KnowledgeItem
    score: float


def knowledge_search(
    organization, q: str, *, use_case_id: int | None = None, limit: int = 10
) -> list[KnowledgeHit]:
    """Ranked published items matching `q` (two queries, plus the prefetches)."""
    org_id = getattr(organization, "pk", organization)
    matches = search.knowledge_matches(org_id, q, use_case_id=use_case_id, limit=limit)
    if not matches:
        return []
    items = {
        item.pk: item
        for item in KnowledgeItem.objects.for_org(org_id)
        .filter(pk__in=[m.id for m in matches], status=KnowledgeStatus.PUBLISHED)
        .select_related("current")
        .prefetch_related(
            Prefetch(
                "use_case_links",
                KnowledgeUseCase.objects.for_org(org_id).select_related("use_case"),
            ),
            Prefetch(
                "current__citation_links",
                KnowledgeCitation.objects.for_org(org_id).select_related("source"),
            ),
        )
    }
    return [KnowledgeHit(items[m.id], m.score) for m in matches if m.id in items]


def knowledge_of(organization, *, status: str = KnowledgeStatus.PUBLISHED, use_case=None):
    rows = KnowledgeItem.objects.for_org(organization).select_related("current")
    if status:
        rows = rows.filter(status=status)
    if use_case is not None:
        rows = rows.filter(use_case_links__use_case=use_case)
    return rows.order_by("-published_at", "-pk")


def latest_verification(gap: ContextGap) -> GapVerification | None:
    return (
        GapVerification.objects.for_org(gap.organization_id)
        .filter(gap=gap)
        .select_related("run")
        .first()
    )


# --------------------------------------------------------------------------- loop metrics


@dataclass
class LoopMetrics:
    """The context loop's figures for one use case (or the organization)."""

    coverage_covered: int = 0
    coverage_total: int = 0
    gap_failures_closed: int = 0
    gap_failures_total: int = 0
    response_median_days: float | None = None
    response_p90_days: float | None = None
    responses: int = 0
    sla_met: int = 0
    sla_total: int = 0
    fix_published: int = 0
    fix_fixed: int = 0
    open_gaps: int = 0

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def coverage(self) -> float | None:
        return self._share(self.coverage_covered, self.coverage_total)

    @property
    def closed_share(self) -> float | None:
        return self._share(self.gap_failures_closed, self.gap_failures_total)

    @property
    def sla_compliance(self) -> float | None:
        return self._share(self.sla_met, self.sla_total)

    @property
    def fix_rate(self) -> float | None:
        return self._share(self.fix_fixed, self.fix_published)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def loop_metrics(organization, *, use_case=None) -> LoopMetrics:
    """Coverage, closed context-gap failures, SME response time (routed to first answer, in
    business days), SLA compliance and fix rate per published answer."""
    from usecases.models import Requirement

    org_id = getattr(organization, "pk", organization)
    metrics = LoopMetrics()
    gaps = ContextGap.objects.for_org(org_id)
    if use_case is not None:
        gaps = gaps.filter(use_case_links__use_case=use_case)
    gap_rows = list(
        gaps.exclude(status=GapStatus.DUPLICATE).values(
            "pk",
            "status",
            "routed_at",
            "answered_at",
            "due_at",
            "failing_cases",
            "detected_by",
        )
    )
    now = timezone.now()
    durations = []
    for row in gap_rows:
        if row["status"] in OPEN_GAP_STATUSES:
            metrics.open_gaps += 1
        if row["detected_by"] == DetectedBy.EVAL_FAILURE:
            metrics.gap_failures_total += row["failing_cases"]
            if row["status"] in (GapStatus.VERIFIED, GapStatus.CLOSED):
                metrics.gap_failures_closed += row["failing_cases"]
        if row["routed_at"] and row["answered_at"]:
            durations.append(business_days_between(row["routed_at"], row["answered_at"]))
        if row["due_at"]:
            if row["answered_at"]:
                metrics.sla_total += 1
                metrics.sla_met += row["answered_at"] <= row["due_at"]
            elif row["due_at"] < now:
                metrics.sla_total += 1  # overdue and unanswered: a miss already
    if durations:
        metrics.responses = len(durations)
        metrics.response_median_days = round(statistics.median(durations), 2)
        metrics.response_p90_days = round(_percentile(durations, 0.9), 2)
    verifications = GapVerification.objects.for_org(org_id).filter(
        gap__in=gaps, status__in=(VerificationStatus.FIXED, VerificationStatus.NOT_FIXED)
    )
    counts = verifications.aggregate(
        all=Count("pk"), fixed=Count("pk", filter=Q(status=VerificationStatus.FIXED))
    )
    metrics.fix_published, metrics.fix_fixed = counts["all"], counts["fixed"]
    _coverage(metrics, org_id, use_case, Requirement)
    return metrics


def _coverage(metrics: LoopMetrics, org_id: int, use_case, requirement_model) -> None:
    """Launch-blocking requirements and tagged intents that have an approved source or
    published knowledge (for the use case), over all of them.

    A requirement is covered when an approved source or a published item covers its use
    case and no open gap names it; an intent (a tag of the use case's eval cases) when a
    published item or approved source of the use case is about it (its tag appears in
    the item's text or the source's name) and no open gap has that tag.
    """
    from evals.models import EvalCase

    requirements = requirement_model.objects.for_org(org_id).filter(launch_blocking=True)
    if use_case is not None:
        requirements = requirements.filter(use_case=use_case)
    requirements = requirements.exclude(status="retired").annotate(
        has_source=Exists(
            SourceUseCase.objects.for_org(org_id).filter(
                use_case_id=OuterRef("use_case_id"), source__approval_status__in=USABLE_APPROVALS
            )
        ),
        has_knowledge=Exists(
            KnowledgeUseCase.objects.for_org(org_id).filter(
                use_case_id=OuterRef("use_case_id"), item__status=KnowledgeStatus.PUBLISHED
            )
        ),
        open_gap=Exists(
            ContextGap.objects.for_org(org_id).filter(
                requirement_links__requirement_id=OuterRef("pk"), status__in=OPEN_GAP_STATUSES
            )
        ),
    )
    for row in requirements.values("has_source", "has_knowledge", "open_gap"):
        metrics.coverage_total += 1
        metrics.coverage_covered += (row["has_source"] or row["has_knowledge"]) and not row[
            "open_gap"
        ]
    if use_case is None:
        return
    tags: set[str] = set()
    current = EvalCase.objects.for_org(org_id).filter(
        plan__use_case=use_case, plan__archived_at__isnull=True, version_removed__isnull=True
    )
    for case_tags in current.values_list("tags", flat=True):
        tags.update(t for t in (case_tags or []) if isinstance(t, str))
    if not tags:
        return
    texts = [
        _stems(f"{t} {q} {b}")
        for t, q, b in KnowledgeItem.objects.for_org(org_id)
        .filter(status=KnowledgeStatus.PUBLISHED)
        .filter(Q(use_case_links__use_case=use_case) | Q(use_case_links__isnull=True))
        .values_list("title", "question", "body")
    ]
    texts += [
        _stems(name)
        for name in ContextSource.objects.for_org(org_id)
        .filter(approval_status__in=USABLE_APPROVALS, use_case_links__use_case=use_case)
        .values_list("name", flat=True)
    ]
    open_tags = set(
        GapTag.objects.for_org(org_id)
        .filter(gap__status__in=OPEN_GAP_STATUSES, gap__use_case_links__use_case=use_case)
        .values_list("tag__name", flat=True)
    )
    for tag in sorted(tags):
        words = _stems(tag.replace("-", " "))
        metrics.coverage_total += 1
        metrics.coverage_covered += tag not in open_tags and any(words <= text for text in texts)


def _stems(text: str) -> set[str]:
    """Content words without a plural "s": "gift cards" and "gift card" meet."""
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in search.query_terms(text, None)}


def agent_items(organization_id: int):
    """The organization's published knowledge as the reference agent reads it (for an agent
    this process starts itself; over HTTP it reads the knowledge search API)."""
    from evals.reference_agent.knowledge import KnowledgeItem as AgentItem

    return [
        AgentItem(
            id=item.key,
            title=item.title,
            text=item.body,
            keywords=tuple(p.strip() for p in item.question.split(",") if p.strip()),
        )
        for item in KnowledgeItem.objects.for_org(organization_id)
        .filter(status=KnowledgeStatus.PUBLISHED)
        .order_by("number")
    ]


# --------------------------------------------------------------------------- for releases
# What governance's automatic checklist items read (it never touches context.models).


def blocking_gaps_of(organization, use_case) -> list[dict]:
    """Open gaps of a use case that block its launch: priority P1, or affecting one of its
    launch-blocking requirements. One query, highest impact first."""
    from usecases.models import Requirement

    blocking_requirements = Requirement.objects.for_org(organization).filter(
        use_case=use_case, launch_blocking=True
    )
    rows = (
        ContextGap.objects.for_org(organization)
        .filter(status__in=OPEN_GAP_STATUSES, use_case_links__use_case=use_case)
        .filter(
            Q(priority=Priority.P1) | Q(requirement_links__requirement__in=blocking_requirements)
        )
        .distinct()
        .order_by("-impact", "number")
        .values("pk", "number", "question", "status", "priority", "impact")
    )
    return [{**row, "key": f"GAP-{row['number']}"} for row in rows]


def source_freshness_of(organization, use_case) -> list[dict]:
    """The usable (approved or restricted) sources covering a use case: name, freshness and
    next review, stale first. One query."""
    rows = (
        ContextSource.objects.for_org(organization)
        .filter(use_case_links__use_case=use_case, approval_status__in=USABLE_APPROVALS)
        .order_by("name", "pk")
        .values("pk", "name", "freshness", "next_review_due")
    )
    order = {"stale": 0, "due": 1}
    return sorted(rows, key=lambda row: order.get(row["freshness"], 2))


def knowledge_snapshot_of(organization, use_case) -> list[dict]:
    """The published knowledge a use case retrieves today (items linked to it, and items
    linked to no use case), each with its current version: the release's snapshot."""
    linked_elsewhere = KnowledgeUseCase.objects.for_org(organization).exclude(use_case=use_case)
    linked_here = KnowledgeUseCase.objects.for_org(organization).filter(use_case=use_case)
    rows = (
        KnowledgeItem.objects.for_org(organization)
        .filter(status=KnowledgeStatus.PUBLISHED, current__isnull=False)
        .filter(
            Q(pk__in=linked_here.values("item_id")) | ~Q(pk__in=linked_elsewhere.values("item_id"))
        )
        .order_by("number")
        .values("number", "title", "current__number")
    )
    return [
        {"key": f"KB-{r['number']}", "version": r["current__number"], "title": r["title"]}
        for r in rows
    ]


def audited_objects_of(organization, use_case) -> dict:
    """The context rows of a use case whose writes are audited, by the audit trail's object
    type: its gaps, their answers, its sources and its knowledge items (querysets of ids)."""
    gaps = ContextGap.objects.for_org(organization).filter(use_case_links__use_case=use_case)
    return {
        "context.contextgap": gaps.values("pk"),
        "context.answer": Answer.objects.for_org(organization)
        .filter(gap__in=gaps.values("pk"))
        .values("pk"),
        "context.contextsource": ContextSource.objects.for_org(organization)
        .filter(use_case_links__use_case=use_case)
        .values("pk"),
        "context.knowledgeitem": KnowledgeItem.objects.for_org(organization)
        .filter(use_case_links__use_case=use_case)
        .values("pk"),
    }


def sme_answers_between(organization, *, start, end, use_case=None) -> int:
    """SME answers to context gaps written in [start, end), of the use case when one is
    given: the SME time that the metrics area counts in a use case's ROI."""
    answers = Answer.objects.for_org(organization).filter(
        gap__isnull=False, created_at__gte=start, created_at__lt=end
    )
    if use_case is not None:
        answers = answers.filter(
            Q(use_case_links__use_case=use_case) | Q(gap__use_case_links__use_case=use_case)
        )
    return answers.values("pk").distinct().count()
