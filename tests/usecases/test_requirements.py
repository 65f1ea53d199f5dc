"""Requirements inline on the PRD page: add, edit in place, delete, reorder, verifications;
htmx partials and plain-form fallbacks; errors that change nothing; permissions."""

import re

import pytest

from genai_po.roles import Role
from tests.factories.usecases import UseCaseFactory
from tests.usecases.helpers import _actor
from usecases import services
from usecases.models import PrdVersion, Requirement, RequirementVerification


@pytest.fixture
def uc(org_a):
    return UseCaseFactory(organization=org_a, number=3, title="Refund answers")


HX = {"HTTP_HX_REQUEST": "true"}
BASE = "/o/org-a/use-cases/3/"


def _add(membership, uc, statement="Cites the policy.", **data) -> Requirement:
    return services.requirement_add(
        actor=_actor(membership), use_case=uc, data={"statement": statement, **data}
    )


def _state(uc) -> list[tuple]:
    """Every requirement of the use case as (key, statement, owner, position), in order."""
    return [
        (r.key, r.statement, r.owner_id, r.launch_blocking, r.status)
        for r in Requirement.objects.for_org(uc.organization)
        .filter(use_case=uc)
        .order_by("position", "number")
    ]


def _version_count(uc) -> int:
    return PrdVersion.objects.for_org(uc.organization).filter(prd__use_case=uc).count()


def _text(response) -> str:
    return response.content.decode()


def _form(statement="Never promises a refund.", **overrides) -> dict:
    return {
        "statement": statement,
        "type": "forbidden",
        "owner": "",
        "verification_method": "eval",
        "status": "draft",
        **overrides,
    }


def _keys_in(page: str) -> list[str]:
    return re.findall(r'<strong class="req-key">(REQ-\d+)</strong>', page)


# --- Adding


def test_add_with_htmx_returns_the_panel_and_out_of_band_readiness(po_client, po_a, uc):
    response = po_client.post(
        BASE + "requirements/",
        _form(launch_blocking="on", owner=str(po_a.user_id), verification_method="human_review"),
        **HX,
    )
    page = _text(response)

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    assert "<html" not in page
    assert page.lstrip().startswith('<section id="requirements" class="requirements-panel"')
    requirement = Requirement.objects.for_org(uc.organization).get(use_case=uc)
    assert _state(uc) == [("REQ-1", "Never promises a refund.", po_a.user_id, True, "draft")]
    assert requirement.type == "forbidden"
    assert requirement.verification_method == "human_review"
    assert f'<li id="req-{requirement.pk}" class="requirement is-blocking">' in page
    assert '<span class="badge badge-blocking">Launch-blocking</span>' in page
    assert "Owner: Pat PO · Verification method: Human review" in page
    # The readiness and version panels are refreshed out of band.
    assert (
        '<section id="readiness" class="readiness not-ready" aria-live="polite" hx-swap-oob="true">'
    ) in page
    assert f'<li><a href="#req-{requirement.pk}">REQ-1</a>: no verification</li>' in page
    assert '<p id="prd-meta" class="prd-meta" hx-swap-oob="true">' in page
    assert "<strong>Version 1</strong>" in page and "<q>REQ-1 added</q>" in page
    # A fresh, empty add form for the next one.
    assert '<textarea name="statement" cols="40" rows="2" maxlength="2000"' in page
    assert "Never promises a refund.</textarea>" not in page


def test_add_without_htmx_redirects_back_to_the_prd(po_client, uc):
    response = po_client.post(BASE + "requirements/", _form())
    requirement = Requirement.objects.for_org(uc.organization).get(use_case=uc)
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}prd/#req-{requirement.pk}"
    page = _text(po_client.get(response["Location"]))
    assert "REQ-1 added." in page
    assert _keys_in(page) == ["REQ-1"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (_form(statement="   "), "statement", "State the expected behavior."),
        (
            _form(type="wish"),
            "type",
            "Select a valid choice. wish is not one of the available choices.",
        ),
        (
            _form(status="done"),
            "status",
            "Select a valid choice. done is not one of the available choices.",
        ),
        (
            _form(statement="x" * 2001),
            "statement",
            "Ensure this value has at most 2000 characters (it has 2001).",
        ),
    ],
)
def test_add_with_errors_answers_400_with_the_field_error_and_changes_nothing(
    po_client, po_a, uc, data, field, message
):
    _add(po_a, uc)
    before, versions = _state(uc), _version_count(uc)

    response = po_client.post(BASE + "requirements/", data, **HX)
    page = _text(response)

    assert response.status_code == 400
    assert "<html" not in page
    assert (
        f'<ul class="errorlist" id="id_{field}_error"><li>{message}</li></ul>'.replace(
            "id_", "new-req-"
        )
        in page
    )
    assert '<details class="add-requirement" open>' in page
    assert _state(uc) == before
    assert _version_count(uc) == versions


