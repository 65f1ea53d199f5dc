"""The organization's governance settings."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action
from governance.models import GovernanceSettings


def settings_update(
    *, actor: Actor, settings: GovernanceSettings, run_max_age_days: int,
    min_cases_per_requirement: int,
) -> GovernanceSettings:  # fmt: skip
    actor.require(Action.MANAGE_ORG)
    errors = {}
    if not 1 <= run_max_age_days <= 365:
        errors["run_max_age_days"] = "Between 1 and 365 days."
    if not 1 <= min_cases_per_requirement <= 1000:
        errors["min_cases_per_requirement"] = "Between 1 and 1,000 cases."
    if errors:
        raise ValidationError(errors)
    before = {
        "run_max_age_days": settings.run_max_age_days,
        "min_cases_per_requirement": settings.min_cases_per_requirement,
    }
    with transaction.atomic():
        settings.run_max_age_days = run_max_age_days
        settings.min_cases_per_requirement = min_cases_per_requirement
        settings.save()
        audit_record(
            actor=actor,
            action="governance.settings_updated",
            obj=settings,
            before=before,
            after={
                "run_max_age_days": run_max_age_days,
                "min_cases_per_requirement": min_cases_per_requirement,
            },
        )
    return settings
