"""What the context area shows on a use case's lifecycle view (registered in
`ContextConfig.ready()`): the context inventory under Evaluate, and the knowledge the
loop brought back under Improve."""

from __future__ import annotations

from django.urls import reverse

from context.models import (
    OPEN_GAP_STATUSES,
    ContextSource,
    Freshness,
    GapUseCase,
    SourceUseCase,
)
from usecases.lifecycle import MISSING, PARTIAL, PRODUCED, Artifact


def inventory_artifact(use_case) -> Artifact:
    org_id = use_case.organization_id
    slug = use_case.organization.slug
    linked = SourceUseCase.objects.for_org(org_id).filter(use_case=use_case).values("source_id")
    freshness = list(
        ContextSource.objects.for_org(org_id)
        .filter(pk__in=linked)
        .values_list("freshness", flat=True)
    )
    url = reverse("source_list", args=[slug]) + f"?use_case={use_case.number}"
    if not freshness:
        return Artifact("Context inventory", MISSING, "", reverse("source_list", args=[slug]),
                        ("List the sources the AI relies on",))  # fmt: skip
    stale = freshness.count(Freshness.STALE)
    summary = f"{len(freshness)} source{'s' * (len(freshness) != 1)}" + (
        f", {stale} stale" if stale else ""
    )
    missing = (f"Review {stale} stale source{'s' * (stale != 1)}",) if stale else ()
    return Artifact("Context inventory", PARTIAL if stale else PRODUCED, summary, url, missing)


def knowledge_loop_artifact(use_case) -> Artifact:
    org_id = use_case.organization_id
    statuses = list(
        GapUseCase.objects.for_org(org_id)
        .filter(use_case=use_case)
        .values_list("gap__status", flat=True)
    )
    url = reverse("gap_list", args=[use_case.organization.slug]) + f"?use_case={use_case.number}"
    open_gaps = sum(1 for s in statuses if s in OPEN_GAP_STATUSES)
    closed = len(statuses) - open_gaps
    summary = f"{closed} gap{'s' * (closed != 1)} answered or closed, {open_gaps} open"
    if not statuses:
        return Artifact("Knowledge from failures", PRODUCED, "no context gap so far", url)
    missing = (f"Get {open_gaps} open gap{'s' * (open_gaps != 1)} answered",) if open_gaps else ()
    return Artifact("Knowledge from failures", PARTIAL if open_gaps else PRODUCED, summary, url,
                    missing)  # fmt: skip
