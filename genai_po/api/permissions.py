"""Token scopes: each API view says which scope each of its actions needs."""

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from genai_po.models import ApiToken
from genai_po.roles import Scope


def required_scope(view, request) -> str | None:
    """`view.scopes` maps an action (or HTTP method) to a scope; default read / write."""
    scopes = getattr(view, "scopes", {})
    action = getattr(view, "action", None)
    if action in scopes:
        return scopes[action]
    if request.method in scopes:
        return scopes[request.method]
    return Scope.READ if request.method in SAFE_METHODS else Scope.WRITE


class HasTokenScope(BasePermission):
    def has_permission(self, request, view):
        if not isinstance(request.auth, ApiToken):
            raise NotAuthenticated("Send an API token: 'Authorization: Bearer <token>'.")
        scope = required_scope(view, request)
        if scope is not None and scope not in request.auth.scopes:
            raise PermissionDenied(f"This token lacks the '{scope}' scope.")
        return True
