"""Writes of the context area. Each checks the actor, validates, writes in one transaction
and audits; one module per kind of object."""

from context.services.answers import (
    answer_review,
    answer_revise,
    answer_submit,
    may_answer,
    may_review,
)
from context.services.gaps import (
    gap_create,
    gap_from_triage,
    gap_set_status,
    gap_update,
    priority_for,
)
from context.services.knowledge import knowledge_publish, knowledge_retire
from context.services.smes import (
    context_settings_update,
    gap_route,
    normalize_tags,
    route_for,
    sme_profile_set,
)
from context.services.sources import (
    freshness_of,
    source_create,
    source_mark_verified,
    source_set_approval,
    source_update,
    sources_refresh_freshness,
)
from context.services.verification import (
    gap_resolve_with_knowledge,
    gap_verify_start,
    on_run_finished,
    verification_settle,
)

__all__ = [
    "answer_review",
    "answer_revise",
    "answer_submit",
    "context_settings_update",
    "freshness_of",
    "gap_create",
    "gap_from_triage",
    "gap_resolve_with_knowledge",
    "gap_route",
    "gap_set_status",
    "gap_update",
    "gap_verify_start",
    "knowledge_publish",
    "knowledge_retire",
    "may_answer",
    "may_review",
    "normalize_tags",
    "on_run_finished",
    "priority_for",
    "route_for",
    "sme_profile_set",
    "source_create",
    "source_mark_verified",
    "source_set_approval",
    "source_update",
    "sources_refresh_freshness",
    "verification_settle",
]
