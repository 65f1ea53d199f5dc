"""Writes of the evals area. Each checks the actor, validates, writes in one transaction
and audits; one module per kind of object."""

from evals.services.cases import (
    CASE_FIELDS,
    case_add,
    case_remove,
    case_update,
    cases_import,
    current_cases,
)
from evals.services.egress import egress_policy_for, egress_settings_of, egress_update
from evals.services.external import EXTERNAL_MAX_BYTES, external_run_upload
from evals.services.plans import (
    PLAN_FIELDS,
    lock_plan,
    plan_archive,
    plan_create,
    plan_update,
)
from evals.services.runs import (
    RunRefused,
    run_cancel,
    run_mark_baseline,
    run_recheck,
    run_start,
    start_due_plans,
    triage_set,
)
from evals.services.targets import (
    TARGET_FIELDS,
    target_archive,
    target_connection_check,
    target_create,
    target_record_check,
    target_update,
)

__all__ = [
    "CASE_FIELDS", "EXTERNAL_MAX_BYTES", "PLAN_FIELDS", "TARGET_FIELDS",
    "RunRefused", "case_add", "case_remove", "case_update", "cases_import", "current_cases",
    "egress_policy_for", "egress_settings_of", "egress_update", "external_run_upload",
    "lock_plan", "plan_archive", "plan_create", "plan_update", "run_cancel",
    "run_mark_baseline", "run_recheck", "run_start", "start_due_plans", "target_archive",
    "target_connection_check", "target_create", "target_record_check", "target_update",
    "triage_set",
]  # fmt: skip
