"""The organization's checklist templates, and the default one built from the guide
(sections 09, 12, 13) and the release-checklist catalogue of REFERENCE.md."""

from __future__ import annotations

from governance.checks import AUTOMATIC_CHECKS
from governance.models import ChecklistTemplate, ItemKind, ReviewerRole

DEFAULT_NAME = "Default release checklist"

DEFAULT_MANUAL_ITEMS = [
    ("risk_review", "Risk", "Risk review done: the classification and the risk tier are "
     "recorded, with an impact assessment where personal data is used", ReviewerRole.COMPLIANCE),
    ("monitoring", "Operations", "Monitoring plan in place: alerts, and an on-call alert owner "
     "named", ReviewerRole.SECURITY),
    ("fallback_rollback", "Operations", "Fallback and rollback tested, including the incident "
     "runbook", ReviewerRole.SECURITY),
    ("support_readiness", "Readiness", "Support is ready: the escalation path, the runbook and "
     "the known limitations are with the support team", ReviewerRole.BUSINESS_OWNER),
    ("training_readiness", "Readiness", "Users and oversight staff are trained, and users are "
     "told they are using AI", ReviewerRole.BUSINESS_OWNER),
    ("hitl_configured", "Oversight", "HITL rules configured and tested in the runtime, including "
     "override and stop", ReviewerRole.COMPLIANCE),
    ("sme_sample", "Quality", "An SME reviewed a sampled set of answers", ReviewerRole.SME_LEAD),
    ("documentation", "Documentation", "Documentation updated: intended purpose, out-of-scope "
     "uses and the capability card", ReviewerRole.LEGAL),
]  # fmt: skip


def automatic_items() -> list[dict]:
    """Every automatic check as a checklist item: in every template, never optional."""
    return [
        {
            "key": key,
            "category": "Evidence",
            "text": check.text,
            "kind": ItemKind.AUTOMATIC,
            "check_key": key,
            "reviewer_role": "",
        }
        for key, check in AUTOMATIC_CHECKS.items()
    ]


def default_items() -> list[dict]:
    automatic = automatic_items()
    manual = [
        {
            "key": key,
            "category": category,
            "text": text,
            "kind": ItemKind.MANUAL,
            "check_key": "",
            "reviewer_role": role.value,
        }
        for key, category, text, role in DEFAULT_MANUAL_ITEMS
    ]
    return automatic + manual


DEFAULT_REVIEWER_ROLES = [role.value for role in ReviewerRole]


def template_for(organization, pk: int | None = None) -> ChecklistTemplate:
    """The template of that id, else the organization's default (made on first use)."""
    org_id = getattr(organization, "pk", organization)
    templates = ChecklistTemplate.objects.for_org(org_id)
    if pk is not None:
        found = templates.filter(pk=pk).first()
        if found is not None:
            return found
    found = templates.filter(is_default=True).order_by("pk").first()
    if found is not None:
        return found
    ChecklistTemplate.objects.bulk_create(
        [
            ChecklistTemplate(
                organization_id=org_id,
                name=DEFAULT_NAME,
                items=default_items(),
                reviewer_roles=DEFAULT_REVIEWER_ROLES,
                is_default=True,
            )
        ],
        ignore_conflicts=True,
    )
    return templates.filter(name=DEFAULT_NAME).get()
