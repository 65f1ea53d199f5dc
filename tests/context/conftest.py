"""Fixtures of the context tests: people of organization A in each role of the loop."""

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
def sme(org_a, member_factory):
    return member_factory(org_a, Role.SME, email="sara@a.example", full_name="Sara SME")


@pytest.fixture
def sme2(org_a, member_factory):
    return member_factory(org_a, Role.SME, email="sam@a.example", full_name="Sam SME")
