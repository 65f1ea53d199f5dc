"""What the governance area shows on a use case's lifecycle view (registered in
`GovernanceConfig.ready()`): under Deploy, its release and its human-oversight policy."""

from __future__ import annotations

from django.urls import reverse

from governance import selectors
from governance.models import APPROVED_STATUSES, ReleaseStatus
from governance.services.hitl import current_policy
from usecases.lifecycle import MISSING, PARTIAL, PRODUCED, Artifact


def release_artifact(use_case) -> Artifact:
    slug = use_case.organization.slug
    release = selectors.releases_of(use_case.organization_id, use_case=use_case).first()
    if release is None:
        return Artifact(
            "Release", MISSING, "", reverse("release_create", args=[slug]),
            ("Create a release, attach its evidence and ask for sign-offs",),
        )  # fmt: skip
    status = release.get_status_display().lower()
    summary = f"{release.key} {release.name}, {status}"
    url = reverse("release_detail", args=[slug, release.number])
    if release.status in (*APPROVED_STATUSES, ReleaseStatus.RELEASED):
        return Artifact("Release", PRODUCED, summary, url)
    todo = {
        ReleaseStatus.DRAFT: f"Resolve {release.key}'s checklist and submit it for review",
        ReleaseStatus.IN_REVIEW: f"Get {release.key} signed off",
        ReleaseStatus.REJECTED: f"Rework {release.key} and submit it again",
        ReleaseStatus.ROLLED_BACK: f"{release.key} was rolled back: prepare the next release",
    }[release.status]
    return Artifact("Release", PARTIAL, summary, url, (todo,))


def oversight_artifact(use_case) -> Artifact:
    url = reverse("hitl_policy", args=[use_case.organization.slug, use_case.number])
    policy = current_policy(use_case)
    if policy is None:
        return Artifact(
            "Human oversight policy", MISSING, "", url,
            ("Say which actions the AI takes alone, which a person reviews, which never",),
        )  # fmt: skip
    return Artifact("Human oversight policy", PRODUCED, f"version {policy.version}", url)