def test_add_with_an_owner_from_another_organization_is_refused(
    po_client, uc, org_b, member_factory
):
    stranger = member_factory(org_b, Role.OWNER)
    response = po_client.post(BASE + "requirements/", _form(owner=str(stranger.user_id)), **HX)
    assert response.status_code == 400
    assert (
        f"Select a valid choice. {stranger.user_id} is not one of the available choices."
        in _text(response)
    )
    assert _state(uc) == []


def test_add_with_errors_without_htmx_shows_the_whole_page(po_client, uc):
    response = po_client.post(BASE + "requirements/", _form(statement=""))
    assert response.status_code == 400
    assert "<html" in _text(response)
    assert "State the expected behavior." in _text(response)
    assert _state(uc) == []


def test_keys_are_never_reused_after_delete(po_client, po_a, uc):
    po_client.post(BASE + "requirements/", _form("First."), **HX)
    po_client.post(BASE + "requirements/", _form("Second."), **HX)
    second = Requirement.objects.for_org(uc.organization).get(use_case=uc, number=2)

    response = po_client.post(BASE + f"requirements/{second.pk}/delete/", **HX)
    assert response.status_code == 200
    assert _keys_in(_text(response)) == ["REQ-1"]

    response = po_client.post(BASE + "requirements/", _form("Third."), **HX)
    assert _keys_in(_text(response)) == ["REQ-1", "REQ-3"]
    assert [s[:2] for s in _state(uc)] == [("REQ-1", "First."), ("REQ-3", "Third.")]


def test_delete_without_htmx_redirects_and_says_the_key_is_retired(po_client, po_a, uc):
    r1 = _add(po_a, uc)
    response = po_client.post(BASE + f"requirements/{r1.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}prd/#requirements"
    assert "REQ-1 deleted; its key is never reused." in _text(po_client.get(response["Location"]))
    assert _state(uc) == []


def test_delete_asks_for_confirmation(po_client, po_a, uc):
    r1 = _add(po_a, uc)
    page = _text(po_client.get(BASE + "prd/"))
    confirm = "Delete REQ-1 and its verifications? The key REQ-1 is never reused."
    assert (
        f'<form method="post" action="{BASE}requirements/{r1.pk}/delete/" data-confirm="{confirm}">'
    ) in page
    assert f'hx-confirm="{confirm}"' in page


# --- Editing in place


def test_edit_form_partial_then_save_returns_the_row(po_client, po_a, uc):
    r1 = _add(po_a, uc, "Cites the policy.")
    url = BASE + f"requirements/{r1.pk}/"

    response = po_client.get(url, **HX)
    page = _text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith(f'<li id="req-{r1.pk}" class="requirement">')
    assert f'<form method="post" action="{url}"' in page
    assert '<textarea name="statement" cols="40" rows="2" maxlength="2000" autofocus' in page
    assert ">\nCites the policy.</textarea>" in page

    response = po_client.post(
        url, _form("Cites the policy section.", owner=str(po_a.user_id), status="agreed"), **HX
    )
    page = _text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith(f'<li id="req-{r1.pk}" class="requirement">')
    assert '<p class="statement">Cites the policy section.</p>' in page
    assert '<span class="req-status">Agreed</span>' in page
    assert "<textarea" not in page.split("</li>")[0].split('<div class="verifications">')[0]
    assert '<p id="prd-meta" class="prd-meta" hx-swap-oob="true">' in page
    assert _state(uc) == [("REQ-1", "Cites the policy section.", po_a.user_id, False, "agreed")]
    version = PrdVersion.objects.for_org(uc.organization).get(prd__use_case=uc, number=2)
    assert version.summary == "REQ-1 changed: statement, type, owner, status"


def test_edit_cancel_returns_the_row(po_client, po_a, uc):
    r1 = _add(po_a, uc)
    response = po_client.get(BASE + f"requirements/{r1.pk}/?cancel=1", **HX)
    assert response.status_code == 200
    assert '<p class="statement">Cites the policy.</p>' in _text(response)
    plain = po_client.get(BASE + f"requirements/{r1.pk}/?cancel=1")
    assert plain.status_code == 302
    assert plain["Location"] == f"{BASE}prd/#req-{r1.pk}"


def test_edit_without_htmx_shows_the_full_page_with_the_form_then_redirects(po_client, po_a, uc):
    r1 = _add(po_a, uc)
    url = BASE + f"requirements/{r1.pk}/"
    page = _text(po_client.get(url))
    assert "<html" in page
    assert f'<form method="post" action="{url}"' in page

    response = po_client.post(url, _form("Changed."))
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}prd/#req-{r1.pk}"
    assert _state(uc)[0][1] == "Changed."


