"""The context area's backlog source: open context gaps (registered in
`ContextConfig.ready()`).

A gap is open work while its status is one of `OPEN_GAP_STATUSES` (open, routed, answered,
in review), the statuses the gap list's "waiting" filter and the SLA read. Verified,
closed, duplicate and won't fix are done with; published is left out too, since what it
waits for is the automatic re-check of its cases (`services.verification`), which sends
it back to answered when the knowledge did not fix it.

- impact: from the severity (critical 5, high 4, medium 3, low 2), raised to what the
  priority says when that is higher (P1 5, P2 4, P3 3, P4 2): the priority grows with the
  failing cases behind the gap, or is set by hand.
- urgency: from `selectors.sla_state`: overdue 5, due within a day 4, otherwise on track
  (or answered and in review) 3; with no SLA, 3 when someone is assigned and 2 when it
  waits for an SME.
- effort: 2, an SME's answer.
- owner: the assigned SME, else whoever recorded the gap.
- use case: the linked use case with the lowest number (with `use_case` given, only the
  gaps linked to it, and that use case).

Two queries whatever the number of gaps (one with `use_case` given): the gaps with their
people, then their use-case links.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone

from context.models import OPEN_GAP_STATUSES, ContextGap, GapStatus, GapUseCase, Priority, Severity
from context.selectors import sla_state
from usecases.backlog import BacklogEntry, person_name, url_maker

KIND = "context_gap"
EFFORT = 2
SEVERITY_IMPACT = {Severity.CRITICAL: 5, Severity.HIGH: 4, Severity.MEDIUM: 3, Severity.LOW: 2}
PRIORITY_IMPACT = {Priority.P1: 5, Priority.P2: 4, Priority.P3: 3, Priority.P4: 2}


def open_gaps(organization, *, use_case=None):
    """The open gaps with their SME and author (and, without `use_case`, their use-case
    links, lowest number first, in `linked`)."""
    gaps = (
        ContextGap.objects.for_org(organization)
        .filter(status__in=OPEN_GAP_STATUSES)
        .select_related("assigned_to", "created_by")
        .order_by("number")
    )
    links = GapUseCase.objects.for_org(organization)
    if use_case is not None:
        return gaps.filter(Exists(links.filter(gap_id=OuterRef("pk"), use_case=use_case)))
    links = links.select_related("use_case").order_by("use_case__number", "pk")
    return gaps.prefetch_related(Prefetch("use_case_links", queryset=links, to_attr="linked"))


def impact_of(gap: ContextGap) -> int:
    return max(SEVERITY_IMPACT.get(gap.severity, 3), PRIORITY_IMPACT.get(gap.priority, 2))


def _span(seconds: float) -> str:
    days = int(seconds // 86400)
    if days >= 1:
        return f"{days} day{'s' * (days != 1)}"
    hours = int(seconds // 3600)
    return f"{hours} h" if hours >= 1 else "less than an hour"


def urgency_of(gap: ContextGap, now) -> tuple[int, str]:
    sla = sla_state(gap, now)
    if sla.key == "overdue":
        return 5, f"SLA passed {_span((now - gap.due_at).total_seconds())} ago"
    if sla.key == "due_soon":
        return 4, f"SLA due in {_span((gap.due_at - now).total_seconds())}"
    if gap.status == GapStatus.IN_REVIEW:
        return 3, "answered, waiting for review"
    if sla.key == "on_track":
        return 3, f"SLA due in {_span((gap.due_at - now).total_seconds())}"
    if gap.assigned_to_id:
        return 3, f"with {person_name(gap.assigned_to)}, no SLA"
    return 2, "waiting for an SME"


def context_gap_entries(organization, *, use_case=None) -> list[BacklogEntry]:
    """One entry per open gap."""
    now = timezone.now()
    url_of = url_maker("gap_detail", organization.slug)
    out = []
    for gap in open_gaps(organization, use_case=use_case):
        if use_case is not None:
            linked = use_case
        else:
            linked = gap.linked[0].use_case if gap.linked else None
        urgency, why = urgency_of(gap, now)
        out.append(
            BacklogEntry(
                kind=KIND,
                key=gap.key,
                title=gap.question,
                url=url_of(gap.number),
                obj=gap,
                created_at=gap.created_at,
                impact=impact_of(gap),
                urgency=urgency,
                effort=EFFORT,
                owner=gap.assigned_to or gap.created_by,
                use_case=linked,
                why=why,
            )
        )
    return out
