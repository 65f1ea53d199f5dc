"""The governance pages as their people use them: the product owner builds a release and
its evidence, the reviewer signs from a page made for them, and nobody else writes."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.models import ChecklistItem, EvidenceFile, Release, SignOff, Waiver
from tests.factories.governance import (
    make_plan_run,
    make_policy,
    make_release,
    make_use_case_with_plan,
)
from tests.governance.test_releases import ready_release

pytestmark = pytest.mark.django_db


def test_a_reviewer_lands_on_their_reviews_and_sees_no_product_owner_screens(
    client, org_a, po, reviewer
):
    release = ready_release(org_a, po)
    client.force_login(reviewer.user)
    assert client.get(f"/o/{org_a.slug}/").url == f"/o/{org_a.slug}/governance/reviews/"
    page = client.get(f"/o/{org_a.slug}/governance/reviews/").content.decode()
    nav = page[
        page.index('aria-label="Areas"') : page.index("</nav>", page.index('aria-label="Areas"'))
    ]
    assert "My reviews" in nav and "Use cases" not in nav and "Evals" not in nav
    assert release.key in page


def test_the_reviewer_signs_from_their_page_and_the_gate_turns_ready(client, org_a, po, reviewer):
    release = ready_release(org_a, po)
    client.force_login(reviewer.user)
    url = f"/o/{org_a.slug}/governance/releases/{release.number}/review/"
    page = client.get(url).content.decode()
    assert "The evidence" in page and "Issue a refund" in page  # the HITL policy is shown
    import re

    seen = re.search(r'name="seen_hash" value="([0-9a-f]{64})"', page).group(1)
    response = client.post(url, {"reviewer_role": "security", "decision": "approve",
                                 "seen_hash": seen})  # fmt: skip
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.status == "approved"
    client.force_login(po.user)
    detail = client.get(f"/o/{org_a.slug}/governance/releases/{release.number}/").content.decode()
    assert 'class="verdict verdict-ready"' in detail


def test_a_bad_sign_off_is_refused_and_nothing_is_signed(client, org_a, po, reviewer):
    release = ready_release(org_a, po)
    client.force_login(reviewer.user)
    url = f"/o/{org_a.slug}/governance/releases/{release.number}/review/"
    seen = "0" * 64
    response = client.post(url, {"reviewer_role": "security", "decision": "reject",
                                 "seen_hash": seen})  # fmt: skip
    assert response.status_code == 400 and "Say why you reject it." in response.content.decode()
    response = client.post(url, {"reviewer_role": "security", "decision": "approve"})
    assert response.status_code == 400 and "Reload the page" in response.content.decode()
    response = client.post(url, {"reviewer_role": "legal\x00", "decision": "approve"})
    assert response.status_code == 400
    assert not SignOff.objects.for_org(org_a).exists()


def test_the_product_owner_creates_a_release_and_attaches_evidence(client, org_a, po):
    uc, _, plan = make_use_case_with_plan(org_a)
    make_plan_run(org_a, plan, [True] * 3)
    make_policy(org_a, uc)
    client.force_login(po.user)
    base = f"/o/{org_a.slug}/governance/releases/"
    assert client.get(base + f"new/?use_case={uc.number}").status_code == 200
    response = client.post(base + "new/", {
        "use_case": uc.pk, "name": "v1.0", "change_type": "new", "risk_tier": "minimal",
        "environment": "production", "owner": po.user.pk, "reviewer_roles": ["security"],
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    release = Release.objects.for_org(org_a).get()
    assert release.hitl_policy is not None and release.eval_run is not None
    upload = SimpleUploadedFile("risk.pdf", b"%PDF-1.4 risk", content_type="application/pdf")
    response = client.post(f"{base}{release.number}/items/risk_review/", {
        "status": "met", "attestation": "Reviewed with legal.", "evidence_file": upload,
    })  # fmt: skip
    assert response.status_code == 302
    item = ChecklistItem.objects.for_org(org_a).get(release=release, key="risk_review")
    assert item.status == "met" and item.evidence_file is not None
    download = client.get(f"/o/{org_a.slug}/governance/evidence/{item.evidence_file_id}/")
    assert download.content == b"%PDF-1.4 risk"
    assert download["Content-Disposition"].startswith("attachment")
    detail = client.get(f"{base}{release.number}/").content.decode()
    assert "risk.pdf" in detail and "Blocked" in detail
    assert client.post(f"{base}{release.number}/submit/").status_code == 302
    release.refresh_from_db()
    assert release.status == "in_review" and "What it cannot do" in release.capability_card
    card = client.get(f"{base}{release.number}/capability-card/")
    assert card.status_code == 200 and "Close the account" in card.content.decode()
    md = client.get(f"{base}{release.number}/capability-card.md")
    assert md["Content-Type"].startswith("text/markdown")


def test_an_automatic_item_cannot_be_ticked_from_the_page(client, org_a, po):
    uc, _, _ = make_use_case_with_plan(org_a)
    release = make_release(org_a, uc, owner=po)
    client.force_login(po.user)
    client.post(f"/o/{org_a.slug}/governance/releases/{release.number}/items/eval_run_current/",
                {"status": "met", "attestation": "x"})  # fmt: skip
    assert (
        ChecklistItem.objects.for_org(org_a).get(release=release, key="eval_run_current").status
        == "not_started"
    )


def test_waivers_from_the_pages(client, org_a, po, reviewer):
    uc, _, _ = make_use_case_with_plan(org_a)
    release = make_release(org_a, uc, owner=po)
    client.force_login(po.user)
    url = f"/o/{org_a.slug}/governance/releases/{release.number}/items/eval_run_current/waiver/"
    client.post(url, {"justification": "", "expires_at": "2020-01-01T00:00"})
    assert not Waiver.objects.for_org(org_a).exists()
    from datetime import timedelta

    from django.utils import timezone

    soon = (timezone.localtime() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    client.post(url, {"justification": "Shadow only", "expires_at": soon})
    waiver = Waiver.objects.for_org(org_a).get()
    client.force_login(reviewer.user)
    assert "Shadow only" in client.get(f"/o/{org_a.slug}/governance/reviews/").content.decode()
    client.post(f"/o/{org_a.slug}/governance/waivers/{waiver.pk}/approve/")
    waiver.refresh_from_db()
    assert waiver.status == "approved"


@pytest.mark.parametrize("role", ["viewer", "engineer", "sme", "reviewer"])
def test_only_product_people_change_releases(client, org_a, po, member_factory, role):
    uc, _, _ = make_use_case_with_plan(org_a)
    release = make_release(org_a, uc, owner=po)
    client.force_login(member_factory(org_a, role).user)
    base = f"/o/{org_a.slug}/governance/releases/{release.number}/"
    for path in ("submit/", "refresh/", "stage/", "edit/", "items/risk_review/"):
        assert client.post(base + path, {"stage": "general", "status": "met"}).status_code == 403
    assert client.post(f"/o/{org_a.slug}/governance/hitl/{uc.number}/", {}).status_code == 403
    assert client.get(base).status_code == 200  # everyone reads


def test_the_hitl_editor_saves_versions_and_shows_errors(client, org_a, po):
    uc, _, _ = make_use_case_with_plan(org_a)
    client.force_login(po.user)
    url = f"/o/{org_a.slug}/governance/hitl/{uc.number}/"
    assert "no policy yet" in client.get(url).content.decode()
    row = {"name": ["Refund", ""], "description": ["Money back", ""], "reversibility":
           ["costly", "reversible"], "risk": ["high", "low"], "autonomy": ["autonomous",
           "autonomous"], "reason": ["", ""]}  # fmt: skip
    response = client.post(url, row)
    assert response.status_code == 400 and "say why it is autonomous" in response.content.decode()
    row["reason"] = ["Small amounts only", ""]
    assert client.post(url, row).status_code == 302
    assert "version 1" in client.get(url).content.decode()


def test_governance_settings_are_for_owners_and_admins(client, org_a, po, member_factory):
    url = f"/o/{org_a.slug}/governance/settings/"
    client.force_login(po.user)
    assert client.get(url).status_code == 200
    assert (
        client.post(url, {"run_max_age_days": 7, "min_cases_per_requirement": 2}).status_code == 403
    )
    client.force_login(member_factory(org_a, "admin").user)
    assert (
        client.post(url, {"run_max_age_days": 7, "min_cases_per_requirement": 2}).status_code == 302
    )
    assert (
        client.post(url, {"run_max_age_days": 10**30, "min_cases_per_requirement": 2}).status_code
        == 400
    )


def test_pages_of_the_area_render_for_everyone(client, org_a, po, member_factory):
    release = ready_release(org_a, po)
    EvidenceFile.objects.for_org(org_a).count()
    for role in ("owner", "viewer", "sme", "engineer"):
        client.force_login(member_factory(org_a, role).user)
        for path in ("", "releases/", f"releases/{release.number}/",
                     f"releases/{release.number}/capability-card/",
                     f"hitl/{release.use_case.number}/", "settings/"):  # fmt: skip
            assert client.get(f"/o/{org_a.slug}/governance/{path}").status_code == 200, (role, path)


def test_the_home_page_counts_the_releases_in_review_for_signers(client, org_a, po, member_factory):
    ready_release(org_a, po)
    client.force_login(member_factory(org_a, "owner").user)
    page = client.get(f"/o/{org_a.slug}/").content.decode()
    assert "1 release in review: see what waits on your sign-off" in page
    client.force_login(po.user)  # the owner of it, and no signer
    assert "in review: see what waits" not in client.get(f"/o/{org_a.slug}/").content.decode()
