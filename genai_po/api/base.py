"""The base of every organization-scoped API view: the token's organization, once.

Subclasses set `model` (an OrgScopedModel) and may narrow rows in
`scope_queryset`; they cannot replace `initial` or `get_queryset`, so a view
that forgets the organization cannot exist.
"""

from django.http import Http404
from rest_framework import viewsets

from genai_po.actors import Actor

_FINAL = ("initial", "get_queryset")


class OrgScopedAPIMixin:
    model = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        overridden = [name for name in _FINAL if name in cls.__dict__]
        if overridden:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(overridden)}: organization scoping "
                f"in OrgScopedAPIMixin is final; use scope_queryset()."
            )

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if any(len(str(value)) > 18 for value in kwargs.values()):
            raise Http404  # beyond any id or number: not there, whatever the database
        request.organization = request.auth.organization
        self.actor = Actor.for_token(token=request.auth, request=request)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation, no request
            return self.model.objects.none()
        return self.scope_queryset(self.model.objects.for_org(self.request.organization))

    def scope_queryset(self, queryset):
        return queryset

    def get_object(self):
        obj = super().get_object()
        obj.organization = self.request.organization  # the same row: spare its query
        return obj


class OrgScopedViewSet(OrgScopedAPIMixin, viewsets.GenericViewSet):
    """GenericViewSet whose rows always belong to the token's organization."""
