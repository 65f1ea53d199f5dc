"""Reads of the use-case area, organization first."""

import difflib
import re
from dataclasses import dataclass, field

from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce

from genai_po.models import Organization
from usecases.models import (
    PRD_SECTIONS,
    Prd,
    PrdVersion,
    Requirement,
    UseCase,
    VerificationKind,
)
from usecases.verification import verifications_of

SORTS = {
    "rank": (F("priority_score").desc(nulls_last=True), "number"),
    "key": ("number",),
    "title": ("title", "number"),
    "stage": ("stage", "number"),
    "risk": ("risk_tier", "number"),
    "users": (F("user_count").desc(nulls_last=True), "number"),
    "updated": ("-updated_at",),
}


def rank_expression(organization):
    """Rank among the organization's active, fully scored use cases, whatever a list's
    filters (1 + how many score higher; ties share a rank); null when unranked."""
    higher = (
        UseCase.objects.for_org(organization)
        .filter(archived_at__isnull=True, priority_score__gt=OuterRef("priority_score"))
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Case(
        When(archived_at__isnull=False, then=None),
        When(priority_score__isnull=True, then=None),
        default=Coalesce(Subquery(higher), 0) + 1,
        output_field=IntegerField(),
    )


def use_cases_filtered(
    *,
    organization: Organization,
    stage: str = "",
    owner: int | None = None,
    status: str = "",
    risk_tier: str = "",
    q: str = "",
    archived: bool = False,
    sort: str = "rank",
):
    """Use cases of one organization, filtered, each with its rank in the organization."""
    use_cases = UseCase.objects.for_org(organization).select_related("owner")
    use_cases = use_cases.filter(archived_at__isnull=not archived)
    if stage:
        use_cases = use_cases.filter(stage=stage)
    if owner:
        use_cases = use_cases.filter(owner_id=owner)
    if status:
        use_cases = use_cases.filter(status=status)
    if risk_tier:
        use_cases = use_cases.filter(risk_tier=risk_tier)
    if q:
        match = Q(title__icontains=q) | Q(problem__icontains=q) | Q(department__icontains=q)
        key = re.fullmatch(r"UC-(\d{1,9})", q.strip().upper())
        if key:  # the key the list shows finds its use case
            match |= Q(number=int(key.group(1)))
        use_cases = use_cases.filter(match)
    use_cases = use_cases.annotate(rank=rank_expression(organization))
    return use_cases.order_by(*SORTS.get(sort, SORTS["rank"]))


def use_case_rank(*, use_case: UseCase) -> tuple[int | None, int]:
    """(rank, number ranked) among the organization's active, scored use cases."""
    ranked = UseCase.objects.for_org(use_case.organization_id).filter(
        archived_at__isnull=True, priority_score__isnull=False
    )
    total = ranked.count()
    if use_case.priority_score is None or use_case.archived_at:
        return None, total
    return ranked.filter(priority_score__gt=use_case.priority_score).count() + 1, total


@dataclass
class Readiness:
    """ "If a behavior cannot be tested, monitored, or reviewed by an owner, it is not ready."""

    requirement_count: int = 0
    launch_blocking_count: int = 0
    unverified: list = field(default_factory=list)  # (requirement, [reasons])

    @property
    def ready(self) -> bool:
        return self.requirement_count > 0 and not self.unverified


def with_verifications(organization, requirements) -> list[Requirement]:
    """The requirements, each with `verified_by`: what verifies it, from every provider."""
    requirements = list(requirements)
    found = verifications_of(organization, [r.pk for r in requirements])
    for r in requirements:
        r.verified_by = found.get(r.pk, [])
    return requirements


def requirements_of(*, use_case: UseCase) -> list[Requirement]:
    """A use case's requirements in PRD order, each with `verified_by`."""
    requirements = (
        Requirement.objects.for_org(use_case.organization_id)
        .filter(use_case=use_case)
        .select_related("owner", "use_case")
        .order_by("position", "number")
    )
    organization = use_case.organization
    return with_verifications(organization, requirements)


def readiness_of(*, use_case: UseCase, requirements=None) -> Readiness:
    requirements = requirements if requirements is not None else requirements_of(
        use_case=use_case)  # fmt: skip
    live = [r for r in requirements if r.status != "retired"]
    result = Readiness(requirement_count=len(live))
    for r in live:
        if not r.launch_blocking:
            continue
        result.launch_blocking_count += 1
        reasons = []
        if r.owner_id is None:
            reasons.append("no owner")
        if not r.verified_by:
            reasons.append("no verification")
        elif any(
            v.kind == VerificationKind.HUMAN_REVIEW and v.owner is None for v in r.verified_by
        ):
            reasons.append("a human review has no owner")
        if reasons:
            result.unverified.append((r, reasons))
    return result


def prd_of(*, use_case: UseCase) -> Prd | None:
    return Prd.objects.for_org(use_case.organization_id).filter(use_case=use_case).first()


def prd_versions(*, prd: Prd):
    return PrdVersion.objects.for_org(prd.organization_id).filter(prd=prd).order_by("-number")


def _requirement_lines(requirements: list[dict]) -> list[str]:
    lines = []
    for r in requirements:
        flags = ["launch-blocking"] if r.get("launch_blocking") else []
        lines.append(
            f"{r['key']} [{r['type']}; {r['verification_method']}; {r['status']}"
            f"{'; ' + ', '.join(flags) if flags else ''}; owner {r.get('owner') or '-'}] "
            f"{r['statement']}"
        )
    return lines


def prd_diff(*, old: PrdVersion, new: PrdVersion) -> list[dict]:
    """Section by section (and the requirement list), the lines removed and added."""
    parts = []
    for key, label in [*PRD_SECTIONS, ("requirements", "Requirements")]:
        if key == "requirements":
            a = _requirement_lines(old.content.get("requirements", []))
            b = _requirement_lines(new.content.get("requirements", []))
        else:
            a = old.content.get("sections", {}).get(key, "").splitlines()
            b = new.content.get("sections", {}).get(key, "").splitlines()
        if a == b:
            continue
        lines = []
        for line in difflib.ndiff(a, b):
            if line.startswith("? "):
                continue
            kind = {"- ": "removed", "+ ": "added"}.get(line[:2], "same")
            lines.append({"kind": kind, "text": line[2:]})
        parts.append({"key": key, "label": label, "lines": lines})
    return parts