def test_edit_with_errors_answers_400_with_the_form_and_changes_nothing(po_client, po_a, uc):
    r1 = _add(po_a, uc, launch_blocking=True)
    before, versions = _state(uc), _version_count(uc)

    response = po_client.post(BASE + f"requirements/{r1.pk}/", _form("", type="x"), **HX)
    page = _text(response)

    assert response.status_code == 400
    assert page.lstrip().startswith(f'<li id="req-{r1.pk}" class="requirement is-blocking">')
    assert (
        f'<ul class="errorlist" id="r{r1.pk}-statement_error">'
        "<li>State the expected behavior.</li></ul>"
    ) in page
    assert (
        f'<ul class="errorlist" id="r{r1.pk}-type_error"><li>Select a valid choice. x is '
        "not one of the available choices.</li></ul>"
    ) in page
    assert _state(uc) == before
    assert _version_count(uc) == versions


def test_a_requirement_of_another_use_case_is_404(po_client, po_a, uc, org_a):
    other = UseCaseFactory(organization=org_a, number=4)
    r_other = _add(po_a, other, "Elsewhere.")
    assert po_client.get(BASE + f"requirements/{r_other.pk}/", **HX).status_code == 404
    response = po_client.post(BASE + f"requirements/{r_other.pk}/", _form("Hijack"), **HX)
    assert response.status_code == 404
    assert po_client.post(BASE + f"requirements/{r_other.pk}/delete/").status_code == 404
    assert _state(other) == [("REQ-1", "Elsewhere.", None, False, "draft")]


# --- Reordering


def test_up_and_down_buttons_post_the_whole_new_order(po_client, po_a, uc):
    for text in ["One.", "Two.", "Three."]:
        _add(po_a, uc, text)
    page = _text(po_client.get(BASE + "prd/"))
    assert re.findall(r'name="order" value="([^"]+)"', page) == [
        "REQ-2,REQ-1,REQ-3",  # REQ-1 down
        "REQ-2,REQ-1,REQ-3",  # REQ-2 up
        "REQ-1,REQ-3,REQ-2",  # REQ-2 down
        "REQ-1,REQ-3,REQ-2",  # REQ-3 up
    ]
    assert 'aria-label="Move REQ-1 up"' not in page
    assert 'aria-label="Move REQ-3 down"' not in page

    response = po_client.post(BASE + "requirements/order/", {"order": "REQ-1,REQ-3,REQ-2"}, **HX)
    assert response.status_code == 200
    assert _keys_in(_text(response)) == ["REQ-1", "REQ-3", "REQ-2"]
    assert [s[0] for s in _state(uc)] == ["REQ-1", "REQ-3", "REQ-2"]
    assert "<q>Requirements reordered</q>" in _text(response)

    # Repeated fields work too (a script or another client).
    response = po_client.post(BASE + "requirements/order/", {"order": ["REQ-3", "REQ-2", "REQ-1"]})
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}prd/#requirements"
    assert [s[0] for s in _state(uc)] == ["REQ-3", "REQ-2", "REQ-1"]


@pytest.mark.parametrize("order", ["REQ-2,REQ-1", "REQ-1,REQ-1,REQ-2", "REQ-1,REQ-2,REQ-9", ""])
def test_a_stale_or_wrong_order_is_refused_and_changes_nothing(po_client, po_a, uc, order):
    for text in ["One.", "Two.", "Three."]:
        _add(po_a, uc, text)
    before, versions = _state(uc), _version_count(uc)

    response = po_client.post(BASE + "requirements/order/", {"order": order}, **HX)

    assert response.status_code == 400
    assert (
        '<p class="form-error" role="alert">Give every requirement key of this use case once.</p>'
    ) in _text(response)
    assert _keys_in(_text(response)) == ["REQ-1", "REQ-2", "REQ-3"]
    assert _state(uc) == before
    assert _version_count(uc) == versions


# --- Verifications and readiness


