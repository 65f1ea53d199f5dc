"""What the governance reviews found, each kept fixed: the risk tier's floor, approvals of a
checklist that is not ready, separation of duties that an edit could dodge, rollbacks of
what never shipped, concurrent writes that undid a sign-off, orphan evidence files, and
the HITL policy served before it was approved."""

import threading
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from governance import gate as release_gate
from governance.models import EvidenceFile, Release, SignOff
from governance.panels import release_gate_check
from governance.services import checklist, hitl, releases
from tests.factories.governance import (
    make_plan_run,
    make_policy,
    make_release,
    make_use_case_with_plan,
)
from tests.factories.usecases import UseCaseFactory
from tests.governance.conftest import actor_of
from tests.governance.test_releases import ready_release, sign

pytestmark = pytest.mark.django_db


def test_a_release_is_never_below_its_use_cases_risk_tier(org_a, po):
    uc = UseCaseFactory(organization=org_a, risk_tier="high")
    with pytest.raises(ValidationError) as caught:
        make_release(org_a, uc, owner=po, risk_tier="minimal")
    assert "at least high risk" in caught.value.message_dict["risk_tier"][0]
    release = make_release(org_a, uc, owner=po)
    assert release.risk_tier == "high"
    assert release_gate.evaluate(release).required == 3


