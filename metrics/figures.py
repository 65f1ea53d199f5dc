"""The metrics and their formulas: one definition each, shown on the definitions page and
next to every figure, and one pure function each, computed from rollup totals (so each is
tested against hand-computed fixtures, and the dashboards never read raw events).

A rate with nothing to divide by is None ("no data"), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Definition:
    key: str
    name: str
    formula: str
    why: str
    unit: str = "%"
    short: str = ""  # next to the figure, when the formula is long


DEFINITIONS: list[Definition] = [
    Definition(
        "dau", "Daily active users",
        "Distinct users with at least one event on the day.",
        "Usage alone is not enough, but without it nothing else matters.", unit="users",
    ),
    Definition(
        "wau", "Weekly active users",
        "Distinct users with at least one event over the 7 days ending on the day.",
        "Smooths the weekday pattern out of daily use.", unit="users",
    ),
    Definition(
        "mau", "Monthly active users",
        "Distinct users with at least one event over the 30 days ending on the day.",
        "The reach of the use case among its target users.", unit="users",
    ),
    Definition(
        "returning_share", "Returning users",
        "Users active on a day who had been active on an earlier day ÷ the day's active users.",
        "People come back to what helps them: a low share means a tool tried once.",
    ),
    Definition(
        "cohort_retention", "Launch-cohort retention",
        "Users first seen in the first 7 days of telemetry (the launch cohort) who were active "
        "over the 7 days ending on the day ÷ the size of the launch cohort.",
        "Whether the first users stayed once the novelty wore off.",
    ),
    Definition(
        "task_success_rate", "Task success rate",
        "Events with outcome success ÷ events with an outcome (success, failure, escalated, "
        "abandoned).",
        "The share of tasks the AI system actually completed.",
    ),
    Definition(
        "error_rate", "Error rate",
        "Error events ÷ (interactions + error events).",
        "How often the system fails outright (timeouts, tool errors, crashes).",
    ),
    Definition(
        "hallucination_rate", "Hallucination rate (flagged)",
        "Events flagged as hallucination by users or reviewers ÷ interactions.",
        "What people caught: the floor of the true rate.",
    ),
    Definition(
        "online_failure_rate", "Online scoring failure rate",
        "Sampled interactions failing any of the plan's online scorers ÷ sampled interactions "
        "scored.",
        "The eval plan's rules applied to real traffic, not only to the test set.",
    ),
    Definition(
        "online_hallucination_rate", "Hallucination rate (online scoring)",
        "Scored interactions that cited no approved source or said a forbidden phrase ÷ "
        "sampled interactions scored.",
        "An estimate of hallucinations nobody flagged.",
    ),
    Definition(
        "escalation_rate", "Escalation rate",
        "Escalations (escalation events and outcome escalated) ÷ interactions.",
        "Handoffs to people: too high and nothing is saved, too low and risky cases slip by.",
    ),
    Definition(
        "latency", "Mean latency",
        "Sum of reported latencies ÷ events reporting a latency.", unit="ms",
        why="Slow answers are abandoned answers.",
    ),
    Definition(
        "cost_per_success", "Cost per successful task",
        "AI running cost reported by the events ÷ successful events.", unit="currency",
        why="What one completed task costs: the unit economics of the use case.",
    ),
    Definition(
        "context_coverage", "Context coverage",
        "Launch-blocking requirements and eval-case intents with approved context and no open "
        "gap ÷ all of them (from the context loop, today).",
        "The AI can only be as right as the knowledge it is given.",
    ),
    Definition(
        "production_context_coverage", "Context coverage in production",
        "Interactions that retrieved at least one of the organization's published knowledge "
        "items (their document ids, KB-n, as sent or in OpenTelemetry retrieval spans) ÷ "
        "interactions.",
        "Whether the AI actually finds the knowledge the loop produced, in real use.",
    ),
    Definition(
        "sme_response", "SME response time",
        "Median business days from a context gap routed to its first answer (from the context "
        "loop).", unit="business days",
        why="Slow answers from experts keep failures failing.",
    ),
    Definition(
        "eval_pass_rate", "Eval pass rate",
        "Passed cases ÷ cases of each completed full run of the use case's eval plans.",
        "Quality before release, next to quality in production.",
    ),
    Definition(
        "roi", "ROI",
        "Value = hours saved × loaded hourly cost + other value per month × months; hours saved "
        "= (minutes saved reported + successes reporting none × default minutes per success) ÷ "
        "60. Cost = AI running cost + SME answers × minutes per answer ÷ 60 × SME hourly cost. "
        "Net value = value − cost; ROI = net value ÷ cost. The portfolio values each use "
        "case's hours with its own assumptions (else the organization's), adds each use case's "
        "own other value and the organization's once, and shows no sum when the use cases "
        "count in different currencies.", unit="currency",
        why="Whether the use case pays for itself, with its assumptions in the open.",
        short="Net value = hours saved × loaded hourly cost + other value − (AI running cost + "
        "SME time); ROI = net value ÷ cost, with the assumptions on the ROI assumptions page.",
    ),
    Definition(
        "business_metric", "Business metric",
        "The use case's own metric, as measured, against its baseline and target.", unit="",
        why="What the business asked for when it approved the use case.",
    ),
]  # fmt: skip
BY_KEY = {d.key: d for d in DEFINITIONS}


def share(part: float | int | None, whole: float | int | None) -> float | None:
    """part ÷ whole, or None when there is nothing to divide by."""
    if not whole or part is None:
        return None
    return part / whole


def outcomes(t: dict) -> int:
    return t["successes"] + t["failures"] + t["escalations"] + t["abandoned"]


def task_success_rate(t: dict) -> float | None:
    return share(t["successes"], outcomes(t))


def error_rate(t: dict) -> float | None:
    return share(t["errors"], t["interactions"] + t["errors"])


def hallucination_rate(t: dict) -> float | None:
    return share(t["hallucinations"], t["interactions"])


def online_failure_rate(t: dict) -> float | None:
    return share(t["online_failures"], t["online_scored"])


def online_hallucination_rate(t: dict) -> float | None:
    return share(t["online_hallucinations"], t["online_scored"])


def escalation_rate(t: dict) -> float | None:
    return share(t["escalations"], t["interactions"])


def production_context_coverage(t: dict) -> float | None:
    return share(t["knowledge_retrieved"], t["interactions"])


def latency(t: dict) -> float | None:
    return share(t["latency_ms_sum"], t["latency_count"])


def cost_per_success(t: dict) -> float | None:
    """None, not 0, when no event reported a cost (OpenTelemetry spans seldom carry one)."""
    return share(t["cost"] or None, t["successes"])


def returning_share(t: dict) -> float | None:
    return share(t["returning_users"], t["users"])


@dataclass(frozen=True)
class Roi:
    hours_saved: float
    time_value: float
    other_value: float
    ai_cost: float
    sme_cost: float
    currencies: tuple = ()  # more than one: the use cases count in different currencies

    @property
    def mixed(self) -> bool:
        return len(self.currencies) > 1

    @property
    def value(self) -> float:
        return self.time_value + self.other_value

    @property
    def cost(self) -> float:
        return self.ai_cost + self.sme_cost

    @property
    def net(self) -> float:
        return self.value - self.cost

    @property
    def ratio(self) -> float | None:
        return share(self.net, self.cost)


def portfolio_roi(
    per_use_case: list[tuple[dict, object]],
    organization_assumptions,
    *,
    months: float,
    sme_answers: int,
) -> Roi:
    """The portfolio's ROI: each use case's time saved valued with its own assumptions (else
    the organization's), its own other value, the organization's other value once, all AI
    cost, and the SMEs' time at the organization's rate. `per_use_case`: [(totals, the
    assumptions it uses)]."""
    org = organization_assumptions
    hours = time_value = other_value = ai_cost = 0.0
    currencies = {org.currency}
    for t, own in per_use_case:
        part = roi(t, own, months=months, sme_answers=0)
        hours += part.hours_saved
        time_value += part.time_value
        ai_cost += part.ai_cost
        if own.use_case_id is not None:
            other_value += part.other_value
            currencies.add(own.currency)
    sme_hours = sme_answers * float(org.sme_minutes_per_answer) / 60
    return Roi(
        hours_saved=hours, time_value=time_value,
        other_value=other_value + float(org.other_value_per_month) * months,
        ai_cost=ai_cost, sme_cost=sme_hours * float(org.sme_hourly_cost),
        currencies=tuple(sorted(currencies)),
    )  # fmt: skip


def roi(t: dict, assumptions, *, months: float, sme_answers: int) -> Roi:
    """The ROI of a period from its totals and the value assumptions (see DEFINITIONS)."""
    default_minutes = float(assumptions.minutes_saved_per_success or Decimal(0))
    minutes = t["minutes_saved"] + t["successes_without_minutes"] * default_minutes
    hours = minutes / 60
    sme_hours = sme_answers * float(assumptions.sme_minutes_per_answer) / 60
    return Roi(
        hours_saved=hours,
        time_value=hours * float(assumptions.loaded_hourly_cost),
        other_value=float(assumptions.other_value_per_month) * months,
        ai_cost=t["cost"],
        sme_cost=sme_hours * float(assumptions.sme_hourly_cost),
    )


RATES = {
    "task_success_rate": task_success_rate,
    "error_rate": error_rate,
    "hallucination_rate": hallucination_rate,
    "online_failure_rate": online_failure_rate,
    "online_hallucination_rate": online_hallucination_rate,
    "escalation_rate": escalation_rate,
    "production_context_coverage": production_context_coverage,
}
