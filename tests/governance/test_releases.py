"""Releases, sign-offs and waivers: separation of duties, sign-offs that go stale when the
evidence changes, waivers that stop counting when they expire, the rollout rule, the CI
gate and the HITL policy the AI system reads."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from genai_po.actors import Actor
from governance import gate as release_gate
from governance.models import ReleaseStatus, SignOff
from governance.services import checklist, hitl, releases, signoffs
from tests.factories.governance import (
    POLICY,
    make_plan_run,
    make_policy,
    make_release,
    make_use_case_with_plan,
)
from tests.governance.conftest import actor_of

pytestmark = pytest.mark.django_db


def ready_release(org, po, *, risk_tier="minimal"):
    """A submitted release whose every item counts: a passing run against a baseline, the
    manual items attested, a fresh source, and no gap."""
    from context.models import SourceUseCase
    from tests.factories.context import make_source

    uc, _, plan = make_use_case_with_plan(org)
    make_plan_run(org, plan, [True] * 3, baseline=True)
    make_plan_run(org, plan, [True] * 3)
    SourceUseCase.objects.create(organization=org, source=make_source(org), use_case=uc)
    make_policy(org, uc)
    release = make_release(org, uc, owner=po, risk_tier=risk_tier)
    for item in release.items.filter(kind="manual"):
        checklist.item_update(
            actor=actor_of(po), item=item, status="met", attestation="Checked by Pat.",
            evidence_url="https://wiki.example.com/evidence",
        )  # fmt: skip
    releases.release_submit(actor=actor_of(po), release=release)
    return release


def sign(reviewer, release, role="security", decision="approve", comment=""):
    return signoffs.sign_off(
        actor=actor_of(reviewer), release=release, reviewer_role=role, decision=decision,
        comment=comment,
    )  # fmt: skip


def test_the_release_owner_never_signs(org_a, po, member_factory):
    release = ready_release(org_a, po)
    with pytest.raises(PermissionDenied, match="owner cannot sign"):
        signoffs.sign_off(actor=actor_of(po), release=release, reviewer_role="security",
                          decision="approve")  # fmt: skip
    owner = member_factory(org_a, "owner")
    release.owner = owner.user
    release.save()
    with pytest.raises(PermissionDenied, match="owner cannot sign"):
        sign(owner, release)


def test_tokens_and_product_owners_do_not_sign(org_a, po, member_factory, token_factory):
    release = ready_release(org_a, po)
    token, _ = token_factory(org_a)
    with pytest.raises(PermissionDenied, match="tokens cannot sign"):
        signoffs.sign_off(actor=Actor.for_token(token=token), release=release,
                          reviewer_role="security", decision="approve")  # fmt: skip
    with pytest.raises(PermissionDenied):
        sign(member_factory(org_a, "product_owner"), release)


def test_one_person_signs_for_one_role(org_a, po, reviewer):
    release = ready_release(org_a, po, risk_tier="limited")
    sign(reviewer, release, "security")
    with pytest.raises(PermissionDenied, match="another role"):
        sign(reviewer, release, "legal")


def test_the_number_of_sign_offs_follows_the_risk_tier(org_a, po, reviewer, reviewer2):
    release = ready_release(org_a, po, risk_tier="limited")
    sign(reviewer, release, "security")
    release.refresh_from_db()
    assert release.status == ReleaseStatus.IN_REVIEW
    assert release_gate.evaluate(release).verdict == "blocked"
    sign(reviewer2, release, "legal", "approve_with_conditions", "Watch refunds weekly.")
    release.refresh_from_db()
    assert release.status == ReleaseStatus.APPROVED_WITH_CONDITIONS
    assert release_gate.evaluate(release).verdict == "ready"


def test_a_rejection_needs_a_comment_and_blocks(org_a, po, reviewer):
    release = ready_release(org_a, po)
    with pytest.raises(ValidationError, match="why you reject"):
        sign(reviewer, release, decision="reject")
    sign(reviewer, release, decision="reject", comment="No rollback plan.")
    release.refresh_from_db()
    assert release.status == ReleaseStatus.REJECTED
    assert any("rejected" in b.message for b in release_gate.evaluate(release).blockers)


def test_a_sign_off_goes_stale_when_the_evidence_changes(org_a, po, reviewer):
    release = ready_release(org_a, po)
    sign(reviewer, release)
    gate = release_gate.evaluate(release)
    assert gate.verdict == "ready" and not gate.roles[0].stale
    make_plan_run(org_a, release.eval_run.plan, [True, True, False])  # a new, failing run
    gate = release_gate.evaluate(release)
    security = gate.role("security")
    assert security.stale and gate.verdict == "blocked"
    assert any("stale" in b.message for b in gate.blockers)


def test_a_reviewer_signs_only_the_state_they_saw(org_a, po, reviewer):
    release = ready_release(org_a, po)
    seen = release_gate.evaluate(release).state_hash
    make_plan_run(org_a, release.eval_run.plan, [True, True, True])
    with pytest.raises(ValidationError, match="evidence changed"):
        signoffs.sign_off(actor=actor_of(reviewer), release=release, reviewer_role="security",
                          decision="approve", seen_hash=seen)  # fmt: skip
    assert not SignOff.objects.for_org(org_a).exists()


def test_automatic_items_are_never_ticked_by_hand(org_a, po):
    release = ready_release(org_a, po)
    item = release.items.get(key="eval_run_current")
    with pytest.raises(ValidationError, match="never ticked by hand"):
        checklist.item_update(actor=actor_of(po), item=item, status="met", attestation="x",
                              evidence_url="https://x.example.com")  # fmt: skip


def test_a_manual_item_is_met_only_with_evidence_and_an_attestation(org_a, po):
    uc, _, _ = make_use_case_with_plan(org_a)
    item = make_release(org_a, uc, owner=po).items.get(key="risk_review")
    with pytest.raises(ValidationError) as info:
        checklist.item_update(actor=actor_of(po), item=item, status="met")
    assert {"evidence_url", "attestation"} <= set(info.value.message_dict)
    stored = checklist.evidence_store(actor=actor_of(po), organization_id=org_a.pk,
                                      name="dpia.pdf", content_type="application/pdf",
                                      data=b"%PDF risk review")  # fmt: skip
    checklist.item_update(actor=actor_of(po), item=item, status="met", attestation="DPIA done",
                          evidence_file=stored)  # fmt: skip
    import hashlib

    assert stored.sha256 == hashlib.sha256(b"%PDF risk review").hexdigest()


def test_a_waiver_needs_another_approver_and_stops_counting_when_it_expires(org_a, po, reviewer):
    uc, _, _ = make_use_case_with_plan(org_a)  # no run: insufficient evidence
    release = make_release(org_a, uc, owner=po)
    item = release.items.get(key="eval_run_current")
    waiver = checklist.waiver_request(
        actor=actor_of(po), item=item, justification="Shadow mode only, no users see it.",
        expires_at=timezone.now() + timedelta(days=2),
    )  # fmt: skip
    with pytest.raises(PermissionDenied, match="other than the requester"):
        checklist.waiver_decide(actor=actor_of(po), waiver=waiver, approve=True)

    def state():
        return next(
            s for s in release_gate.evaluate(release).items if s.item.key == "eval_run_current"
        ).state

    assert state() == "insufficient_evidence"  # pending: it does not count yet
    checklist.waiver_decide(actor=actor_of(reviewer), waiver=waiver, approve=True)
    assert state() == "waived"
    later = timezone.now() + timedelta(days=3)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert state() == "insufficient_evidence"


def test_a_wider_rollout_needs_an_approved_release_with_a_ready_gate(org_a, po, reviewer):
    release = ready_release(org_a, po)
    with pytest.raises(ValidationError, match="needs an approved checklist"):
        releases.release_set_stage(actor=actor_of(po), release=release, stage="review_mode")
    sign(reviewer, release)
    release.refresh_from_db()
    releases.release_set_stage(actor=actor_of(po), release=release, stage="review_mode")
    assert (release.status, release.rollout_stage) == (ReleaseStatus.RELEASED, "review_mode")
    make_plan_run(org_a, release.eval_run.plan, [False] * 3)
    with pytest.raises(ValidationError, match="gate is blocked"):
        releases.release_set_stage(actor=actor_of(po), release=release, stage="general")
    releases.release_set_stage(actor=actor_of(po), release=release, stage="rolled_back")
    assert release.status == ReleaseStatus.ROLLED_BACK


def test_the_deploy_gate_of_the_use_case_asks_for_an_approved_release(org_a, po, reviewer):
    from governance.panels import release_gate_check
    from usecases.gates import registered_gate_checks

    assert "governance.release_approved" in registered_gate_checks("deploy")
    release = ready_release(org_a, po)
    uc = release.use_case

    def approved_check():
        return release_gate_check(uc, None)

    assert not approved_check().met
    sign(reviewer, release)
    assert approved_check().met


def test_hitl_policies_are_versioned_and_checked(org_a, po):
    uc, _, _ = make_use_case_with_plan(org_a)
    first = make_policy(org_a, uc)
    with pytest.raises(ValidationError, match="Nothing changed"):
        hitl.policy_save(actor=actor_of(po), use_case=uc, actions=POLICY)
    bad = [{**POLICY[2], "autonomy": "autonomous"}]
    with pytest.raises(ValidationError, match="cannot be autonomous"):
        hitl.policy_save(actor=actor_of(po), use_case=uc, actions=bad)
    with pytest.raises(ValidationError, match="listed twice"):
        hitl.policy_save(actor=actor_of(po), use_case=uc, actions=[POLICY[0], POLICY[0]])
    second = hitl.policy_save(actor=actor_of(po), use_case=uc, actions=POLICY[:2])
    assert (first.version, second.version) == (1, 2)
    assert hitl.current_policy(uc) == second


# --- The API: the CI gate and the HITL policy


def test_the_gate_api_says_why_it_is_blocked(org_a, po, api_a):
    uc, _, plan = make_use_case_with_plan(org_a)
    make_plan_run(org_a, plan, [False] * 3)
    release = make_release(org_a, uc, owner=po)
    body = api_a.get(f"/api/v1/releases/{release.number}/gate/").json()
    assert body["verdict"] == "blocked" and body["release"] == release.key
    run_blocker = next(b for b in body["blockers"] if "thresholds" in b["message"])
    assert run_blocker["url"].startswith("http://testserver/o/org-a/evals/runs/")


def test_the_gate_api_without_a_run_is_insufficient_evidence_once_the_rest_is_done(
    org_a, po, reviewer, api_a
):
    release = ready_release(org_a, po)
    sign(reviewer, release)
    assert api_a.get(f"/api/v1/releases/{release.number}/gate/").json()["verdict"] == "ready"
    from evals.models import EvalRun

    EvalRun.objects.for_org(org_a).filter(plan__use_case=release.use_case).delete()
    body = api_a.get(f"/api/v1/releases/{release.number}/gate/").json()
    # Missing evidence is what CI hears, though the sign-off also went stale with it.
    assert body["verdict"] == "insufficient_evidence"
    assert any("stale" in b["message"] for b in body["blockers"])
    states = {item["key"]: item["state"] for item in body["items"]}
    assert states["eval_run_current"] == "insufficient_evidence"


def test_a_release_is_created_through_the_api(org_a, api_a):
    uc, _, plan = make_use_case_with_plan(org_a)
    response = api_a.post(
        "/api/v1/releases/",
        {"use_case": uc.pk, "name": "v2", "model": "gpt-x", "risk_tier": "limited"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "draft"
    bad = api_a.post("/api/v1/releases/", {"use_case": uc.pk, "name": "v3",
                                           "risk_tier": "unacceptable"}, format="json")  # fmt: skip
    assert bad.status_code == 400


def test_the_hitl_policy_is_served_with_an_etag(org_a, api_a):
    uc, _, _ = make_use_case_with_plan(org_a)
    url = f"/api/v1/use-cases/{uc.pk}/hitl-policy/"
    assert api_a.get(url).status_code == 404
    make_policy(org_a, uc)
    first = api_a.get(url)
    assert first.status_code == 200 and first.json()["version"] == 1
    assert [a["autonomy"] for a in first.json()["actions"]] == [
        "autonomous", "human_review", "forbidden"
    ]  # fmt: skip
    again = api_a.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    hitl.policy_save(actor=Actor.system(organization=org_a, label="t"), use_case=uc,
                     actions=POLICY[:1])  # fmt: skip
    assert api_a.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200
