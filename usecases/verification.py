"""What verifies a requirement: providers registered in `AppConfig.ready()`.

Each provider answers for one kind of verification from links it owns, as real foreign
keys: this app's named human reviews (RequirementVerification), the evals app's eval
cases (evals.EvalCaseRequirement), the metrics app's monitors later. The PRD, the
traceability matrix, readiness, the Markdown export and the API all read verifications
through `verifications_of`, one query per provider for any number of requirements.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.urls import reverse

from usecases.models import RequirementVerification, VerificationKind


@dataclass(frozen=True)
class Verification:
    """One thing that verifies a requirement, as every page and the API show it."""

    kind: str
    name: str
    owner: object | None = None  # a User, or None
    url: str = ""  # where it lives, in the browser
    review_id: int | None = None  # set for a named human review (removable on the PRD)

    @property
    def kind_label(self) -> str:
        return VerificationKind(self.kind).label

    @property
    def owner_email(self) -> str | None:
        return self.owner.email if self.owner is not None else None


class VerificationProvider(Protocol):
    kind: str

    def verifications(
        self, organization, requirement_ids: list[int]
    ) -> dict[int, list[Verification]]:
        """{requirement id: its verifications of this kind}, in one query."""


_PROVIDERS: dict[str, VerificationProvider] = {}


def register_verification_provider(provider: VerificationProvider) -> None:
    """One provider per kind of verification; registering a kind again replaces it."""
    if provider.kind not in VerificationKind.values:
        raise ValueError(
            f"Unknown verification kind {provider.kind!r}; kinds: {VerificationKind.values}."
        )
    _PROVIDERS[provider.kind] = provider


def provided_kinds() -> list[str]:
    """The kinds some app verifies today (the others are "not built yet" on the pages)."""
    return [kind for kind in VerificationKind.values if kind in _PROVIDERS]


def verifications_of(organization, requirement_ids: Iterable[int]) -> dict[int, list]:
    """Every verification of the given requirements, by requirement id, by kind."""
    ids = sorted(set(requirement_ids))
    found: dict[int, list[Verification]] = {pk: [] for pk in ids}
    if not ids:
        return found
    for kind in VerificationKind.values:
        provider = _PROVIDERS.get(kind)
        if provider is None:
            continue
        for requirement_id, items in provider.verifications(organization, ids).items():
            found.setdefault(requirement_id, []).extend(items)
    return found


class HumanReviews:
    """Named human reviews, kept by this app (RequirementVerification rows)."""

    kind = VerificationKind.HUMAN_REVIEW

    def verifications(self, organization, requirement_ids):
        reviews = (
            RequirementVerification.objects.for_org(organization)
            .filter(requirement_id__in=requirement_ids)
            .select_related("owner", "requirement", "requirement__use_case")
            .order_by("created_at", "pk")
        )
        found: dict[int, list[Verification]] = {}
        for review in reviews:
            requirement = review.requirement
            url = (
                reverse("prd", args=[organization.slug, requirement.use_case.number])
                + f"#req-{requirement.pk}"
            )
            found.setdefault(review.requirement_id, []).append(
                Verification(
                    kind=self.kind,
                    name=review.name,
                    owner=review.owner,
                    url=url,
                    review_id=review.pk,
                )  # fmt: skip
            )
        return found
