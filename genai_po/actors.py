"""Who is acting: a member in the browser, an API token, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from genai_po.roles import Action, Role, Scope, role_can

if TYPE_CHECKING:
    from genai_po.models import ApiToken, Organization, User

# What each token scope allows, in the vocabulary of the role matrix. Tokens never
# manage owners or tokens: those stay with people.
SCOPE_ACTIONS: dict[Scope, frozenset[Action]] = {
    Scope.READ: frozenset({Action.VIEW, Action.SEARCH_KNOWLEDGE}),
    Scope.WRITE: frozenset({Action.VIEW, Action.EDIT_PRODUCT, Action.ANSWER_SME}),
    Scope.EVALS_RUN: frozenset({Action.RUN_EVALS}),
    Scope.KNOWLEDGE_READ: frozenset({Action.SEARCH_KNOWLEDGE}),
    Scope.TELEMETRY_WRITE: frozenset({Action.INGEST_TELEMETRY}),
    Scope.ADMIN: frozenset({Action.VIEW, Action.MANAGE_MEMBERS, Action.VIEW_AUDIT}),
}


@dataclass(frozen=True)
class Actor:
    """The author of a write, as recorded in the audit trail."""

    organization: Organization | None
    user: User | None = None
    token: ApiToken | None = None
    role: str = ""
    request_id: str = ""
    ip: str | None = None
    system_label: str = ""

    @classmethod
    def for_member(cls, *, user, organization, role, request=None) -> Actor:
        return cls(
            organization=organization,
            user=user,
            role=role,
            request_id=getattr(request, "request_id", "") if request else "",
            ip=client_ip(request) if request else None,
        )

    @classmethod
    def for_token(cls, *, token, request=None) -> Actor:
        return cls(
            organization=token.organization,
            token=token,
            role="api_token",
            request_id=getattr(request, "request_id", "") if request else "",
            ip=client_ip(request) if request else None,
        )

    @classmethod
    def system(cls, *, organization, label: str) -> Actor:
        """A command or task acting on its own authority (seed data, CLI)."""
        return cls(organization=organization, role="system", system_label=label)

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.email
        if self.token is not None:
            return f"token {self.token.name} ({self.token.prefix}…)"
        return self.system_label or "system"

    def can(self, action: Action) -> bool:
        if self.role == "system":
            return True
        if self.token is not None:
            return any(action in SCOPE_ACTIONS[Scope(s)] for s in self.token.scopes)
        return bool(self.role) and role_can(self.role, action)

    def require(self, action: Action) -> None:
        """Raise PermissionDenied unless this actor may do the action."""
        if not self.can(action):
            raise PermissionDenied(f"Your role does not allow this: {action.label.lower()}.")

    def require_same_org(self, *objects) -> None:
        """Defense in depth: a service never writes one organization's object on behalf
        of an actor of another (views and the API already scope their lookups)."""
        org_id = getattr(self.organization, "pk", None)
        for obj in objects:
            if obj.organization_id != org_id:
                raise PermissionDenied("This object belongs to another organization.")

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


def client_ip(request) -> str | None:
    """The peer address. Behind a proxy, configure it to set REMOTE_ADDR (e.g. gunicorn
    --forwarded-allow-ips), never trust X-Forwarded-For from the client directly."""
    return request.META.get("REMOTE_ADDR") or None
