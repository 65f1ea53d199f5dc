"""The audit trail of one use case and of one release: every area's writes about them and
nothing else, exportable; the admins verify the chain from the page."""

import csv
import io

import pytest

from genai_po.audit import audit_record
from genai_po.models import AuditEvent
from governance.services import incidents
from tests.audit_helpers import tamper_after
from tests.factories.governance import make_incident, make_release
from tests.factories.usecases import UseCaseFactory
from tests.governance.conftest import actor_of
from tests.governance.test_releases import ready_release, sign

pytestmark = pytest.mark.django_db


def test_the_use_case_trail_gathers_every_areas_writes_about_it_and_no_other(
    client, org_a, po, reviewer
):
    release = ready_release(org_a, po)
    uc = release.use_case
    sign(reviewer, release)
    incident = make_incident(org_a, uc, owner=po)
    incidents.follow_up_add(actor=actor_of(po), incident=incident, data={"title": "Fix it"})
    other = UseCaseFactory(organization=org_a)
    make_release(org_a, other, owner=po)
    client.force_login(po.user)
    page = client.get(f"/o/{org_a.slug}/governance/audit/use-cases/{uc.number}/")
    assert page.status_code == 200
    text = page.content.decode()
    expected = ["release.created", "checklist_item.updated", "release.signed_off",
                "hitl_policy.saved", "incident.created", "incident.follow_up_added"]  # fmt: skip
    for action in expected:
        assert action in text, action
    assert "Verify the chain now" not in text  # for admins
    export = client.get(f"/o/{org_a.slug}/governance/audit/use-cases/{uc.number}/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows and {r["object_type"] for r in rows} >= {
        "governance.release",
        "governance.incident",
    }
    others = AuditEvent.objects.for_org(org_a).filter(
        action="release.created", after__contains={"risk_tier": other.risk_tier}
    )
    exported = {int(r["seq"]) for r in rows}
    mine = AuditEvent.objects.for_org(org_a).filter(object_type="governance.release",
                                                    object_id=str(release.pk))  # fmt: skip
    assert {e.seq for e in mine} <= exported
    assert not {e.seq for e in others.exclude(object_id=str(release.pk))} & exported


def test_the_release_trail_holds_its_checklist_and_sign_offs(client, org_a, po, reviewer):
    release = ready_release(org_a, po)
    sign(reviewer, release)
    client.force_login(reviewer.user)
    text = client.get(f"/o/{org_a.slug}/governance/releases/{release.number}/audit/").content
    text = text.decode()
    assert "release.signed_off" in text and "checklist_item.updated" in text
    assert "incident.created" not in text
    response = client.get(f"/o/{org_a.slug}/governance/releases/{release.number}/audit/export.csv")
    assert response.status_code == 200


def test_viewers_and_smes_read_no_trail(client, org_a, po, member_factory):
    release = ready_release(org_a, po)
    for role in ("viewer", "sme", "engineer"):
        client.force_login(member_factory(org_a, role).user)
        url = f"/o/{org_a.slug}/governance/releases/{release.number}/audit/"
        assert client.get(url).status_code == 403
        assert client.get(url + "export.csv").status_code == 403


def test_an_admin_verifies_the_chain_from_the_page_and_sees_a_break(
    client, org_a, po, member_factory
):
    release = ready_release(org_a, po)
    admin = member_factory(org_a, "admin")
    client.force_login(admin.user)
    back = f"/o/{org_a.slug}/governance/releases/{release.number}/audit/"
    assert "Verify the chain now" in client.get(back).content.decode()
    response = client.post(f"/o/{org_a.slug}/governance/audit/verify/", {"next": back},
                           follow=True)  # fmt: skip
    assert response.redirect_chain[-1][0] == back
    assert "The audit chain is intact" in response.content.decode()
    event = audit_record(actor=actor_of(po), action="probe", object_type="probe", object_id="1")
    tamper_after(org_a, event.seq, {"rewritten": True})  # someone with database access
    response = client.post(f"/o/{org_a.slug}/governance/audit/verify/",
                           {"next": "https://evil.example/"}, follow=True)  # fmt: skip
    assert response.redirect_chain[-1][0] == f"/o/{org_a.slug}/governance/audit/"
    assert f"broken at event #{event.seq}" in response.content.decode()
    client.force_login(po.user)
    assert client.post(f"/o/{org_a.slug}/governance/audit/verify/").status_code == 403


def test_the_scoped_export_keeps_requests_and_addresses_for_admins(
    client, org_a, po, member_factory
):
    release = ready_release(org_a, po)
    url = f"/o/{org_a.slug}/governance/releases/{release.number}/audit/export.csv"
    AuditEvent.objects.for_org(org_a)  # events exist from the release's making
    client.force_login(po.user)
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get(url).streaming_content).decode())))
    assert rows and all(r["ip"] == "" and r["request_id"] == "" for r in rows)


def test_trail_rows_name_objects_by_their_keys(client, org_a, po, reviewer):
    release = ready_release(org_a, po)
    sign(reviewer, release)
    client.force_login(po.user)
    page = client.get(f"/o/{org_a.slug}/governance/releases/{release.number}/audit/")
    text = page.content.decode()
    assert f"<td>{release.key}</td>" in text  # not "Release #<id>"
    reviews = client.get(f"/o/{org_a.slug}/governance/reviews/")
    assert reviews.status_code == 403  # a product owner signs nothing
    client.force_login(reviewer.user)
    reviews = client.get(f"/o/{org_a.slug}/governance/reviews/").content.decode()
    assert "Your decisions" in reviews and release.key in reviews
