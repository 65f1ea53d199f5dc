"""Fixtures shared by the use-case tests."""

import pytest

from genai_po.roles import Role


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 costs about half a second here; these tests sign in many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def po_a(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="po@example.com", full_name="Pat PO")


@pytest.fixture
def po_client(client, po_a):
    client.force_login(po_a.user)
    return client