def test_readiness_shrinks_as_owners_and_verifications_are_added(po_client, po_a, uc):
    r1 = _add(po_a, uc, "Cites the policy.", launch_blocking=True)
    r2 = _add(po_a, uc, "Never promises money.", launch_blocking=True)
    _add(po_a, uc, "Is polite.")

    def unready(page):
        return re.findall(r'<li><a href="#req-\d+">(REQ-\d+)</a>: ([^<]+)</li>', page)

    page = _text(po_client.get(BASE + "prd/"))
    assert unready(page) == [
        ("REQ-1", "no owner, no verification"),
        ("REQ-2", "no owner, no verification"),
    ]

    page = _text(
        po_client.post(
            BASE + f"requirements/{r1.pk}/",
            _form(
                "Cites the policy.", type="behavior", launch_blocking="on", owner=str(po_a.user_id)
            ),
            **HX,
        )
    )
    assert unready(page) == [("REQ-1", "no verification"), ("REQ-2", "no owner, no verification")]

    response = po_client.post(
        BASE + f"requirements/{r1.pk}/verifications/",
        {"kind": "human_review", "name": "Weekly sample of 20", "owner": str(po_a.user_id)},
        **HX,
    )
    page = _text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith(f'<li id="req-{r1.pk}"')
    assert "Named human review: Weekly sample of 20 · owner Pat PO" in page
    assert unready(page) == [("REQ-2", "no owner, no verification")]
    assert "<h2>Not ready</h2>" in page

    _add_owner_and_review = [
        (
            BASE + f"requirements/{r2.pk}/",
            _form("Never promises money.", launch_blocking="on", owner=str(po_a.user_id)),
        ),
        (
            BASE + f"requirements/{r2.pk}/verifications/",
            {"kind": "human_review", "name": "Legal review", "owner": str(po_a.user_id)},
        ),
    ]
    for url, data in _add_owner_and_review:
        page = _text(po_client.post(url, data, **HX))
    assert unready(page) == []
    assert '<section id="readiness" class="readiness is-ready"' in page
    assert "<h2>Ready</h2>" in page


def test_eval_cases_and_monitors_are_offered_but_linked_from_elsewhere(po_client, po_a, uc):
    r1 = _add(po_a, uc)
    page = _text(po_client.get(BASE + "prd/"))
    assert (
        '<option value="eval_case" disabled>Eval case (linked from the case in its eval plan)'
        "</option>"
    ) in page
    assert '<option value="monitor" disabled>Monitor (arrives with the metrics area)</option>' in (
        page
    )
    assert '<option value="human_review" selected>Named human review</option>' in page

    for kind, message in [
        ("eval_case", "Eval cases are linked from the case itself"),
        ("monitor", "Monitors are linked from the metrics area, which does not exist yet."),
    ]:
        response = po_client.post(
            BASE + f"requirements/{r1.pk}/verifications/",
            {"kind": kind, "name": "Case 12", "owner": str(po_a.user_id)},
            **HX,
        )
        assert response.status_code == 400
        assert message in _text(response)
    assert RequirementVerification.objects.for_org(uc.organization).count() == 0


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"kind": "human_review", "name": "Weekly", "owner": ""},
            "owner",
            "A human review needs an owner who does it.",
        ),
        ({"kind": "human_review", "name": "", "owner": "OWNER"}, "name", "Name the review."),
        (
            {"kind": "audit", "name": "x", "owner": "OWNER"},
            "kind",
            "Select a valid choice. audit is not one of the available choices.",
        ),
    ],
)
def test_verification_errors_answer_400_in_the_row_and_change_nothing(
    po_client, po_a, uc, data, field, message
):
    r1 = _add(po_a, uc)
    data = {k: (str(po_a.user_id) if v == "OWNER" else v) for k, v in data.items()}
    response = po_client.post(BASE + f"requirements/{r1.pk}/verifications/", data, **HX)
    page = _text(response)

    assert response.status_code == 400
    assert page.lstrip().startswith(f'<li id="req-{r1.pk}"')
    assert f'<ul class="errorlist" id="v{r1.pk}-{field}_error"><li>{message}</li></ul>' in page
    assert "<details open>" in page
    assert RequirementVerification.objects.for_org(uc.organization).count() == 0


def test_verification_add_without_htmx_redirects(po_client, po_a, uc):
    r1 = _add(po_a, uc)
    response = po_client.post(
        BASE + f"requirements/{r1.pk}/verifications/",
        {"kind": "human_review", "name": "Weekly", "owner": str(po_a.user_id)},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}prd/#req-{r1.pk}"
    assert list(
        RequirementVerification.objects.for_org(uc.organization).values_list(
            "requirement__number", "name", "owner__email"
        )
    ) == [(1, "Weekly", "po@example.com")]


