"""What the governance area adds to other pages: the home card, the use case's releases
and HITL policy, and the deploy gate's "an approved release" check."""

from __future__ import annotations

from django.utils import timezone

from genai_po.roles import Action, role_can
from governance import gate as release_gate
from governance import selectors
from governance.services.hitl import current_policy
from usecases.gates import check


def home_panel(request, **kwargs) -> dict:
    org = request.organization
    # One count, not a gate per release: the reviews page works out what is whose.
    pending = (
        selectors.releases_in_review(org, exclude_owner=request.user).count()
        if role_can(request.role, Action.SIGN_OFF)
        else 0
    )
    return {
        "governance_releases": selectors.releases_of(org)[:3],
        "governance_pending": pending,
        "governance_reports_due": list(selectors.reports_due(org)[:3]),
    }


def use_case_panel(request, use_case, **kwargs) -> dict:
    return {
        "releases": list(selectors.releases_of(request.organization, use_case=use_case)[:5]),
        "hitl": current_policy(use_case),
        "open_incidents": selectors.incidents_of(
            request.organization, use_case=use_case, status="unclosed"
        ).count(),
        "reports_due": list(selectors.reports_due(request.organization).filter(use_case=use_case)),
        "now": timezone.now(),
        "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
        "can_read_audit": any(
            role_can(request.role, a)
            for a in (Action.EDIT_PRODUCT, Action.SIGN_OFF, Action.VIEW_AUDIT)
        ),
    }


def release_gate_check(use_case, readiness):
    """Met when the newest approved (or released) release's gate is ready now: an approval
    whose evidence moved since, or whose sign-offs went stale, does not count."""
    release = selectors.approved_release_of(use_case)
    if release is None:
        return check(
            "A release is approved",
            False,
            "No approved release: create one under Governance → Releases, attach its "
            "evidence and get it signed off.",
        )
    gate = release_gate.evaluate(release)
    status = release.get_status_display().lower()
    if gate.verdict != release_gate.READY:
        first = gate.blockers[0].message if gate.blockers else ""
        return check(
            "A release is approved",
            False,
            f"{release.key} is {status}, but its gate is not ready now "
            f"({len(gate.blockers)} blocker{'s' if len(gate.blockers) != 1 else ''}: {first})",
        )
    return check("A release is approved", True, "", f"{release.key} ({release.name}) is {status}.")
