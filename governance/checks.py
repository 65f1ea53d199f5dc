"""The automatic items of a release checklist: computed live from evidence, never ticked.

Each check answers met, blocked, or insufficient evidence ("no data" never passes as "no
problem"), with a detail a person can act on, the link where it is resolved, and the
facts it judged (what a sign-off's hash covers: a new run, a new gap or a source going
stale changes them, a day passing does not).

The evidence of a release is read once (`Evidence`), in a fixed number of queries
whatever the number of results, gaps or sources, through the other areas' selectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from django.urls import reverse
from django.utils import timezone

from context import selectors as context_selectors
from evals import compare as eval_compare
from evals import selectors as eval_selectors
from governance.models import (
    FollowUpStatus,
    Incident,
    IncidentFollowUp,
    IncidentStatus,
    Release,
)
from governance.services.common import settings_of
from usecases.models import Requirement, RequirementStatus, VerificationMethod

MET, BLOCKED, INSUFFICIENT = "met", "blocked", "insufficient_evidence"
STATE_LABELS = {MET: "Met", BLOCKED: "Blocked", INSUFFICIENT: "Insufficient evidence"}


@dataclass(frozen=True)
class CheckResult:
    state: str
    detail: str
    url: str = ""
    facts: tuple = ()

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass
class Evidence:
    """What a release's automatic items read, loaded on first use and then kept."""

    release: Release
    now: object = field(default_factory=timezone.now)

    @property
    def org(self):
        return self.release.organization

    @property
    def use_case(self):
        return self.release.use_case

    @cached_property
    def settings(self):
        return settings_of(self.release.organization_id)

    @cached_property
    def runs(self):
        """[(plan, latest finished full run or None)] of the use case's active plans."""
        return eval_selectors.latest_finished_runs(self.use_case)

    @cached_property
    def comparisons(self) -> dict[int, tuple]:
        """run id -> (its baseline, the case numbers newly failing against it), or None
        when it has no baseline."""
        found = {}
        for _, run in self.runs:
            if run is None:
                continue
            baseline = eval_compare.baseline_for(run)
            if baseline is None or baseline.pk == run.pk:
                found[run.pk] = None
            else:
                found[run.pk] = (baseline, eval_compare.newly_failing(run, baseline))
        return found

    @cached_property
    def blocking_requirements(self) -> list[Requirement]:
        return list(
            Requirement.objects.for_org(self.release.organization_id)
            .filter(use_case=self.use_case, launch_blocking=True)
            .exclude(status=RequirementStatus.RETIRED)
            .order_by("position", "number")
        )

    @cached_property
    def blocking_gaps(self) -> list[dict]:
        return context_selectors.blocking_gaps_of(self.release.organization_id, self.use_case)

    @cached_property
    def sources(self) -> list[dict]:
        return context_selectors.source_freshness_of(self.release.organization_id, self.use_case)

    @cached_property
    def open_follow_ups(self) -> list[dict]:
        return list(
            IncidentFollowUp.objects.for_org(self.release.organization_id)
            .filter(
                incident__use_case=self.use_case,
                incident__severity__lte=2,
                status=FollowUpStatus.OPEN,
            )
            .order_by("due_date", "pk")
            .values("pk", "title", "incident__number", "incident__severity")
        )

    @cached_property
    def unmitigated_incidents(self) -> list[dict]:
        """Severity 1–2 incidents of the use case still open or under investigation."""
        return list(
            Incident.objects.for_org(self.release.organization_id)
            .filter(
                use_case=self.use_case,
                severity__lte=2,
                status__in=(IncidentStatus.OPEN, IncidentStatus.INVESTIGATING),
            )
            .order_by("severity", "number")
            .values("pk", "number", "title", "severity", "status")
        )


def _url(name: str, *args) -> str:
    return reverse(name, args=args)


