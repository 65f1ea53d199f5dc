"""`seed_demo`: the demo organization a new user signs in to, loaded idempotently."""

import pytest
from django.core.management import call_command

from genai_po.audit import audit_chain_verify, chain_head_of
from genai_po.models import Membership, Organization, User
from usecases.models import Prd, Requirement, UseCase

pytestmark = pytest.mark.django_db


def _counts():
    org = Organization.objects.get(slug="acme-support")
    return (
        User.objects.count(),
        Membership.objects.for_org(org).count(),
        UseCase.objects.for_org(org).count(),
        Requirement.objects.for_org(org).count(),
        chain_head_of(org).seq,
    )


def test_seed_demo_is_idempotent_and_complete():
    call_command("seed_demo", verbosity=0)
    first = _counts()
    call_command("seed_demo", verbosity=0)
    assert _counts() == first

    org = Organization.objects.get(slug="acme-support")
    roles = set(Membership.objects.for_org(org).values_list("role", flat=True))
    assert roles == {"owner", "admin", "product_owner", "engineer", "sme", "reviewer", "viewer"}
    assert User.objects.get(email="owner@acme-support.example").check_password("acme-demo-pass")
    assert audit_chain_verify(organization=org).ok


def test_demo_use_cases_sit_at_different_stages_and_one_has_a_full_prd():
    call_command("seed_demo", verbosity=0)
    org = Organization.objects.get(slug="acme-support")
    stages = dict(UseCase.objects.for_org(org).values_list("number", "stage"))
    assert stages == {1: "evaluate", 2: "prototype", 3: "discover"}
    prd = Prd.objects.for_org(org).get(use_case__number=1)
    assert all(prd.sections.get(key) for key in ("user_goal", "forbidden_actions"))
    keys = [r.key for r in Requirement.objects.for_org(org).filter(use_case__number=1)]
    assert keys == ["REQ-1", "REQ-2", "REQ-3", "REQ-4", "REQ-5"]
    ranked = UseCase.objects.for_org(org).filter(priority_score__isnull=False).count()
    assert ranked == 2  # the third is only partly scored: honest "not ranked"
