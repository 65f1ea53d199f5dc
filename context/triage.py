"""The context area's handler of evals' triage: a failed case triaged as "context gap"
opens a gap, or joins the one that already holds that case (in the triage's transaction)."""

from django.urls import reverse

from context.services import gap_from_triage
from evals.triage import FollowUp


def on_context_gap_triage(*, triage, actor) -> FollowUp:
    gap = gap_from_triage(triage=triage, actor=actor)
    return FollowUp(gap.key, reverse("gap_detail", args=[triage.organization.slug, gap.number]))