def _plans_url(ev: Evidence) -> str:
    return _url("usecase_detail", ev.org.slug, ev.use_case.number) + "#eval-plans"


def _run_url(ev: Evidence, run) -> str:
    return _url("run_detail", ev.org.slug, run.pk)


# --------------------------------------------------------------------------- the checks


def eval_run_current(ev: Evidence) -> CheckResult:
    """The latest run of each plan meets its thresholds and is no older than N days."""
    days = ev.settings.run_max_age_days
    if not ev.runs:
        return CheckResult(
            INSUFFICIENT,
            "No eval plan with cases for this use case: create one and run it.",
            _url("plan_create", ev.org.slug) + f"?use_case={ev.use_case.number}",
            ("no-plan",),
        )
    missing, old, failing, good, facts = [], [], [], [], []
    for plan, run in ev.runs:
        if run is None:
            missing.append(plan)
            facts.append((plan.pk, None))
            continue
        too_old = run.finished_at is None or run.finished_at < ev.now - timedelta(days=days)
        facts.append((plan.pk, run.pk, bool(run.thresholds_met), too_old))
        if too_old:
            old.append((plan, run))
        elif not run.thresholds_met:
            failing.append((plan, run))
        else:
            good.append((plan, run))
    facts_t = tuple(facts)
    if failing:
        plan, run = failing[0]
        rate = "no pass rate" if run.pass_rate is None else f"{run.pass_rate * 100:.0f}% passed"
        return CheckResult(
            BLOCKED,
            f"{plan.name}: run #{run.number} did not meet its thresholds ({rate}). "
            "Fix the failures and run the plan again.",
            _run_url(ev, run),
            facts_t,
        )
    if missing or old:
        if missing:
            plan = missing[0]
            detail = f"{plan.name} has no finished run."
            url = _url("plan_detail", ev.org.slug, plan.pk)
        else:
            plan, run = old[0]
            detail = f"{plan.name}: the latest run (#{run.number}) is older than {days} days."
            url = _url("plan_detail", ev.org.slug, plan.pk)
        return CheckResult(
            INSUFFICIENT, f"{detail} Run it: only a run of the last {days} days counts.", url,
            facts_t,
        )  # fmt: skip
    summary = "; ".join(
        f"{plan.name}: run #{run.number}, "
        f"{'no pass rate' if run.pass_rate is None else f'{run.pass_rate * 100:.0f}% passed'}"
        for plan, run in good
    )
    return CheckResult(MET, summary + ".", _run_url(ev, good[0][1]), facts_t)


def no_regression(ev: Evidence) -> CheckResult:
    """No case that passed in the baseline fails in the latest run."""
    runs = [(plan, run) for plan, run in ev.runs if run is not None]
    if not runs:
        return CheckResult(
            INSUFFICIENT, "No finished run to compare with a baseline.", _plans_url(ev), ("none",)
        )
    facts, regressions, compared, no_baseline = [], [], [], []
    for plan, run in runs:
        comparison = ev.comparisons.get(run.pk)
        if comparison is None:
            no_baseline.append((plan, run))
            facts.append((run.pk, None))
            continue
        baseline, newly = comparison
        facts.append((run.pk, baseline.pk, tuple(newly)))
        if newly:
            regressions.append((plan, run, baseline, newly))
        else:
            compared.append((plan, run, baseline))
    if regressions:
        plan, run, baseline, newly = regressions[0]
        shown = ", ".join(f"CASE-{n}" for n in newly[:5]) + ("…" if len(newly) > 5 else "")
        return CheckResult(
            BLOCKED,
            f"{plan.name}: run #{run.number} has {len(newly)} newly failing case"
            f"{'s' if len(newly) != 1 else ''} against baseline run #{baseline.number}"
            f" ({shown}).",
            _run_url(ev, run) + "#compare",
            tuple(facts),
        )
    if no_baseline:
        plan, run = no_baseline[0]
        return CheckResult(
            INSUFFICIENT,
            f"{plan.name}: run #{run.number} has no baseline to compare with. "
            "Mark a good run as the baseline.",
            _run_url(ev, run),
            tuple(facts),
        )
    return CheckResult(
        MET,
        "; ".join(
            f"{plan.name}: no newly failing case against run #{b.number}" for plan, _, b in compared
        )
        + ".",
        _run_url(ev, compared[0][1]) + "#compare",
        tuple(facts),
    )


