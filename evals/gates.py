"""What the evals area proves at the lifecycle gates (registered in EvalsConfig.ready)."""

from evals.selectors import plans_with_cases, plans_with_latest_verdict
from usecases.gates import check


def eval_plan_exists(use_case, readiness):
    plans = plans_with_cases(use_case)
    return check(
        "An eval plan exists",
        bool(plans),
        "Create an eval plan with at least one case (Evals → New eval plan).",
        f"{plans[0][0]} ({plans[0][1]} case{'s' if plans[0][1] != 1 else ''})." if plans else "",
    )


def _percent(rate) -> str:
    return "no pass rate" if rate is None else f"{rate * 100:.0f}% passed"


def latest_run_meets_thresholds(use_case, readiness):
    """Every active plan with cases: its latest finished run met the plan's thresholds."""
    label = "The latest run of the plan meets its thresholds"
    plans = plans_with_latest_verdict(use_case)
    if not plans:
        return check(label, False, "No eval plan with cases: create one and run it.")
    good, bad = [], []
    for plan in plans:
        if plan.verdict_run_number is None:
            bad.append(f"{plan.name}: no finished run yet")
        elif plan.verdict_run_thresholds_met:
            good.append(
                f"{plan.name}: run #{plan.verdict_run_number}, "
                f"{_percent(plan.verdict_run_pass_rate)}"
            )
        else:
            bad.append(
                f"{plan.name}: run #{plan.verdict_run_number} did not meet its thresholds "
                f"({_percent(plan.verdict_run_pass_rate)})"
            )
    return check(label, not bad, "; ".join(bad) + ".", "; ".join(good) + ".")
