"""Fixtures of the evals tests: a reference agent on loopback, targets, plans, actors."""

import pytest

from context.demo_policies import ACME_POLICIES
from evals.reference_agent import start_in_thread
from genai_po.actors import Actor
from genai_po.roles import Role
from tests.factories.evals import EvalPlanFactory, TargetFactory, allow_loopback
from tests.factories.usecases import UseCaseFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def reference_agent():
    """One reference agent for the session (deterministic; faults come per request)."""
    server, _ = start_in_thread(knowledge=ACME_POLICIES)
    yield server
    server.stop()


@pytest.fixture
def agent_factory():
    """Reference agents with their own options (latency, faults); stopped after the test."""
    servers = []

    def make(**options):
        options.setdefault("knowledge", ACME_POLICIES)
        server, _ = start_in_thread(**options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def po_a(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="po@example.com", full_name="Pat PO")


@pytest.fixture
def actor_a(po_a):
    return Actor.for_member(user=po_a.user, organization=po_a.organization, role=po_a.role)


@pytest.fixture
def use_case_a(org_a):
    return UseCaseFactory(organization=org_a, number=1, title="Acme Support refunds")


@pytest.fixture
def agent_target_a(org_a, reference_agent):
    allow_loopback(org_a)
    return TargetFactory(organization=org_a, name="Reference agent", url=reference_agent.base_url)


@pytest.fixture
def plan_a(use_case_a, agent_target_a):
    return EvalPlanFactory(use_case=use_case_a, target=agent_target_a, name="Refund answers")
