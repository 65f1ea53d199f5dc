"""The tenancy mechanism itself: scoped models, the fail-closed manager, final bases."""

import pytest
from django.apps import apps
from django.db import models

from genai_po.api.base import OrgScopedViewSet
from genai_po.base_views import OrgView
from genai_po.models import Membership, Organization, User
from genai_po.roles import Action, Role
from genai_po.tenancy import OrgScopedManager, OrgScopedModel, UnscopedQueryError
from tests.factories import MembershipFactory

PROJECT_APPS = {"genai_po", "usecases", "evals", "context", "governance", "metrics"}
# Models of our apps that are not one organization's data, and why.
NOT_TENANT_DATA = {
    Organization: "the tenant itself",
    User: "a person spans organizations; reached through memberships",
}


def project_models():
    return [m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS]


def test_every_model_of_the_project_is_org_scoped_or_declared():
    offenders = [
        m._meta.label
        for m in project_models()
        if m not in NOT_TENANT_DATA and not issubclass(m, OrgScopedModel)
    ]
    assert offenders == [], f"Tenant models must inherit OrgScopedModel: {offenders}"


def test_no_model_points_at_an_organization_without_the_scoped_base():
    """Catches tenant data in any installed app, not only ours."""
    offenders = []
    for model in apps.get_models():
        if model in NOT_TENANT_DATA or issubclass(model, OrgScopedModel):
            continue
        for field in model._meta.get_fields():
            if isinstance(field, models.ForeignKey) and field.related_model is Organization:
                offenders.append(f"{model._meta.label}.{field.name}")
    assert offenders == []


@pytest.mark.parametrize(
    "model", [m for m in apps.get_models() if issubclass(m, OrgScopedModel)], ids=str
)
def test_scoped_models_have_a_required_indexed_organization_and_scoped_manager(model):
    field = model._meta.get_field("organization")
    assert field.null is False and field.db_index is True
    assert isinstance(model._default_manager, OrgScopedManager)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "evaluate",
    [
        list,
        lambda qs: qs.count(),
        lambda qs: qs.exists(),
        lambda qs: qs.first(),
        lambda qs: qs.get(pk=1),
        lambda qs: qs.update(role="viewer"),
        lambda qs: qs.delete(),
        lambda qs: list(qs.iterator()),
        lambda qs: qs.aggregate(n=models.Count("pk")),
        lambda qs: list(qs.values_list("pk", flat=True)),
        lambda qs: list(qs.filter(organization__slug="org-a")),  # a join is not a scope
        lambda qs: list(qs.exclude(organization_id=1)),
    ],
)
def test_unscoped_queries_fail_closed(evaluate, org_a):
    MembershipFactory(organization=org_a)
    with pytest.raises(UnscopedQueryError):
        evaluate(Membership.objects.all())
    assert Membership.objects.for_org(org_a).count() == 1


@pytest.mark.django_db
def test_scoped_and_explicitly_crossing_queries_work(org_a, org_b):
    MembershipFactory(organization=org_a)
    MembershipFactory(organization=org_b)
    assert Membership.objects.for_org(org_a).count() == 1
    assert Membership.objects.filter(organization_id=org_b.pk).count() == 1
    assert Membership.objects.across_orgs().filter(organization__in=[org_a, org_b]).count() == 2
    # The flag survives chaining.
    assert Membership.objects.across_orgs().order_by("pk").filter(role="viewer").count() == 2


@pytest.mark.django_db
def test_related_managers_of_scoped_objects_stay_in_their_organization(org_a, org_b):
    """A row wrongly pointing across organizations is not returned through a relation."""
    a = MembershipFactory(organization=org_a)
    user = a.user
    # The same user's membership in B is another org's row.
    MembershipFactory(organization=org_b, user=user)
    with pytest.raises(UnscopedQueryError):
        list(user.memberships.all())  # a user spans orgs: must be explicit
    assert list(user.memberships.for_org(org_a)) == [a]


def test_org_view_resolution_cannot_be_overridden():
    with pytest.raises(TypeError, match="final"):

        class Sneaky(OrgView):
            permission = Action.VIEW

            def dispatch(self, request, *args, **kwargs):
                return None


def test_org_viewset_scoping_cannot_be_overridden():
    with pytest.raises(TypeError, match="final"):

        class Sneaky(OrgScopedViewSet):
            model = Membership

            def get_queryset(self):
                return Membership.objects.across_orgs()


@pytest.mark.django_db
def test_org_view_without_permission_is_a_programming_error(rf, org_a, member_factory):
    class Forgetful(OrgView):
        def get(self, request):
            return None

    request = rf.get("/")
    request.user = member_factory(org_a, Role.OWNER).user
    with pytest.raises(TypeError, match="permission"):
        Forgetful.as_view()(request, org_slug=org_a.slug)
