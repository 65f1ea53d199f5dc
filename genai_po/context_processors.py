"""What every page's shell needs: the current organization and the switcher."""

from genai_po.models import Membership
from genai_po.roles import Action, role_can


def workspace(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def my_memberships():
        # A user's own memberships span organizations by design: the switcher lists them.
        return list(
            Membership.objects.across_orgs()
            .filter(user=user)
            .select_related("organization")
            .order_by("organization__name")
        )

    role = getattr(request, "role", None)
    return {
        "current_area": _area(request),
        "org_perms": {a.value: role_can(role, a) for a in Action} if role else {},
        "current_org": getattr(request, "organization", None),
        "current_membership": getattr(request, "membership", None),
        "my_memberships": my_memberships,
    }


_AREAS = {"use-cases": "usecases", "evals": "evals", "context": "context",
          "governance": "governance", "metrics": "metrics", "backlog": "backlog",
          "settings": "settings"}  # fmt: skip


def _area(request) -> str:
    """Which area of the navigation a page belongs to, from its route."""
    match = getattr(request, "resolver_match", None)
    route = match.route if match else ""
    parts = route.split("/")
    if len(parts) > 2 and parts[0] == "o":
        return _AREAS.get(parts[2], "overview" if parts[2] == "" else "")
    return ""
