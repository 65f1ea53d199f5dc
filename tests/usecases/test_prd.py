"""The AI PRD pages: sections and versions, the template, diff, readiness, traceability,
Markdown export, print page, permissions and query counts."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from genai_po.roles import Role
from tests.factories.usecases import UseCaseFactory
from tests.usecases.helpers import _actor
from usecases import services
from usecases.models import PRD_SECTION_KEYS, Prd, PrdTemplate, PrdVersion, VerificationKind


@pytest.fixture
def uc(org_a):
    return UseCaseFactory(organization=org_a, number=7, title="Refund answers")


def _url(uc, tail="prd/") -> str:
    return f"/o/{uc.organization.slug}/use-cases/{uc.number}/{tail}"


def _sections(**overrides) -> dict:
    return {key: overrides.get(key, "") for key in PRD_SECTION_KEYS}


def _versions(uc) -> list[tuple]:
    return list(
        PrdVersion.objects.for_org(uc.organization)
        .filter(prd__use_case=uc)
        .order_by("number")
        .values_list("number", "author__email", "author_label", "summary")
    )


def _text(response) -> str:
    return response.content.decode()


# --- Saving sections creates versions


def test_saving_the_prd_creates_a_version_with_author_and_summary(po_client, po_a, uc):
    data = _sections(user_goal="Answer refund questions in one reply.", tone_constraints="Plain.")
    response = po_client.post(_url(uc), {**data, "summary": "First draft", "base_version": "0"})

    assert response.status_code == 302
    assert response["Location"] == "/o/org-a/use-cases/7/prd/"
    assert _versions(uc) == [(1, "po@example.com", "po@example.com", "First draft")]
    prd = Prd.objects.for_org(uc.organization).get(use_case=uc)
    assert prd.version == 1
    assert prd.sections["user_goal"] == "Answer refund questions in one reply."

    data["tone_constraints"] = "Plain, friendly, no jargon."
    response = po_client.post(_url(uc), {**data, "summary": "Tone", "base_version": "1"})
    assert response.status_code == 302
    assert _versions(uc) == [
        (1, "po@example.com", "po@example.com", "First draft"),
        (2, "po@example.com", "po@example.com", "Tone"),
    ]
    version = PrdVersion.objects.for_org(uc.organization).get(prd=prd, number=2)
    assert version.content["sections"]["tone_constraints"] == "Plain, friendly, no jargon."

    page = _text(po_client.get(_url(uc)))
    assert "<strong>Version 2</strong>" in page
    assert "by po@example.com · <q>Tone</q>" in page
    assert "<h3>Tone constraints</h3>" in page
    assert "<p>Plain, friendly, no jargon.</p>" in page


@pytest.mark.parametrize("summary", ["", "   "])
def test_an_empty_change_summary_is_refused_and_nothing_changes(po_client, po_a, uc, summary):
    services.prd_save(
        actor=_actor(po_a), use_case=uc, sections=_sections(user_goal="Old goal."), summary="v1"
    )
    response = po_client.post(
        _url(uc), {**_sections(user_goal="New goal."), "summary": summary, "base_version": "1"}
    )

    assert response.status_code == 400
    assert "Say in a few words what changed." in _text(response)
    assert "New goal." in _text(response)  # the editor's text is kept
    assert _versions(uc) == [(1, "po@example.com", "po@example.com", "v1")]
    assert Prd.objects.for_org(uc.organization).get(use_case=uc).sections["user_goal"] == (
        "Old goal."
    )


def test_a_new_prd_starts_from_what_the_brief_says(po_client, po_a, org_a):
    brief = UseCaseFactory(
        organization=org_a, number=8, problem="Agents search three wikis for refund rules.",
        workflow="", value_hypothesis="Cited answers cut handling time.",
        metric_name="Handling time", metric_unit="min", metric_baseline=11.5, metric_target=7,
    )  # fmt: skip
    services.prd_template_update(actor=_actor(po_a),
                                 sections={"workflow": "Describe the steps.",
                                           "user_problem": "Template problem"})  # fmt: skip

    page = _text(po_client.get(_url(brief)))

    assert ">\nAgents search three wikis for refund rules.</textarea>" in page
    assert ">\nDescribe the steps.</textarea>" in page  # the brief has no workflow
    assert "Template problem" not in page
    assert ("Cited answers cut handling time.\n\nMeasured by Handling time (11.5 today, "
            "target 7 min).</textarea>") in page  # fmt: skip


def test_a_new_prd_starts_from_the_organization_template(po_client, po_a, uc):
    services.prd_template_update(
        actor=_actor(po_a),
        sections={
            "handoff_rules": "Escalate to a human when <the customer> is angry.",
            "required_sources": "Refund policy v3",
        },
    )

    page = _text(po_client.get(_url(uc)))

    assert "No PRD yet: the problem, the workflow and the goal start from" in page
    assert (
        '<textarea name="handoff_rules" cols="40" rows="4" maxlength="20000" '
        'aria-describedby="id_handoff_rules_helptext" id="id_handoff_rules">\n'
        "Escalate to a human when &lt;the customer&gt; is angry.</textarea>"
    ) in page
    assert ">\nRefund policy v3</textarea>" in page
    assert Prd.objects.for_org(uc.organization).filter(use_case=uc).count() == 0

    sections = _sections(handoff_rules="Escalate when angry.", required_sources="Refund policy v3")
    po_client.post(_url(uc), {**sections, "summary": "From template", "base_version": "0"})
    assert _versions(uc) == [(1, "po@example.com", "po@example.com", "From template")]


def test_an_existing_prd_is_read_then_edited_on_demand(po_client, po_a, uc):
    services.prd_save(
        actor=_actor(po_a), use_case=uc, sections=_sections(user_goal="Goal A."), summary="v1"
    )

    read = _text(po_client.get(_url(uc)))
    assert '<a href="?edit=1#prd-sections" role="button" class="outline">Edit sections</a>' in read
    assert 'name="user_goal"' not in read

    edit = _text(po_client.get(_url(uc) + "?edit=1"))
    assert 'name="user_goal"' in edit
    assert '<input type="hidden" name="base_version" value="1" id="id_base_version">' in edit


def test_a_save_over_someone_elses_newer_sections_is_refused(
    po_client, po_a, uc, org_a, member_factory
):
    other = member_factory(org_a, Role.ADMIN)
    services.prd_save(
        actor=_actor(po_a), use_case=uc, sections=_sections(user_goal="Goal A."), summary="v1"
    )
    services.prd_save(
        actor=_actor(other),
        use_case=uc,
        sections=_sections(user_goal="Goal B."),
        summary="v2 by someone else",
    )

    response = po_client.post(
        _url(uc), {**_sections(user_goal="Goal C."), "summary": "mine", "base_version": "1"}
    )

    assert response.status_code == 400
    assert "Someone saved other sections since you started editing (now version 2)." in _text(
        response
    )
    assert '<input type="hidden" name="base_version" value="2"' in _text(response)
    assert [v[0] for v in _versions(uc)] == [1, 2]
    assert Prd.objects.for_org(org_a).get(use_case=uc).sections["user_goal"] == "Goal B."

    # A requirement added meanwhile changes the version, not the sections: no conflict.
    services.requirement_add(actor=_actor(other), use_case=uc, data={"statement": "Cite."})
    response = po_client.post(
        _url(uc), {**_sections(user_goal="Goal C."), "summary": "mine", "base_version": "2"}
    )
    assert response.status_code == 302
    assert [v[3] for v in _versions(uc)] == ["v1", "v2 by someone else", "REQ-1 added", "mine"]


# --- The organization's template


def test_template_page_reads_for_every_member_and_saves_for_product_editors(
    client, po_client, po_a, org_a, member_factory
):
    response = po_client.post(
        "/o/org-a/use-cases/prd-template/",
        _sections(tone_constraints="Plain language; no <b>bold</b> claims."),
    )
    assert response.status_code == 302
    assert response["Location"] == "/o/org-a/use-cases/prd-template/"
    template = PrdTemplate.objects.for_org(org_a).get()
    assert template.sections["tone_constraints"] == "Plain language; no <b>bold</b> claims."

    viewer = member_factory(org_a, Role.VIEWER)
    client.force_login(viewer.user)
    page = client.get("/o/org-a/use-cases/prd-template/")
    assert page.status_code == 200
    assert "<p>Plain language; no &lt;b&gt;bold&lt;/b&gt; claims.</p>" in _text(page)
    assert "<textarea" not in _text(page)
    assert client.post("/o/org-a/use-cases/prd-template/", _sections()).status_code == 403
    assert PrdTemplate.objects.for_org(org_a).get().sections == template.sections


def test_template_refuses_too_long_sections(po_client, org_a):
    response = po_client.post("/o/org-a/use-cases/prd-template/", _sections(user_goal="x" * 20001))
    assert response.status_code == 400
    assert "Ensure this value has at most 20000 characters (it has 20001)." in _text(response)
    assert PrdTemplate.objects.for_org(org_a).count() == 0


# --- Versions and diff


@pytest.fixture
def three_versions(po_a, uc):
    actor = _actor(po_a)
    services.prd_save(
        actor=actor,
        use_case=uc,
        summary="First draft",
        sections=_sections(
            user_goal="Answer refund questions.\nCite the policy.", tone_constraints="Plain."
        ),
    )
    services.requirement_add(
        actor=actor,
        use_case=uc,
        data={
            "statement": "Never promise a refund above 100 EUR.",
            "type": "forbidden",
            "launch_blocking": True,
        },
    )
    services.prd_save(
        actor=actor,
        use_case=uc,
        summary="Sharper goal",
        sections=_sections(
            user_goal="Answer refund questions in one reply.\nCite the policy.",
            tone_constraints="Plain.",
        ),
    )


def test_versions_page_lists_every_version(po_client, uc, three_versions):
    page = _text(po_client.get(_url(uc, "prd/versions/")))
    rows = re.findall(
        r"<td>v(\d+)</td>\s*<td>([^<]*)</td>.*?<td>([^<]*)</td>\s*<td class", page, re.S
    )
    assert rows == [
        ("3", "po@example.com", "Sharper goal"),
        ("2", "po@example.com", "REQ-1 added"),
        ("1", "po@example.com", "First draft"),
    ]
    assert '<a href="?a=2&amp;b=3">with v2</a>' in page


def test_diff_of_two_versions_shows_section_and_requirement_changes(po_client, uc, three_versions):
    response = po_client.get(_url(uc, "prd/versions/") + "?a=1&b=3")
    page = _text(response)

    assert response.status_code == 200
    assert "<h2>From version 1 to version 3</h2>" in page
    assert re.findall(r'<section class="diff-part" id="diff-(\w+)">', page) == [
        "user_goal",
        "requirements",
    ]
    assert (
        '<del class="diff-line diff-removed" role="listitem"><span class="visually-hidden">'
        "Removed: </span>Answer refund questions.</del>"
    ) in page
    assert (
        '<ins class="diff-line diff-added" role="listitem"><span class="visually-hidden">'
        "Added: </span>Answer refund questions in one reply.</ins>"
    ) in page
    assert '<span class="diff-line diff-same" role="listitem">Cite the policy.</span>' in page
    assert (
        "Added: </span>REQ-1 [forbidden; eval; draft; launch-blocking; owner -] "
        "Never promise a refund above 100 EUR.</ins>"
    ) in page

    same = _text(po_client.get(_url(uc, "prd/versions/") + "?a=2&b=2"))
    assert "No differences between version 2 and version 2." in same


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("?a=1&b=9", "Version B = 9 does not exist: this PRD has versions 1 to 3."),
        ("?a=0&b=2", "Version A = 0 does not exist: this PRD has versions 1 to 3."),
        ("?a=x&b=2", "Version A must be a version number, not &#x27;x&#x27;."),
        ("?b=2", "Choose version A."),
    ],
)
def test_diff_with_unknown_versions_says_what_is_wrong(po_client, uc, three_versions, query, error):
    response = po_client.get(_url(uc, "prd/versions/") + query)
    assert response.status_code == 400
    assert f"<li>{error}</li>" in _text(response)
    assert "diff-part" not in _text(response)


def test_diff_partial_for_htmx(po_client, uc, three_versions):
    response = po_client.get(_url(uc, "prd/versions/") + "?a=1&b=2", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _text(response).lstrip().startswith('<section id="compare"')
    assert "<html" not in _text(response)
    assert "HX-Request" in [v.strip() for v in response["Vary"].split(",")]


def test_versions_page_without_a_prd(po_client, uc):
    page = po_client.get(_url(uc, "prd/versions/"))
    assert "No versions yet." in _text(page)
    response = po_client.get(_url(uc, "prd/versions/") + "?a=1&b=2")
    assert response.status_code == 400
    assert "This PRD has no versions yet: nothing to compare." in _text(response)


# --- Readiness on the PRD page


def test_readiness_panel_lists_blocking_requirements_until_verified_and_owned(po_client, po_a, uc):
    actor = _actor(po_a)
    page = _text(po_client.get(_url(uc)))
    assert '<section id="readiness" class="readiness not-ready" aria-live="polite">' in page
    assert "No requirements yet. If a behavior cannot be tested" in page

    r1 = services.requirement_add(
        actor=actor, use_case=uc, data={"statement": "Cites the policy.", "launch_blocking": True}
    )
    services.requirement_add(actor=actor, use_case=uc, data={"statement": "Is polite."})
    page = _text(po_client.get(_url(uc)))
    assert "<h2>Not ready</h2>" in page
    assert "1 of 1 launch-blocking requirement cannot yet be tested" in page
    assert f'<li><a href="#req-{r1.pk}">REQ-1</a>: no owner, no verification</li>' in page

    services.requirement_update(actor=actor, requirement=r1, data={"owner": po_a.user_id})
    services.verification_add(
        actor=actor,
        requirement=r1,
        kind=VerificationKind.HUMAN_REVIEW,
        name="Weekly sample",
        owner=po_a.user_id,
    )
    page = _text(po_client.get(_url(uc)))
    assert '<section id="readiness" class="readiness is-ready" aria-live="polite">' in page
    assert "<h2>Ready</h2>" in page
    assert "Every launch-blocking requirement (1) has a verification and an owner." in page


# --- Traceability


def test_traceability_matrix_shows_verifications_by_kind_and_highlights_gaps(po_client, po_a, uc):
    actor = _actor(po_a)
    r1 = services.requirement_add(
        actor=actor,
        use_case=uc,
        data={"statement": "Cites the policy.", "launch_blocking": True, "owner": po_a.user_id},
    )
    r2 = services.requirement_add(
        actor=actor,
        use_case=uc,
        data={"statement": "Never promises <money>.", "launch_blocking": True},
    )
    services.requirement_add(actor=actor, use_case=uc, data={"statement": "Is polite."})
    services.verification_add(
        actor=actor,
        requirement=r1,
        kind=VerificationKind.HUMAN_REVIEW,
        name="Weekly sample",
        owner=po_a.user_id,
    )

    response = po_client.get(_url(uc, "traceability/"))
    page = _text(response)

    assert response.status_code == 200
    assert re.findall(r'<tr id="trace-(REQ-\d+)"( class="trace-gap")?>', page) == [
        ("REQ-1", ""),
        ("REQ-2", ' class="trace-gap"'),
        ("REQ-3", ""),
    ]
    row1 = page.split('<tr id="trace-REQ-1">')[1].split("</tr>")[0]
    cells = re.findall(r"<td>(.*?)</td>", row1, re.S)
    assert cells == [
        '<span class="trace-item">Weekly sample <small class="muted">(Pat PO)</small></span>',
        '<span aria-label="none">—</span>',
        '<span aria-label="none">—</span>',
    ]
    row2 = page.split('<tr id="trace-REQ-2" class="trace-gap">')[1].split("</tr>")[0]
    assert "Never promises &lt;money&gt;." in row2
    assert '<strong class="missing">Not ready: no owner, no verification</strong>' in row2
    assert "1 of 2 launch-blocking requirements without a verification and an owner" in page
    assert f"#req-{r2.pk}" in page


# --- Markdown export and print page


@pytest.fixture
def full_prd(po_a, uc):
    actor = _actor(po_a)
    services.prd_save(
        actor=actor,
        use_case=uc,
        summary="Draft",
        sections=_sections(
            user_goal="Answer refund questions.", forbidden_actions="Promise refunds | credits."
        ),
    )
    r1 = services.requirement_add(
        actor=actor,
        use_case=uc,
        data={
            "statement": "Cites the policy\nsection it uses.",
            "launch_blocking": True,
            "owner": po_a.user_id,
            "type": "behavior",
            "verification_method": "human_review",
        },
    )
    services.verification_add(
        actor=actor,
        requirement=r1,
        kind=VerificationKind.HUMAN_REVIEW,
        name="Weekly sample",
        owner=po_a.user_id,
    )
    services.requirement_add(
        actor=actor,
        use_case=uc,
        data={
            "statement": "Never promises a refund.",
            "launch_blocking": True,
            "type": "forbidden",
        },
    )


def test_markdown_export(po_client, uc, full_prd):
    response = po_client.get(_url(uc, "prd/export.md"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="UC-7-prd-v3.md"'
    text = response.content.decode()
    lines = text.splitlines()
    assert lines[0] == "# UC-7 Refund answers: AI PRD"
    assert lines[2].startswith("Version 3, saved ")
    assert lines[2].endswith(" UTC by po@example.com: REQ-2 added")
    assert lines[4:10] == [
        "",
        "## Readiness",
        "",
        "**Not ready**: 1 of 2 launch-blocking requirements cannot yet be tested, monitored "
        "or reviewed by an owner.",
        "",
        "- REQ-2: no owner, no verification",
    ]
    assert "\n## User goal\n\nAnswer refund questions.\n" in text
    assert "\n## Workflow\n\n_Not written yet._\n" in text
    assert "\n## Forbidden actions\n\nPromise refunds | credits.\n" in text
    assert text.endswith(
        "## Requirements\n\n"
        "| Key | Statement | Type | Launch-blocking | Owner | Verification method | Status "
        "| Verified by |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
        "| REQ-1 | Cites the policy section it uses. | Behavior | yes | Pat PO | Human review "
        "| Draft | Named human review: Weekly sample (Pat PO) |\n"
        "| REQ-2 | Never promises a refund. | Forbidden action | yes | — | Eval | Draft | — |\n"
    )


def test_markdown_escapes_pipes_in_table_cells(po_client, po_a, uc):
    services.requirement_add(
        actor=_actor(po_a), use_case=uc, data={"statement": "Refuse A | B choices"}
    )
    text = po_client.get(_url(uc, "prd/export.md")).content.decode()
    assert "| REQ-1 | Refuse A \\| B choices | Behavior | no | — | Eval | Draft | — |" in text


def test_markdown_shows_raw_html_of_user_text_and_never_renders_it(po_client, po_a, uc):
    goal = 'Hi <img src=x onerror="alert(1)"> > quoted'
    services.prd_save(actor=_actor(po_a), use_case=uc, summary="v1",
                      sections={"user_goal": goal})  # fmt: skip
    services.requirement_add(
        actor=_actor(po_a), use_case=uc, data={"statement": "<script>alert(2)</script>"}
    )
    services.prd_save(actor=_actor(po_a), use_case=uc, summary="<b>bold</b> summary",
                      sections={})  # fmt: skip
    text = po_client.get(_url(uc, "prd/export.md")).content.decode()
    assert "&lt;b>bold&lt;/b> summary" in text
    assert "<img" not in text and "<script" not in text and "<b>" not in text
    assert 'Hi &lt;img src=x onerror="alert(1)"> > quoted' in text
    assert "| REQ-1 | &lt;script>alert(2)&lt;/script> |" in text


def test_print_page(po_client, uc, full_prd):
    response = po_client.get(_url(uc, "prd/print/"))
    page = _text(response)

    assert response.status_code == 200
    assert '<link rel="stylesheet" href="/static/css/prd-print.css">' in page
    assert "<h1>Refund answers: AI PRD</h1>" in page
    assert "<h2>Readiness: Not ready</h2>" in page
    assert "<li>REQ-2: no owner, no verification</li>" in page
    assert "<td>Named human review: Weekly sample (Pat PO)</td>" in page
    assert "Cites the policy<br>section it uses." in page
    assert "Promise refunds | credits." in page
    assert "style=" not in page
    assert "<script>" not in page and "hx-" not in page


# --- Untrusted text stays text


def test_user_text_is_escaped_everywhere(po_client, po_a, uc):
    payload = '<img src=x onerror=alert(1)><div hx-get="/x">'
    actor = _actor(po_a)
    services.prd_save(
        actor=actor, use_case=uc, sections=_sections(user_goal=payload), summary=payload
    )
    services.requirement_add(actor=actor, use_case=uc, data={"statement": payload})
    escaped = "&lt;img src=x onerror=alert(1)&gt;&lt;div hx-get=&quot;/x&quot;&gt;"
    for tail in ["prd/", "prd/print/", "prd/versions/", "prd/versions/?a=1&b=2", "traceability/"]:
        page = _text(po_client.get(_url(uc, tail)))
        assert payload not in page, tail
        assert escaped in page, tail


# --- Permissions


def test_viewer_reads_every_page_without_edit_controls(
    client, org_a, member_factory, po_a, uc, full_prd
):
    viewer = member_factory(org_a, Role.VIEWER)
    client.force_login(viewer.user)
    for tail in ["prd/", "prd/versions/", "prd/export.md", "prd/print/", "traceability/"]:
        assert client.get(_url(uc, tail)).status_code == 200, tail
    page = _text(client.get(_url(uc)))
    assert "<form" not in page.split('<main id="main"')[1]
    assert "Edit sections" not in page
    # ?edit=1 shows no form to a viewer either
    assert "<textarea" not in _text(client.get(_url(uc) + "?edit=1"))


def test_viewer_cannot_save_the_prd(client, org_a, member_factory, uc):
    viewer = member_factory(org_a, Role.VIEWER)
    client.force_login(viewer.user)
    response = client.post(_url(uc), {**_sections(user_goal="x"), "summary": "s"})
    assert response.status_code == 403
    assert Prd.objects.for_org(org_a).count() == 0


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.PRODUCT_OWNER])
def test_product_editors_can_save(client, org_a, member_factory, uc, role):
    member = member_factory(org_a, role)
    client.force_login(member.user)
    response = client.post(_url(uc), {**_sections(user_goal="x"), "summary": "s"})
    assert response.status_code == 302


@pytest.mark.parametrize("role", [Role.ENGINEER, Role.SME, Role.REVIEWER, Role.VIEWER])
def test_other_roles_cannot_save(client, org_a, member_factory, uc, role):
    member = member_factory(org_a, role)
    client.force_login(member.user)
    assert client.post(_url(uc), {**_sections(), "summary": "s"}).status_code == 403
    assert client.post("/o/org-a/use-cases/prd-template/", _sections()).status_code == 403


def test_non_member_gets_404_on_every_prd_page(client, org_b, member_factory, uc, full_prd):
    outsider = member_factory(org_b, Role.OWNER)
    client.force_login(outsider.user)
    for tail in ["prd/", "prd/versions/", "prd/export.md", "prd/print/", "traceability/"]:
        assert client.get(_url(uc, tail)).status_code == 404, tail
    assert client.post(_url(uc), {**_sections(), "summary": "s"}).status_code == 404
    assert client.get("/o/org-a/use-cases/prd-template/").status_code == 404


# --- Query counts


def _fill(uc, owner_membership, count: int) -> None:
    actor = _actor(owner_membership)
    existing = uc.requirements.count()
    for i in range(existing, count):
        r = services.requirement_add(
            actor=actor,
            use_case=uc,
            data={
                "statement": f"Behavior {i}",
                "launch_blocking": i % 2 == 0,
                "owner": owner_membership.user_id if i % 3 else None,
            },
        )
        if i % 4:
            services.verification_add(
                actor=actor,
                requirement=r,
                kind="human_review",
                name=f"Review {i}",
                owner=owner_membership.user_id,
            )


@pytest.mark.parametrize(
    "tail",
    [
        "prd/",
        "prd/?edit=1",
        "traceability/",
        "prd/print/",
        "prd/export.md",
        "prd/versions/",
        "prd/versions/?a=1&b=2",
    ],
)
def test_pages_issue_a_constant_number_of_queries(
    po_client, po_a, uc, tail, django_assert_num_queries
):
    _fill(uc, po_a, 2)
    with CaptureQueriesContext(connection) as with_2:
        assert po_client.get(_url(uc, tail)).status_code == 200

    _fill(uc, po_a, 20)
    with django_assert_num_queries(len(with_2)):
        response = po_client.get(_url(uc, tail))
    assert response.status_code == 200


def test_prd_page_with_2_and_20_requirements_issues_the_same_queries(
    po_client, po_a, uc, django_assert_num_queries
):
    _fill(uc, po_a, 2)
    with CaptureQueriesContext(connection) as with_2:
        page = _text(po_client.get(_url(uc)))
    assert page.count('<li id="req-') == 2

    _fill(uc, po_a, 20)
    with django_assert_num_queries(len(with_2)):
        page = _text(po_client.get(_url(uc)))
    assert page.count('<li id="req-') == 20
    # 11 reads (one per verification provider), and the session touch of the idle timeout
    assert len(with_2) <= 14
