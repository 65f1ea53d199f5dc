"""The demo's release: REL-1 of the refund use case in review, blocked by the baseline run
that misses its thresholds, its security sign-off pending with the reviewer."""

import pytest
from django.core.management import call_command

from genai_po.models import Organization, User
from governance import gate as release_gate
from governance import selectors
from governance.models import Release

pytestmark = pytest.mark.django_db


def test_the_demo_release_is_in_review_with_its_run_blocking_and_a_sign_off_pending():
    call_command("seed_demo", verbosity=0)
    org = Organization.objects.get(slug="acme-support")
    release = Release.objects.for_org(org).select_related("use_case", "organization").get()
    assert (release.key, release.status) == ("REL-1", "in_review")
    assert release.hitl_policy is not None and release.knowledge_snapshot
    gate = release_gate.evaluate(release)
    states = {s.item.key: s.state for s in gate.items}
    assert states["eval_run_current"] == "blocked"
    assert all(s.state == "met" for s in gate.items if s.item.kind == "manual")
    assert gate.verdict == "blocked"
    reviewer = User.objects.get(email="reviewer@acme-support.example")
    (pending,) = selectors.review_queue(org, reviewer)
    assert pending["release"] == release and pending["roles"][0].role == "security"
    call_command("seed_demo", verbosity=0)
    assert Release.objects.for_org(org).count() == 1