def requirements_verified(ev: Evidence) -> CheckResult:
    """Every launch-blocking requirement is verified: by at least K passing eval cases of
    the latest runs, or (verified by a person or a monitor) marked verified."""
    requirements = ev.blocking_requirements
    prd_url = _url("prd", ev.org.slug, ev.use_case.number)
    if not requirements:
        return CheckResult(
            INSUFFICIENT,
            "The PRD has no launch-blocking requirement: say what must hold before launch.",
            prd_url,
            ("none",),
        )
    needed = ev.settings.min_cases_per_requirement
    stats: dict[str, list[int]] = {}  # REQ-n -> [cases, passing cases]
    for _, run in ev.runs:
        if run is None:
            continue
        repetitions = max(1, run.repetitions or 1)
        for row in (run.summary or {}).get("requirements", []):
            entry = stats.setdefault(row.get("key", ""), [0, 0])
            entry[0] += int(row.get("total", 0)) // repetitions
            entry[1] += int(row.get("passed", 0)) // repetitions
    failing, short, facts = [], [], []
    for requirement in requirements:
        key = f"REQ-{requirement.number}"
        if requirement.verification_method != VerificationMethod.EVAL:
            ok = requirement.status == RequirementStatus.VERIFIED
            facts.append((key, requirement.verification_method, ok))
            if not ok:
                failing.append(
                    f"{key} ({requirement.get_verification_method_display().lower()}) "
                    "is not marked verified"
                )
            continue
        cases, passing = stats.get(key, [0, 0])
        facts.append((key, cases, passing))
        if cases < needed:
            short.append(f"{key} has {cases} case{'s' if cases != 1 else ''} (needs {needed})")
        elif passing < cases:
            failing.append(f"{key}: {cases - passing} of {cases} cases fail")
    if failing:
        return CheckResult(BLOCKED, "; ".join(failing) + ".", prd_url, tuple(facts))
    if short:
        return CheckResult(
            INSUFFICIENT,
            "; ".join(short) + " in the latest runs: add cases that verify it.",
            prd_url,
            tuple(facts),
        )
    return CheckResult(
        MET,
        f"{len(requirements)} launch-blocking requirement"
        f"{'s' if len(requirements) != 1 else ''} verified.",
        prd_url,
        tuple(facts),
    )


def no_blocking_gap(ev: Evidence) -> CheckResult:
    """No open context gap of priority P1, or affecting a launch-blocking requirement."""
    gaps = ev.blocking_gaps
    facts = tuple(gap["key"] for gap in gaps)
    if gaps:
        shown = ", ".join(gap["key"] for gap in gaps[:5]) + ("…" if len(gaps) > 5 else "")
        first = gaps[0]
        return CheckResult(
            BLOCKED,
            f"{len(gaps)} launch-blocking context gap{'s are' if len(gaps) != 1 else ' is'} "
            f"open ({shown}): {first['key']} asks “{first['question'][:120]}”.",
            _url("gap_detail", ev.org.slug, first["number"]),
            facts,
        )
    return CheckResult(
        MET,
        "No open gap of priority P1 or on a launch-blocking requirement.",
        _url("gap_list", ev.org.slug) + f"?use_case={ev.use_case.number}",
        facts,
    )