def test_verification_remove(po_client, po_a, uc):
    r1 = _add(po_a, uc, launch_blocking=True, owner=po_a.user_id)
    v = services.verification_add(
        actor=_actor(po_a), requirement=r1, kind="human_review", name="Weekly", owner=po_a.user_id
    )
    page = _text(po_client.get(BASE + "prd/"))
    assert f'action="{BASE}verifications/{v.pk}/delete/"' in page
    assert 'data-confirm="Remove “Weekly” from REQ-1?"' in page

    response = po_client.post(BASE + f"verifications/{v.pk}/delete/", **HX)
    page = _text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith(f'<li id="req-{r1.pk}"')
    assert "Nothing verifies it yet." in page
    assert f'<li><a href="#req-{r1.pk}">REQ-1</a>: no verification</li>' in page
    assert RequirementVerification.objects.for_org(uc.organization).count() == 0


def test_verification_of_another_use_case_is_404_and_stays(po_client, po_a, uc, org_a):
    other = UseCaseFactory(organization=org_a, number=4)
    r_other = _add(po_a, other)
    v = services.verification_add(
        actor=_actor(po_a),
        requirement=r_other,
        kind="human_review",
        name="Weekly",
        owner=po_a.user_id,
    )
    assert po_client.post(BASE + f"verifications/{v.pk}/delete/").status_code == 404
    assert RequirementVerification.objects.for_org(org_a).filter(pk=v.pk).exists()


# --- Permissions


def _write_requests(uc, requirement, verification) -> list[tuple[str, dict]]:
    base = f"/o/org-a/use-cases/{uc.number}/"
    return [
        (base + "prd/", {"summary": "x", "user_goal": "x"}),
        (base + "requirements/", _form()),
        (base + "requirements/order/", {"order": requirement.key}),
        (base + f"requirements/{requirement.pk}/", _form("Changed.")),
        (base + f"requirements/{requirement.pk}/delete/", {}),
        (
            base + f"requirements/{requirement.pk}/verifications/",
            {"kind": "human_review", "name": "x", "owner": str(requirement.owner_id)},
        ),
        (base + f"verifications/{verification.pk}/delete/", {}),
        ("/o/org-a/use-cases/prd-template/", {"user_goal": "x"}),
    ]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ENGINEER, Role.SME, Role.REVIEWER])
def test_roles_without_edit_product_get_403_on_every_write_and_nothing_changes(
    client, org_a, po_a, uc, member_factory, role
):
    r1 = _add(po_a, uc, owner=po_a.user_id)
    v = services.verification_add(
        actor=_actor(po_a), requirement=r1, kind="human_review", name="Weekly", owner=po_a.user_id
    )
    member = member_factory(org_a, role)
    client.force_login(member.user)
    before, versions = _state(uc), _version_count(uc)

    for url, data in _write_requests(uc, r1, v):
        assert client.post(url, data).status_code == 403, url
        assert client.post(url, data, **HX).status_code == 403, url
    assert client.get(f"/o/org-a/use-cases/3/requirements/{r1.pk}/", **HX).status_code == 403
    assert _state(uc) == before
    assert _version_count(uc) == versions
    assert RequirementVerification.objects.for_org(org_a).count() == 1


def test_a_member_of_another_organization_gets_404_everywhere(
    client, org_b, po_a, uc, member_factory
):
    r1 = _add(po_a, uc, owner=po_a.user_id)
    v = services.verification_add(
        actor=_actor(po_a), requirement=r1, kind="human_review", name="Weekly", owner=po_a.user_id
    )
    outsider = member_factory(org_b, Role.OWNER)
    client.force_login(outsider.user)
    before = _state(uc)
    for url, data in _write_requests(uc, r1, v):
        assert client.post(url, data, **HX).status_code == 404, url
    assert client.get(f"/o/org-a/use-cases/3/requirements/{r1.pk}/", **HX).status_code == 404
    assert _state(uc) == before


def test_viewer_sees_requirements_without_controls(client, org_a, po_a, uc, member_factory):
    r1 = _add(po_a, uc, launch_blocking=True)
    services.verification_add(
        actor=_actor(po_a), requirement=r1, kind="human_review", name="Weekly", owner=po_a.user_id
    )
    viewer = member_factory(org_a, Role.VIEWER)
    client.force_login(viewer.user)
    page = _text(client.get(BASE + "prd/"))
    assert _keys_in(page) == ["REQ-1"]
    assert "Named human review: Weekly · owner Pat PO" in page
    for marker in ["hx-post", "hx-get", "Add a requirement", "Add a verification", 'name="order"']:
        assert marker not in page, marker
