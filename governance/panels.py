"""What the governance area adds to other pages: the home card, the use case's releases
and HITL policy, and the deploy gate's "an approved release" check."""

from __future__ import annotations

from django.urls import reverse

from genai_po.roles import Action, role_can
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
    }


def use_case_panel(request, use_case, **kwargs) -> dict:
    return {
        "releases": list(selectors.releases_of(request.organization, use_case=use_case)[:5]),
        "hitl": current_policy(use_case),
        "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
    }


def release_gate_check(use_case, readiness):
    release = selectors.approved_release_of(use_case)
    url = reverse("release_list", args=[use_case.organization.slug])
    return check(
        "A release is approved",
        release is not None,
        f"No approved release: create one, attach its evidence and get it signed off "
        f"(Governance → Releases, {url}?use_case={use_case.number}).",
        f"{release.key} ({release.name}) is {release.get_status_display().lower()}."
        if release
        else "",
    )