def sources_fresh(ev: Evidence) -> CheckResult:
    """Every approved source covering the use case is within its review cadence."""
    sources = ev.sources
    url = _url("source_list", ev.org.slug) + f"?use_case={ev.use_case.number}"
    if not sources:
        return CheckResult(
            INSUFFICIENT,
            "No approved source covers this use case: list what the AI may rely on.",
            url,
            ("none",),
        )
    stale = [s for s in sources if s["freshness"] == "stale"]
    facts = tuple((s["pk"], s["freshness"] == "stale") for s in sources)
    if stale:
        shown = ", ".join(s["name"] for s in stale[:3]) + ("…" if len(stale) > 3 else "")
        return CheckResult(
            BLOCKED,
            f"{len(stale)} of {len(sources)} sources {'is' if len(stale) == 1 else 'are'} "
            f"stale ({shown}): review and mark {'it' if len(stale) == 1 else 'them'} verified.",
            url + "&freshness=stale",
            facts,
        )
    due = sum(1 for s in sources if s["freshness"] == "due")
    note = f", {due} due for review soon" if due else ""
    fresh = f"{len(sources)} source{'s' if len(sources) != 1 else ''} fresh"
    return CheckResult(MET, f"{fresh}{note}.", url, facts)


def incident_follow_ups_done(ev: Evidence) -> CheckResult:
    """No severity 1–2 incident of the use case is unmitigated, and none of their
    follow-ups is open."""
    unmitigated = ev.unmitigated_incidents
    open_ones = ev.open_follow_ups
    facts = tuple(("incident", row["pk"]) for row in unmitigated) + tuple(
        ("follow_up", row["pk"]) for row in open_ones
    )
    url = _url("incident_list", ev.org.slug) + f"?use_case={ev.use_case.number}"
    if unmitigated:
        first = unmitigated[0]
        more = f" and {len(unmitigated) - 1} more" if len(unmitigated) > 1 else ""
        return CheckResult(
            BLOCKED,
            f"INC-{first['number']} (severity {first['severity']}) “{first['title'][:100]}” is "
            f"{first['status']}{more}: mitigate it before release.",
            _url("incident_detail", ev.org.slug, first["number"]),
            facts,
        )
    if open_ones:
        first = open_ones[0]
        url = _url("incident_detail", ev.org.slug, first["incident__number"]) + "#follow-ups"
        return CheckResult(
            BLOCKED,
            f"{len(open_ones)} follow-up{'s' if len(open_ones) != 1 else ''} of severity 1–2 "
            f"incidents open: INC-{first['incident__number']} “{first['title'][:100]}”.",
            url,
            facts,
        )
    return CheckResult(
        MET, "No severity 1–2 incident is unmitigated, and none of their follow-ups is open.",
        url, facts,
    )  # fmt: skip


@dataclass(frozen=True)
class AutomaticCheck:
    key: str
    text: str
    evaluate: Callable[[Evidence], CheckResult]


AUTOMATIC_CHECKS: dict[str, AutomaticCheck] = {
    check.key: check
    for check in (
        AutomaticCheck(
            "eval_run_current",
            "The latest eval run meets its thresholds and is recent",
            eval_run_current,
        ),
        AutomaticCheck("no_regression", "No regression against the baseline", no_regression),
        AutomaticCheck(
            "requirements_verified",
            "Every launch-blocking requirement is verified",
            requirements_verified,
        ),
        AutomaticCheck(
            "no_blocking_gap", "No launch-blocking context gap is open", no_blocking_gap
        ),
        AutomaticCheck("sources_fresh", "Every approved context source is fresh", sources_fresh),
        AutomaticCheck(
            "incident_follow_ups",
            "No severity 1–2 incident is unmitigated or has an open follow-up",
            incident_follow_ups_done,
        ),
    )
}


def run_check(key: str, evidence: Evidence) -> CheckResult:
    check = AUTOMATIC_CHECKS.get(key)
    if check is None:
        return CheckResult(INSUFFICIENT, f"Unknown automatic check {key!r}.", "", ("unknown",))
    return check.evaluate(evidence)
