"""What the evals area shows on a use case's lifecycle view (registered in
`EvalsConfig.ready()`): its eval plans and their latest runs, under Evaluate."""

from __future__ import annotations

from django.urls import reverse

from evals import selectors
from evals.models import RunStatus
from usecases.lifecycle import MISSING, PARTIAL, PRODUCED, Artifact


def plans_artifact(use_case) -> Artifact:
    slug = use_case.organization.slug
    plans = list(selectors.plans_of(use_case.organization_id, use_case=use_case).order_by("name"))
    if not plans:
        return Artifact(
            "Eval plans and runs", MISSING, "", reverse("plan_create", args=[slug]),
            ("Create an eval plan from the PRD's requirements",),
        )  # fmt: skip
    missing = []
    for plan in plans:
        if not plan.case_count:
            missing.append(f"Add cases to {plan.name}")
        elif plan.last_run_id is None:
            missing.append(f"Run {plan.name}")
        elif plan.last_run_status == RunStatus.FAILED:
            missing.append(f"{plan.name}: run #{plan.last_run_number} failed; run it again")
        elif plan.last_run_thresholds_met is False:
            missing.append(f"Make {plan.name} meet its thresholds (run #{plan.last_run_number})")
    ran = [p for p in plans if p.last_run_pass_rate is not None]
    latest = ", ".join(
        f"{p.name} run #{p.last_run_number} {p.last_run_pass_rate:.0%} passed" for p in ran[:3]
    )
    summary = f"{len(plans)} plan{'s' * (len(plans) != 1)}" + (f"; {latest}" if latest else "")
    first = plans[0]
    url = (
        reverse("run_detail", args=[slug, first.last_run_id])
        if len(plans) == 1 and first.last_run_id
        else reverse("plan_detail", args=[slug, first.pk]) if len(plans) == 1
        else reverse("evals_home", args=[slug])
    )  # fmt: skip
    return Artifact("Eval plans and runs", PARTIAL if missing else PRODUCED, summary, url,
                    tuple(missing))  # fmt: skip
