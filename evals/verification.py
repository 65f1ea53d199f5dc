"""Eval cases as verifications of requirements (registered in EvalsConfig.ready).

A case verifies what its current revision links to (EvalCaseRequirement); cases of an
archived plan verify nothing.
"""

from django.urls import reverse

from evals.models import EvalCaseRequirement
from usecases.models import VerificationKind
from usecases.verification import Verification


def case_label(plan_name: str, case) -> str:
    title = case.name or (case.prompt or "")[:80] or "chat case"
    return f"{plan_name} · {case.key}: {title}"


class EvalCaseVerifications:
    kind = VerificationKind.EVAL_CASE

    def verifications(self, organization, requirement_ids):
        links = (
            EvalCaseRequirement.objects.for_org(organization)
            .filter(
                requirement_id__in=requirement_ids,
                case__version_removed__isnull=True,
                case__plan__archived_at__isnull=True,
            )
            .select_related("case", "case__plan")
            .only(
                "requirement_id",
                "case__number",
                "case__name",
                "case__prompt",
                "case__plan__name",
            )  # fmt: skip
            .order_by("case__plan__name", "case__plan_id", "case__number")
        )
        found: dict[int, list[Verification]] = {}
        for link in links:
            case = link.case
            url = reverse("plan_detail", args=[organization.slug, case.plan_id])
            found.setdefault(link.requirement_id, []).append(
                Verification(kind=self.kind, name=case_label(case.plan.name, case), url=url)
            )
        return found
