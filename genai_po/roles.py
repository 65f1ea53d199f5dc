"""Roles, actions and the one permission matrix (role x action) every check uses."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    PRODUCT_OWNER = "product_owner", "Product owner"
    ENGINEER = "engineer", "Engineer"
    SME = "sme", "SME"
    REVIEWER = "reviewer", "Reviewer"
    VIEWER = "viewer", "Viewer"


class Action(models.TextChoices):
    VIEW = "view", "Read everything in the organization"
    MANAGE_ORG = "manage_org", "Change organization settings"
    MANAGE_MEMBERS = "manage_members", "Invite members, change roles, remove members"
    MANAGE_OWNERS = "manage_owners", "Grant or take away the owner role"
    MANAGE_TOKENS = "manage_tokens", "Create and revoke API tokens"
    VIEW_AUDIT = "view_audit", "Read and export the audit trail"
    EDIT_PRODUCT = "edit_product", "Edit use cases, PRDs, eval plans, backlog, releases, incidents"
    RUN_EVALS = "run_evals", "Configure targets, run evals, triage failures"
    ANSWER_SME = "answer_sme", "Answer SME questions and validate knowledge"
    SIGN_OFF = "sign_off", "Sign off release checklists"
    INGEST_TELEMETRY = "ingest_telemetry", "Send telemetry"
    SEARCH_KNOWLEDGE = "search_knowledge", "Search published knowledge (what the AI retrieves)"


_O, _A, _P, _E, _S, _R, _V = (
    Role.OWNER,
    Role.ADMIN,
    Role.PRODUCT_OWNER,
    Role.ENGINEER,
    Role.SME,
    Role.REVIEWER,
    Role.VIEWER,
)

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW: frozenset({_O, _A, _P, _E, _S, _R, _V}),
    Action.MANAGE_ORG: frozenset({_O, _A}),
    Action.MANAGE_MEMBERS: frozenset({_O, _A}),
    Action.MANAGE_OWNERS: frozenset({_O}),
    Action.MANAGE_TOKENS: frozenset({_O, _A}),
    Action.VIEW_AUDIT: frozenset({_O, _A}),
    Action.EDIT_PRODUCT: frozenset({_O, _A, _P}),
    Action.RUN_EVALS: frozenset({_O, _A, _P, _E}),
    Action.ANSWER_SME: frozenset({_O, _A, _P, _S}),
    Action.SIGN_OFF: frozenset({_O, _A, _R}),
    Action.INGEST_TELEMETRY: frozenset({_O, _A, _E}),
    Action.SEARCH_KNOWLEDGE: frozenset({_O, _A, _P, _E, _S, _R, _V}),
}


def role_can(role: str, action: Action) -> bool:
    """The single answer to "may this role do this action?"."""
    return Role(role) in PERMISSIONS[action]


def permission_matrix_markdown() -> str:
    """The matrix as the Markdown table documented in README.md."""
    roles = list(Role)
    lines = [
        "| action | " + " | ".join(r.value for r in roles) + " |",
        "| --- |" + " --- |" * len(roles),
    ]
    for action in Action:
        marks = ["yes" if r in PERMISSIONS[action] else "-" for r in roles]
        lines.append(f"| `{action.value}`: {action.label} | " + " | ".join(marks) + " |")
    return "\n".join(lines)


class Scope(models.TextChoices):
    """API token scopes; their meaning is a contract with CI pipelines."""

    READ = "read", "Read the organization's data"
    WRITE = "write", "Create and change the organization's data"
    EVALS_RUN = "evals:run", "Start eval runs and upload results"
    KNOWLEDGE_READ = "knowledge:read", "Search published knowledge"
    TELEMETRY_WRITE = "telemetry:write", "Send telemetry events"
    ADMIN = "admin", "Manage members and read the audit trail"
