"""The tenancy mechanism itself: scoped models, the fail-closed manager, final bases."""

import pytest
from django.apps import apps
from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Subquery

from genai_po.api.base import OrgScopedViewSet
from genai_po.base_views import OrgView
from genai_po.models import Membership, Organization, User
from genai_po.roles import Action, Role
from genai_po.tenancy import (
    CrossOrganizationError,
    OrgScopedManager,
    OrgScopedModel,
    UnscopedQueryError,
)
from tests.factories import MembershipFactory
from tests.factories.usecases import UseCaseFactory
from usecases.models import Requirement

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


# --- Holes a shell with a second organization found, each closed


def _b_membership(org_b):
    return MembershipFactory(organization=org_b, role="owner")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        pytest.param(lambda a: Membership.objects.filter(organization=F("organization")), id="F"),
        pytest.param(
            lambda a: Membership.objects.filter(
                organization=Subquery(Organization.objects.filter(slug="org-b").values("pk")[:1])
            ),
            id="subquery-rhs",
        ),
        pytest.param(
            lambda a: Membership.objects.for_org(a).union(Membership.objects.all()), id="union"
        ),
        pytest.param(
            lambda a: Membership.objects.for_org(a).union(
                Membership.objects.exclude(organization=a).filter(organization_id=a.pk + 1)
            ),
            id="union-other-org",
        ),
        pytest.param(
            lambda a: Membership.objects.for_org(a).annotate(
                theirs=Subquery(Membership.objects.filter(role="owner").values("role")[:1])
            ),
            id="annotation-subquery",
        ),
        pytest.param(
            lambda a: Membership.objects.for_org(a).annotate(
                elsewhere=Exists(
                    Membership.objects.filter(user=OuterRef("user")).exclude(
                        organization=OuterRef("organization")
                    )
                )
            ),
            id="annotation-exists",
        ),
        pytest.param(
            lambda a: Membership.objects.for_org(a).filter(
                Exists(Membership.objects.filter(organization_id=a.pk + 1, role="owner"))
            ),
            id="filter-exists-of-another-org",
        ),
        pytest.param(
            lambda a: Membership.objects.for_org(a).exclude(user__memberships__role="owner"),
            id="exclude-across-a-relation",
        ),
        pytest.param(
            lambda a: Membership.objects.for_org(a).filter(
                pk__in=Membership.objects.filter(role="owner").values("pk")
            ),
            id="in-unscoped-queryset",
        ),
    ],
)
def test_queries_that_only_look_scoped_fail_closed(query, org_a, org_b):
    MembershipFactory(organization=org_a)
    _b_membership(org_b)
    with pytest.raises(UnscopedQueryError):
        list(query(org_a))


@pytest.mark.django_db
def test_correctly_scoped_nested_queries_still_work(org_a, org_b):
    mine = MembershipFactory(organization=org_a, role="owner")
    MembershipFactory(organization=org_b, role="owner", user=mine.user)
    same_org = Membership.objects.for_org(org_a)
    correlated = Membership.objects.filter(
        organization=OuterRef("organization"), user=OuterRef("user")
    ).values("role")[:1]
    rows = (
        Membership.objects.for_org(org_a)
        .annotate(
            role_again=Subquery(correlated),
            owners=Subquery(
                same_org.filter(role="owner")
                .values("organization")
                .annotate(n=Count("pk"))
                .values("n")
            ),
        )  # fmt: skip
        .filter(pk__in=same_org.values("pk"))
    )
    assert [(r.pk, r.role_again, r.owners) for r in rows] == [(mine.pk, "owner", 1)]
    assert list(same_org.union(Membership.objects.for_org(org_a))) == [mine]


@pytest.mark.django_db
def test_a_row_never_points_at_another_organizations_parent(org_a, org_b):
    theirs = UseCaseFactory(organization=org_b)
    mine = UseCaseFactory(organization=org_a)

    with pytest.raises(CrossOrganizationError, match="Requirement.use_case points at UseCase"):
        Requirement.objects.create(organization=org_a, use_case=theirs, number=1, statement="x")
    with pytest.raises(CrossOrganizationError):
        Requirement.objects.create(organization=org_a, use_case_id=theirs.pk, number=1,
                                   statement="x")  # fmt: skip
    with pytest.raises(CrossOrganizationError):
        Requirement.objects.bulk_create(
            [Requirement(organization=org_a, use_case_id=theirs.pk, number=2, statement="y")]
        )
    requirement = Requirement.objects.create(
        organization=org_a, use_case=mine, number=3, statement="z"
    )
    with pytest.raises(CrossOrganizationError):
        Requirement.objects.for_org(org_a).filter(pk=requirement.pk).update(use_case=theirs)
    requirement.use_case_id = theirs.pk
    with pytest.raises(CrossOrganizationError):
        requirement.save()
    # Nothing of B's leaked into A: select_related shows only A's parent.
    assert [
        r.use_case.organization_id
        for r in Requirement.objects.for_org(org_a).select_related("use_case")
    ] == [org_a.pk]


@pytest.mark.django_db
def test_raw_sql_and_extra_are_refused_on_tenant_models(org_a):
    with pytest.raises(UnscopedQueryError, match="raw"):
        Membership.objects.raw("SELECT * FROM genai_po_membership")
    with pytest.raises(UnscopedQueryError, match="extra"):
        Membership.objects.for_org(org_a).extra(where=["1=1"])