def test_an_unacceptable_use_case_gets_no_release_even_unasked(org_a, api_a):
    uc = UseCaseFactory(organization=org_a, risk_tier="unacceptable")
    response = api_a.post("/api/v1/releases/", {"use_case": uc.pk, "name": "x"}, format="json")
    assert response.status_code == 400 and "never released" in str(response.json())
    response = api_a.post(
        "/api/v1/releases/", {"use_case": uc.pk, "name": "x", "risk_tier": "minimal"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert not Release.objects.for_org(org_a).exists()


def test_a_reviewer_cannot_approve_a_checklist_that_is_not_ready_but_can_reject_it(
    org_a, po, reviewer
):
    uc, _, plan = make_use_case_with_plan(org_a)
    make_plan_run(org_a, plan, [False] * 3)  # a failing run blocks
    release = make_release(org_a, uc, owner=po)
    releases.release_submit(actor=actor_of(po), release=release)
    for decision, comment in [("approve", ""), ("approve_with_conditions", "Watch it")]:
        with pytest.raises(ValidationError, match="The checklist is not ready"):
            sign(reviewer, release, decision=decision, comment=comment)
    assert not SignOff.objects.for_org(org_a).exists()
    sign(reviewer, release, decision="reject", comment="The run fails")
    release.refresh_from_db()
    assert release.status == "rejected"


def test_an_approval_whose_sign_offs_go_stale_is_back_in_review(org_a, po, reviewer):
    release = ready_release(org_a, po)
    sign(reviewer, release)
    release.refresh_from_db()
    assert release.status == "approved"
    item = release.items.get(key="documentation")
    checklist.item_update(
        actor=actor_of(po), item=item, status="met", attestation="Rewritten by Pat.",
        evidence_url="https://wiki.example.com/new",
    )  # fmt: skip
    release.refresh_from_db()
    assert release.status == "in_review"
    assert not release_gate_check(release.use_case, None).met


def test_the_deploy_gate_wants_an_approved_release_whose_gate_is_ready_now(org_a, po, reviewer):
    release = ready_release(org_a, po)
    sign(reviewer, release)
    assert release_gate_check(release.use_case, None).met
    make_plan_run(org_a, release.eval_run.plan, [False] * 3)  # the evidence moved
    check = release_gate_check(release.use_case, None)
    assert not check.met and "gate is not ready now" in check.detail


def test_a_reviewer_cannot_become_the_owner_and_an_owners_sign_off_never_counts(
    org_a, po, reviewer2, member_factory
):
    release = ready_release(org_a, po, risk_tier="limited")
    admin = member_factory(org_a, "admin")  # may own a release, and may sign one
    sign(admin, release)
    with pytest.raises(ValidationError) as caught:
        releases.release_update(actor=actor_of(po), release=release, data={"owner": admin.user})
    assert "separation of duties" in caught.value.message_dict["owner"][0]
    with pytest.raises(ValidationError) as caught:
        releases.release_update(actor=actor_of(po), release=release, data={"owner": reviewer2.user})
    assert "owner, admin or product owner" in caught.value.message_dict["owner"][0]
    # However it came about, a sign-off by whoever owns the release now does not count.
    Release.objects.for_org(org_a).filter(pk=release.pk).update(owner=admin.user)
    release.refresh_from_db()
    gate = release_gate.evaluate(release)
    assert gate.approvals == 0 and gate.role("security").sign_off is None


def test_one_person_is_asked_for_one_role_and_the_owner_decides_no_waiver(
    org_a, po, reviewer, member_factory
):
    release = ready_release(org_a, po, risk_tier="limited")
    releases.release_assign_reviewer(
        actor=actor_of(po), release=release, reviewer_role="security", user=reviewer.user
    )
    with pytest.raises(ValidationError, match="one person signs one role"):
        releases.release_assign_reviewer(
            actor=actor_of(po), release=release, reviewer_role="legal", user=reviewer.user
        )
    admin = member_factory(org_a, "admin")
    Release.objects.for_org(org_a).filter(pk=release.pk).update(owner=admin.user)
    item = release.items.get(key="eval_run_current")
    from datetime import timedelta

    from django.utils import timezone

    waiver = checklist.waiver_request(
        actor=actor_of(po), item=item, justification="Run is flaky",
        expires_at=timezone.now() + timedelta(days=3),
    )  # fmt: skip
    with pytest.raises(PermissionDenied, match="release owner"):
        checklist.waiver_decide(actor=actor_of(admin), waiver=waiver, approve=True)


def test_what_never_shipped_is_not_rolled_back(org_a, po):
    release = make_release(org_a, UseCaseFactory(organization=org_a), owner=po)
    with pytest.raises(ValidationError, match="nothing to roll back"):
        releases.release_set_stage(actor=actor_of(po), release=release, stage="rolled_back")
    release.refresh_from_db()
    assert release.status == "draft"


def test_a_refused_item_update_keeps_no_evidence_file(client, org_a, po):
    release = ready_release(org_a, po)
    before = EvidenceFile.objects.for_org(org_a).count()
    client.force_login(po.user)
    url = f"/o/{org_a.slug}/governance/releases/{release.number}/items/risk_review/"
    response = client.post(
        url,
        {"status": "met", "attestation": "", "evidence_url": "",
         "evidence_file": SimpleUploadedFile("review.pdf", b"%PDF-1.4 risk review")},
    )  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    assert "Attest it" in page and "<details open>" in page  # the form stays open, in place
    assert EvidenceFile.objects.for_org(org_a).count() == before


def test_long_item_keys_are_reachable(client, org_a, po):
    release = ready_release(org_a, po)
    client.force_login(po.user)
    url = f"/o/{org_a.slug}/governance/releases/{release.number}/items/requirements_verified/"
    response = client.post(url + "waiver/", {"justification": "", "expires_at": ""})
    assert response.status_code == 400  # the form's errors, not a 404
    assert "requirements_verified" in response.content.decode()


def test_a_waiver_form_refused_keeps_the_justification(client, org_a, po):
    uc, _, _ = make_use_case_with_plan(org_a)  # no run: its item is short of evidence
    release = make_release(org_a, uc, owner=po)
    client.force_login(po.user)
    url = f"/o/{org_a.slug}/governance/releases/{release.number}/items/eval_run_current/waiver/"
    response = client.post(
        url, {"justification": "The flaky run", "expires_at": "2020-01-01T00:00"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "The flaky run</textarea>" in page and "expiry in the future" in page


def test_the_ai_system_is_served_the_approved_policy_version(org_a, po, reviewer, api_a):
    release = ready_release(org_a, po)
    uc = release.use_case
    url = f"/api/v1/use-cases/{uc.pk}/hitl-policy/"
    body = api_a.get(url).json()
    assert (body["version"], body["approved_in"]) == (1, None)  # nothing approved yet
    sign(reviewer, release)
    make_policy(org_a, uc, actions=[{**hitl.clean_actions(body["actions"])[0], "reason": "v2"}])
    body = api_a.get(url).json()
    assert (body["version"], body["approved_in"]) == (1, release.key)
    etag = api_a.get(url)["ETag"]
    assert api_a.get(url, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304
    assert api_a.get(url, HTTP_IF_NONE_MATCH="*").status_code == 304


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE 'SELECT \"governance_release\".\"id\"%'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_an_edit_at_the_moment_of_a_sign_off_does_not_undo_it(org_a, po, reviewer):
    release = ready_release(org_a, po)
    failures = []

    def run(work) -> None:
        try:
            work(Release.objects.for_org(org_a).get(pk=release.pk))
        except Exception as exc:  # reported below
            failures.append(repr(exc))
        finally:
            connection.close()

    def edit(mine):
        releases.release_update(actor=actor_of(po), release=mine, data={"notes": "Edited"})

    def approve(mine):
        sign(reviewer, mine)

    threads = [threading.Thread(target=run, args=(w,)) for w in (edit, approve)]
    try:
        with transaction.atomic():
            Release.objects.for_org(org_a).select_for_update().get(pk=release.pk)
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 20
            while _lock_waiters() < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _lock_waiters() == 2
    finally:
        for thread in threads:
            thread.join(timeout=30)
    # Whichever went first, the other saw it: the edit never writes an old status back.
    # An edit after the approval is refused (an approved bundle no longer changes).
    release.refresh_from_db()
    assert all("no longer changes" in f for f in failures), failures
    assert release.notes == ("" if failures else "Edited")
    assert release.status == "approved"
    assert SignOff.objects.for_org(org_a).count() == 1


def test_a_reviewer_is_emailed_when_asked_for_a_release_in_review(
    org_a, po, reviewer, django_capture_on_commit_callbacks, mailoutbox
):
    uc, _, _ = make_use_case_with_plan(org_a)
    release = make_release(org_a, uc, owner=po)
    with django_capture_on_commit_callbacks(execute=True):
        releases.release_assign_reviewer(
            actor=actor_of(po), release=release, reviewer_role="security", user=reviewer.user
        )
    assert mailoutbox == []  # a draft: nobody is asked yet
    with django_capture_on_commit_callbacks(execute=True):
        releases.release_submit(actor=actor_of(po), release=release)
    (message,) = mailoutbox
    assert message.to == [reviewer.user.email]
    assert f"{release.key} waits for your sign-off as security" in message.subject
    assert f"/governance/releases/{release.number}/review/" in message.body


def test_a_signer_who_became_the_owner_meanwhile_cannot_sign(org_a, po, member_factory):
    release = ready_release(org_a, po)
    admin = member_factory(org_a, "admin")
    stale = Release.objects.for_org(org_a).get(pk=release.pk)  # loaded before the change
    Release.objects.for_org(org_a).filter(pk=release.pk).update(owner=admin.user)
    with pytest.raises(PermissionDenied, match="owner cannot sign"):
        sign(admin, stale)
    assert not SignOff.objects.for_org(org_a).exists()


def test_a_use_case_raised_to_a_higher_tier_raises_its_releases_gate(org_a, po, reviewer):
    uc, _, _ = make_use_case_with_plan(org_a)  # minimal
    release = make_release(org_a, uc, owner=po)
    type(uc).objects.for_org(org_a).filter(pk=uc.pk).update(risk_tier="high")
    release.refresh_from_db()
    gate = release_gate.evaluate(release)
    assert gate.required == 3
    assert any("now high risk" in b.message for b in gate.blockers)
    with pytest.raises(ValidationError, match="raise REL-1's tier"):
        releases.release_submit(actor=actor_of(po), release=release)
    type(uc).objects.for_org(org_a).filter(pk=uc.pk).update(risk_tier="unacceptable")
    release.refresh_from_db()
    assert any("never released" in b.message for b in release_gate.evaluate(release).blockers)


def test_a_release_made_with_a_token_is_owned_by_someone_who_may_own_it(
    org_a, api_a, member_factory
):
    engineer = member_factory(org_a, "engineer")
    uc = UseCaseFactory(organization=org_a, owner=engineer.user, risk_tier="minimal")
    response = api_a.post("/api/v1/releases/", {"use_case": uc.pk, "name": "x"}, format="json")
    assert response.status_code == 201 and response.json()["owner"] is None
    po = member_factory(org_a, "product_owner")
    uc2 = UseCaseFactory(organization=org_a, owner=po.user, risk_tier="minimal")
    response = api_a.post("/api/v1/releases/", {"use_case": uc2.pk, "name": "y"}, format="json")
    assert response.json()["owner"]["id"] == po.user.pk


def test_an_unknown_api_path_answers_a_tokens_write_with_json(api_a):
    response = api_a.patch("/api/v1/incidents/-1/", {}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
