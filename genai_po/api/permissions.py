"""Token scopes, through the one definition of what each scope allows (actors.SCOPE_ACTIONS).

Each API view says which Action each of its actions needs, in the vocabulary of the
role matrix; the token may act if one of its scopes allows that Action. An action may
name a tuple of Actions: any one of them is enough (e.g. reading a run: VIEW or
RUN_EVALS, so a CI token with only `evals:run` can follow the run it started).
"""

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from genai_po.actors import SCOPE_ACTIONS, Actor
from genai_po.models import ApiToken
from genai_po.roles import Action


def required_action(view, request) -> Action | tuple[Action, ...] | None:
    """`view.actions` maps a viewset action (or HTTP method) to an Action; None = any token.

    Undeclared: reading needs VIEW, writing needs EDIT_PRODUCT.
    """
    declared = getattr(view, "actions", {})
    action = getattr(view, "action", None)
    if action in declared:
        return declared[action]
    if request.method in declared:
        return declared[request.method]
    return Action.VIEW if request.method in SAFE_METHODS else Action.EDIT_PRODUCT


class HasTokenScope(BasePermission):
    def has_permission(self, request, view):
        if not isinstance(request.auth, ApiToken):
            raise NotAuthenticated("Send an API token: 'Authorization: Bearer <token>'.")
        action = required_action(view, request)
        if action is None:
            return True
        wanted = action if isinstance(action, tuple) else (action,)
        actor = Actor.for_token(token=request.auth)
        if any(actor.can(one) for one in wanted):
            return True
        granting = [f"'{s.value}'" for s, allowed in SCOPE_ACTIONS.items() if allowed & set(wanted)]
        if len(granting) == 1:
            raise PermissionDenied(f"This token lacks the {granting[0]} scope.")
        raise PermissionDenied(f"This token lacks one of the scopes {', '.join(granting)}.")
