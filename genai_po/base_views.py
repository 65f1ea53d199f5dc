"""The one base view of every `/o/<org_slug>/…` page.

It resolves the organization and the member's role once per request, answers 404
to anyone who is not a member (exactly as for an organization that does not
exist), and checks the role against the permission matrix. Subclasses declare
what they need; they cannot replace the resolution.
"""

from dataclasses import dataclass

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views import View

from genai_po.actors import Actor
from genai_po.models import Membership, Organization
from genai_po.roles import Action, role_can

_FINAL = ("dispatch", "setup")


@dataclass(frozen=True)
class Scoped:
    """How a URL keyword names an object: its model, the field the URL holds, and the
    keyword of the object it must belong to (e.g. a requirement of that use case)."""

    model: type
    field: str = "pk"
    parent: str | None = None


class OrgView(View):
    """Base of organization pages.

    `permission`: an Action, or a dict by HTTP method.
    `scoped_objects`: URL keyword -> model (or Scoped); each is looked up in the
    organization, in declaration order, before anything else (so another
    organization's id is 404 on every method) and handed to the handler under the
    same keyword, as the object.
    """

    permission: Action | dict[str, Action] | None = None
    scoped_objects: dict[str, "type | Scoped"] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        overridden = [name for name in _FINAL if name in cls.__dict__]
        if overridden:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(overridden)}: organization resolution "
                f"in OrgView is final."
            )

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        org_slug = kwargs.pop("org_slug")
        organization = Organization.objects.filter(slug=org_slug).first()
        membership = (
            Membership.objects.for_org(organization).filter(user=request.user).first()
            if organization is not None
            else None
        )
        if membership is None:
            raise Http404("No such organization.")
        request.organization = organization
        request.membership = membership
        request.role = membership.role
        request.actor = Actor.for_member(
            user=request.user, organization=organization, role=membership.role, request=request
        )
        undeclared = set(kwargs) - set(self.scoped_objects)
        if undeclared:
            raise TypeError(f"{type(self).__name__}: declare {undeclared} in scoped_objects.")
        if any(isinstance(value, int) and len(str(value)) > 18 for value in kwargs.values()):
            raise Http404("No such object.")  # beyond any id: not there, whatever the database
        for keyword, spec in self.scoped_objects.items():
            spec = spec if isinstance(spec, Scoped) else Scoped(spec)
            lookup = {spec.field: kwargs[keyword]}
            if spec.parent:
                lookup[spec.parent] = kwargs[spec.parent]
            kwargs[keyword] = self.get_scoped_or_404(spec.model, **lookup)
        action = self.required_action(request.method)
        if action is not None and not role_can(membership.role, action):
            raise PermissionDenied(f"Your role does not allow this: {action.label.lower()}.")
        return super().dispatch(request, *args, **kwargs)

    def required_action(self, method: str) -> Action | None:
        """The action a method needs; None only where the view has no handler (405)."""
        if self.permission is None:
            raise TypeError(f"{type(self).__name__} must declare `permission`.")
        if not isinstance(self.permission, dict):
            return self.permission
        if method == "HEAD":
            method = "GET"
        if method in self.permission:
            return self.permission[method]
        if (
            method.lower() in self.http_method_names
            and hasattr(self, method.lower())
            and (method != "OPTIONS")
        ):
            raise TypeError(f"{type(self).__name__} handles {method} without a permission.")
        return None

    # Scoped lookups: the only way organization pages reach tenant rows.
    def scoped(self, model):
        return model.objects.for_org(self.request.organization)

    def get_scoped_or_404(self, model, **lookup):
        obj = get_object_or_404(self.scoped(model), **lookup)
        obj.organization = self.request.organization  # the same row: spare its query
        return obj
