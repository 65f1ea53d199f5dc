"""Incidents in the browser and through the API: the product owner reports one, works its
response and closes it; the CI or a support tool does the same with a token."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.models import Incident, IncidentFollowUp
from tests.factories.governance import make_incident, make_use_case_with_plan
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


def _form(uc, **data):
    now = timezone.localtime()
    return {
        "title": "Promised a refund outside the policy",
        "summary": "A 60-day-old order was promised a refund.",
        "use_case": uc.pk,
        "environment": "production",
        "channel": "end_user",
        "reporter_label": "Ticket 4411",
        "occurred_at": (now - timedelta(hours=3)).strftime(LOCAL),
        "discovered_at": (now - timedelta(hours=2)).strftime(LOCAL),
        "aware_at": (now - timedelta(hours=1)).strftime(LOCAL),
        "incident_type": "confabulation",
        "severity": "2",
        "harm_types": ["economic"],
        "evidence_links": "https://traces.example/t/1\nhttps://tickets.example/4411",
        **data,
    }


def test_the_product_owner_reports_a_serious_incident_and_sees_its_clock(client, org_a, po):
    uc = UseCaseFactory(organization=org_a)
    client.force_login(po.user)
    base = f"/o/{org_a.slug}/governance/incidents/"
    assert "No open incident" in client.get(base).content.decode()
    assert client.get(base + "new/").status_code == 200
    response = client.post(
        base + "new/",
        _form(uc, serious="on", serious_kind="death", serious_rationale="A death was reported"),
    )
    assert response.status_code == 302
    incident = Incident.objects.for_org(org_a).get()
    assert incident.deadline_at == incident.aware_at + timedelta(days=10)
    assert incident.evidence_links == ["https://traces.example/t/1", "https://tickets.example/4411"]
    page = client.get(response.url).content.decode()
    assert "Regulatory clock" in page and "Death of a person" in page
    assert "Record as sent" in page
    listing = client.get(base).content.decode()
    assert "Article 73 reports due" in listing and incident.key in listing


def test_a_bad_report_re_renders_with_the_input_kept_and_the_error_on_its_field(client, org_a, po):
    uc = UseCaseFactory(organization=org_a)
    client.force_login(po.user)
    response = client.post(
        f"/o/{org_a.slug}/governance/incidents/new/",
        _form(uc, serious="on", serious_kind="", aware_at="2020-01-01T00:00"),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "cannot become aware before" in page and "needs its clock" in page
    assert "Promised a refund outside the policy" in page  # nothing typed is lost
    assert not Incident.objects.for_org(org_a).exists()


def test_the_response_is_worked_on_the_page_and_closing_waits_for_the_follow_ups(client, org_a, po):
    uc, _, plan = make_use_case_with_plan(org_a)
    incident = make_incident(org_a, uc, owner=po)
    client.force_login(po.user)
    url = f"/o/{org_a.slug}/governance/incidents/{incident.number}/"
    client.post(url + "follow-ups/", {"title": "Fix the refund rule", "owner": po.user.pk})
    row = IncidentFollowUp.objects.for_org(org_a).get()
    response = client.post(url + "status/", {"status": "closed"}, follow=True)
    assert "still open" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == "open"
    response = client.post(url + f"follow-ups/{row.pk}/", {"status": "accepted"}, follow=True)
    assert "needs a note" in response.content.decode()
    client.post(url + f"follow-ups/{row.pk}/", {"status": "done", "note": ""})
    # Into the loop: a regression case and a context gap.
    response = client.post(
        url + "regression-case/",
        {"plan": plan.pk, "prompt": "Refund after 60 days?", "expected_behavior": "Decline"},
        follow=True,
    )
    assert "the next run tests it" in response.content.decode()
    response = client.post(
        url + "gap/", {"question": "What is the B2B refund window?"}, follow=True
    )
    assert "opened in the context loop" in response.content.decode()
    page = client.get(url).content.decode()
    assert "(origin: incident)" in page and "B2B refund window" in page
    response = client.post(url + "status/", {"status": "closed"}, follow=True)
    incident.refresh_from_db()
    assert incident.status == "closed"
    assert "Edit the report" not in response.content.decode()
    assert client.get(url + "edit/").status_code == 302  # closed: reopen first


def test_the_edit_form_keeps_the_record_and_moves_the_clock(client, org_a, po):
    uc = UseCaseFactory(organization=org_a)
    incident = make_incident(org_a, uc, owner=po)
    client.force_login(po.user)
    url = f"/o/{org_a.slug}/governance/incidents/{incident.number}/edit/"
    page = client.get(url).content.decode()
    assert "Customer via ticket 4411" in page and "Promised a refund" in page
    data = _form(uc, serious="on", serious_kind="widespread", serious_rationale="Outage")
    assert client.post(url, data).status_code == 302
    incident.refresh_from_db()
    assert incident.deadline_at == incident.aware_at + timedelta(days=2)


@pytest.mark.parametrize("role", ["viewer", "reviewer", "sme", "engineer"])
def test_only_product_roles_write_incidents_others_read_them(
    client, org_a, po, member_factory, role
):
    incident = make_incident(org_a, UseCaseFactory(organization=org_a), owner=po)
    client.force_login(member_factory(org_a, role).user)
    url = f"/o/{org_a.slug}/governance/incidents/{incident.number}/"
    page = client.get(url).content.decode()
    assert incident.title in page and "Add the follow-up" not in page
    assert client.get(f"/o/{org_a.slug}/governance/incidents/new/").status_code == 403
    assert client.post(url + "status/", {"status": "closed"}).status_code == 403
    assert client.post(url + "follow-ups/", {"title": "x"}).status_code == 403
    assert not IncidentFollowUp.objects.for_org(org_a).exists()


# --------------------------------------------------------------------------- the API


def _payload(uc, **data):
    now = timezone.now()
    return {
        "title": "Leaked an order number",
        "summary": "Another customer's order number was shown.",
        "use_case": uc.pk,
        "channel": "sme",
        "reporter_label": "Support desk",
        "occurred_at": (now - timedelta(hours=3)).isoformat(),
        "discovered_at": (now - timedelta(hours=2)).isoformat(),
        "aware_at": (now - timedelta(hours=1)).isoformat(),
        "type": "privacy_leak",
        "severity": 1,
        **data,
    }


def test_the_api_records_works_and_closes_an_incident(api_a, org_a):
    uc = UseCaseFactory(organization=org_a)
    response = api_a.post(
        "/api/v1/incidents/",
        _payload(uc, serious=True, serious_kind="standard", serious_rationale="Privacy harm"),
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["key"] == "INC-1" and body["type"] == "privacy_leak"
    assert body["deadline_at"] is not None and body["follow_ups"] == []
    base = f"/api/v1/incidents/{body['number']}/"
    added = api_a.post(base + "follow-ups/", {"title": "Mask order numbers"}, format="json")
    assert added.status_code == 201
    refused = api_a.post(base + "status/", {"status": "closed"}, format="json")
    assert refused.status_code == 400 and "still open" in str(refused.json())
    row = added.json()["id"]
    response = api_a.patch(
        base + f"follow-ups/{row}/", {"status": "accepted", "note": "Masked by the gateway"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert api_a.post(base + "reports/", {"which": "initial"}, format="json").status_code == 200
    assert api_a.post(base + "reports/", {"which": "complete"}, format="json").status_code == 200
    patched = api_a.patch(base, {"root_cause": "The retriever ignored tenancy"}, format="json")
    assert patched.status_code == 200 and patched.json()["root_cause"].startswith("The retriever")
    closed = api_a.post(base + "status/", {"status": "closed"}, format="json")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    listed = api_a.get("/api/v1/incidents/", {"status": "closed", "serious": "true"}).json()
    assert [i["key"] for i in listed["results"]] == ["INC-1"]
    assert api_a.get("/api/v1/incidents/", {"severity": 4}).json()["results"] == []


def test_the_api_says_what_is_wrong_and_writes_nothing(api_a, org_a, org_b):
    uc = UseCaseFactory(organization=org_a)
    other = UseCaseFactory(organization=org_b)
    for payload, field in [
        (_payload(other), "use_case"),
        (_payload(uc, severity=0), "severity"),
        (_payload(uc, type="meteor"), "type"),
        (_payload(uc, reporter_label=""), "reporter_label"),
        (_payload(uc, serious=True), "serious_kind"),
        (_payload(uc, occurred_at="soon"), "occurred_at"),
        (_payload(uc, colour="red"), "colour"),
    ]:
        response = api_a.post("/api/v1/incidents/", payload, format="json")
        assert response.status_code == 400, payload
        assert field in str(response.json()), (field, response.json())
    assert not Incident.objects.across_orgs().exists()


def test_a_read_only_token_reads_incidents_and_writes_none(org_a, token_factory, po):
    from rest_framework.test import APIClient

    incident = make_incident(org_a, UseCaseFactory(organization=org_a), owner=po)
    _, raw = token_factory(org_a, scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(f"/api/v1/incidents/{incident.number}/").status_code == 200
    response = api.post(f"/api/v1/incidents/{incident.number}/follow-ups/", {"title": "x"})
    assert response.status_code == 403


def test_a_refused_follow_up_or_report_is_shown_in_place_with_its_input(client, org_a, po):
    incident = make_incident(
        org_a, UseCaseFactory(organization=org_a), owner=po, serious=True,
        serious_kind="standard", serious_rationale="Harm",
    )  # fmt: skip
    client.force_login(po.user)
    url = f"/o/{org_a.slug}/governance/incidents/{incident.number}/"
    client.post(url + "follow-ups/", {"title": "Fix the rule"})
    row = IncidentFollowUp.objects.for_org(org_a).get()
    response = client.post(url + f"follow-ups/{row.pk}/", {"status": "accepted", "note": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert "needs a note" in page and 'role="alert"' in page
    response = client.post(url + "reports/", {"which": "initial", "at": "2001-01-01T10:00"})
    page = response.content.decode()
    assert response.status_code == 400 and "cannot precede" in page
    assert 'value="2001-01-01T10:00"' in page
    response = client.post(url + "follow-ups/", {"title": "Late", "due_date": "2001-01-01"})
    assert response.status_code == 400 and "due today or later" in response.content.decode()
    assert IncidentFollowUp.objects.for_org(org_a).count() == 1
