"""Fixtures of the metrics tests."""

import pytest

from genai_po.roles import Role


@pytest.fixture
def po(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="po@a.example", full_name="Pat PO")
