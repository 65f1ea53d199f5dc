"""Shared fixtures. Every test database holds two organizations, A and B."""

import os

import pytest
from django.db import connection

from genai_po.actors import Actor
from genai_po.models import Organization
from genai_po.roles import Role, Scope
from genai_po.services import api_token_create
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

# Playwright's sync API runs an event loop in the test thread; Django must allow
# ORM calls from it (the live server thread is separate).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ORG_A = {"slug": "org-a", "name": "Organization A"}
ORG_B = {"slug": "org-b", "name": "Organization B"}


def _ensure_two_orgs():
    OrganizationFactory(**ORG_A)
    OrganizationFactory(**ORG_B)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Two organizations exist in every test database from the start."""
    assert connection.vendor == "postgresql" or os.environ.get("ALLOW_NON_POSTGRES_TESTS"), (
        "The suite runs on PostgreSQL: set DATABASE_URL=postgres://…"
    )
    with django_db_blocker.unblock():
        _ensure_two_orgs()


@pytest.fixture(autouse=True)
def _redis_cache_clean(settings):
    """Each test starts with an empty cache (the sign-in throttle lives there)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def org_a(db) -> Organization:
    _ensure_two_orgs()  # transactional tests flush the database between tests
    return Organization.objects.get(slug=ORG_A["slug"])


@pytest.fixture
def org_b(db) -> Organization:
    _ensure_two_orgs()
    return Organization.objects.get(slug=ORG_B["slug"])


@pytest.fixture
def member_factory():
    def make(org, role=Role.VIEWER, **user_kwargs):
        return MembershipFactory(organization=org, role=role, user=UserFactory(**user_kwargs))

    return make


@pytest.fixture
def owner_a(org_a, member_factory):
    return member_factory(org_a, Role.OWNER)


@pytest.fixture
def owner_b(org_b, member_factory):
    return member_factory(org_b, Role.OWNER)


@pytest.fixture
def client_a(client, owner_a):
    """A browser session of an owner of organization A."""
    client.force_login(owner_a.user)
    return client


@pytest.fixture
def token_factory():
    def make(org, scopes=None, **kwargs):
        actor = Actor.system(organization=org, label="test")
        token, raw = api_token_create(
            actor=actor,
            name=kwargs.pop("name", f"test {len(scopes or [])} {os.urandom(4).hex()}"),
            scopes=scopes if scopes is not None else [s.value for s in Scope],
            **kwargs,
        )
        return token, raw

    return make


@pytest.fixture
def api_a(org_a, token_factory):
    """An API client holding an all-scopes token of organization A."""
    from rest_framework.test import APIClient

    _, raw = token_factory(org_a)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api
