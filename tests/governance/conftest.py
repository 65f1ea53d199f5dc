"""Fixtures of the governance tests: the people of a release in organization A."""

import pytest

from genai_po.actors import Actor
from genai_po.roles import Role


def actor_of(membership) -> Actor:
    return Actor.for_member(
        user=membership.user, organization=membership.organization, role=membership.role
    )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def po(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="po@a.example", full_name="Pat PO")


@pytest.fixture
def reviewer(org_a, member_factory):
    return member_factory(org_a, Role.REVIEWER, email="rev@a.example", full_name="Rita Reviewer")


@pytest.fixture
def reviewer2(org_a, member_factory):
    return member_factory(org_a, Role.REVIEWER, email="rev2@a.example", full_name="Ravi Reviewer")
