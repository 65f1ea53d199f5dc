"""factory_boy factories that keep related objects in one organization."""

import factory
from django.utils import timezone

from genai_po.models import ApiToken, Invitation, Membership, Organization, User
from genai_po.roles import Role

TEST_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy's signature
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.VIEWER
    nonce = factory.Sequence(lambda n: f"nonce-{n}-abcdefghijklmnop")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=7))
    # Sent by an owner of the organization: an invitation carries its inviter's right.
    invited_by = factory.LazyAttribute(
        lambda o: MembershipFactory(organization=o.organization, role=Role.OWNER).user
    )


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A token row; use `issue_token` when the raw secret is needed."""

    class Meta:
        model = ApiToken

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"token {n}")
    prefix = "gpo_testtest"
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    scopes = factory.LazyFunction(lambda: ["read"])
