"""The portfolio page, its CSV export and chart, and the priority weights."""

import csv
import io
import json
import re
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from genai_po.models import AuditEvent
from genai_po.roles import Role
from tests.factories import MembershipFactory, UserFactory
from tests.factories.usecases import UseCaseFactory
from usecases import charts, scoring
from usecases.models import PriorityWeights, RiskTier, Stage, UseCase

pytestmark = pytest.mark.django_db

URL = "/o/org-a/use-cases/portfolio/"
CSV_URL = "/o/org-a/use-cases/portfolio.csv"
WEIGHTS_URL = "/o/org-a/use-cases/weights/"
CRITERIA = ("volume", "owner", "observable", "risk", "context", "reuse")


def _uc(org, number, title=None, scores=None, **fields):
    """A use case with some of its six scores (in CRITERIA order; None = not scored)."""
    scores = dict(zip(CRITERIA, scores or (None,) * 6, strict=True))
    return UseCaseFactory(
        organization=org,
        number=number,
        title=title or f"Use case {number}",
        **{f"score_{c}": v for c, v in scores.items()},
        **fields,
    )


def _rank(org):
    """Priority scores as the scoring service keeps them, with the org's weights."""
    scoring.recompute_all(org, scoring.weights_of(org))


def _keys(response) -> list[str]:
    return [row.key for row in response.context["page"].object_list]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _bubbles(figure: dict) -> list[dict]:
    """The traces that draw use cases (the others are legend keys)."""
    return [t for t in figure["data"] if "customdata" in t]


def _legend(figure: dict) -> list[str]:
    return [t["name"] for t in figure["data"] if t.get("showlegend", True)]


def _figure(response) -> dict:
    html = response.content.decode()
    found = re.search(r'<script id="portfolio-figure" type="application/json">(.*?)</script>', html)
    assert found, "the figure is embedded with json_script"
    return json.loads(found.group(1))


@pytest.fixture
def po(org_a, member_factory):
    return member_factory(org_a, Role.PRODUCT_OWNER, email="po@example.com", full_name="Pat Owner")


@pytest.fixture
def client_po(client, po):
    client.force_login(po.user)
    return client


# --- Ranking, ties, unranked


def test_rows_follow_the_rank_ties_share_it_and_unranked_come_last(client_po, org_a):
    _uc(org_a, 1, "Partly scored", (5, 5, 5, None, None, None))
    _uc(org_a, 2, "Tied B", (4, 4, 4, 4, 4, 4))
    _uc(org_a, 3, "Top", (5, 5, 5, 5, 5, 5))
    _uc(org_a, 4, "Tied A", (4, 4, 4, 4, 4, 4))
    _uc(org_a, 5, "Not scored")
    _uc(org_a, 6, "Low", (1, 2, 1, 1, 1, 1))
    _rank(org_a)

    response = client_po.get(URL)

    rows = response.context["page"].object_list
    assert response.status_code == 200
    assert [(r.key, r.rank, r.tied) for r in rows] == [
        ("UC-3", 1, False),
        ("UC-2", 2, True),
        ("UC-4", 2, True),
        ("UC-6", 4, False),
        ("UC-1", None, False),
        ("UC-5", None, False),
    ]
    assert [r.priority_score for r in rows[:4]] == [
        Decimal("5.000"), Decimal("4.000"), Decimal("4.000"), Decimal("1.167")
    ]  # fmt: skip
    html = response.content.decode()
    assert '<td class="unranked muted">not ranked: 3/6 scored</td>' in html
    assert '<td class="unranked muted">not ranked: 0/6 scored</td>' in html
    assert html.count('<small class="muted">tie</small>') == 2
    assert response.context["ranked_total"] == 4


def test_the_rank_stays_the_organizations_when_the_table_is_filtered(
    client_po, org_a, po, member_factory
):
    other = member_factory(org_a, Role.PRODUCT_OWNER)
    _uc(org_a, 1, scores=(5, 5, 5, 5, 5, 5), owner=other.user)
    _uc(org_a, 2, scores=(4, 4, 4, 4, 4, 4), owner=po.user)
    _uc(org_a, 3, scores=(3, 3, 3, 3, 3, 3), owner=po.user)
    _rank(org_a)

    response = client_po.get(URL, {"owner": po.user_id})

    assert [(r.key, r.rank) for r in response.context["page"].object_list] == [
        ("UC-2", 2),
        ("UC-3", 3),
    ]
    assert "3 ranked in the whole organization" in response.content.decode()


def test_archived_use_cases_are_not_in_the_portfolio_nor_in_the_rank(client_po, org_a):
    _uc(org_a, 1, scores=(5, 5, 5, 5, 5, 5), archived_at=timezone.now())
    _uc(org_a, 2, scores=(4, 4, 4, 4, 4, 4))
    _rank(org_a)

    response = client_po.get(URL)

    assert [(r.key, r.rank) for r in response.context["page"].object_list] == [("UC-2", 1)]


def test_only_the_organizations_use_cases_are_shown(client_po, org_a, org_b):
    _uc(org_a, 1, "Ours", (3, 3, 3, 3, 3, 3))
    _uc(org_b, 1, "Theirs", (5, 5, 5, 5, 5, 5))
    _rank(org_a)
    _rank(org_b)

    response = client_po.get(URL)

    assert [(r.title, r.rank) for r in response.context["page"].object_list] == [("Ours", 1)]
    assert "Theirs" not in response.content.decode()


# --- Sorting


@pytest.fixture
def sortable(org_a):
    now = timezone.now()
    made = [
        _uc(org_a, 1, "Delta", (2, 2, 2, 2, 2, 2), stage=Stage.MONITOR,
            risk_tier=RiskTier.UNACCEPTABLE, user_count=None),
        _uc(org_a, 2, "Alpha", (5, 5, 5, 5, 5, 5), stage=Stage.DISCOVER,
            risk_tier=RiskTier.HIGH, user_count=10),
        _uc(org_a, 3, "Charlie", None, stage=Stage.DEPLOY,
            risk_tier=RiskTier.MINIMAL, user_count=3000),
        _uc(org_a, 4, "Bravo", (3, 3, 3, 3, 3, 3), stage=Stage.PROTOTYPE,
            risk_tier=RiskTier.LIMITED, user_count=200),
    ]  # fmt: skip
    _rank(org_a)
    for days, uc in zip((3, 1, 4, 2), made, strict=True):
        UseCase.objects.for_org(org_a).filter(pk=uc.pk).update(
            updated_at=now - timedelta(days=days)
        )
    return made


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("rank", ["UC-2", "UC-4", "UC-1", "UC-3"]),  # unranked last, also on PostgreSQL
        ("key", ["UC-1", "UC-2", "UC-3", "UC-4"]),
        ("title", ["UC-2", "UC-4", "UC-3", "UC-1"]),
        ("stage", ["UC-2", "UC-4", "UC-3", "UC-1"]),  # lifecycle order, not alphabetical
        ("risk", ["UC-3", "UC-4", "UC-2", "UC-1"]),  # by severity
        ("users", ["UC-3", "UC-4", "UC-2", "UC-1"]),  # most first, unknown last
        ("updated", ["UC-2", "UC-4", "UC-1", "UC-3"]),  # most recent first
        ("nonsense", ["UC-2", "UC-4", "UC-1", "UC-3"]),  # falls back to the rank
    ],
)
def test_sorting(client_po, sortable, sort, expected):
    response = client_po.get(URL, {"sort": sort})

    assert response.status_code == 200
    assert _keys(response) == expected


def test_the_sorted_column_is_marked_and_sort_links_keep_the_filters(client_po, sortable):
    response = client_po.get(URL, {"sort": "title", "stage": "prototype", "q": "bra"})

    html = response.content.decode()
    title_link = '<a href="?stage=prototype&amp;q=bra&amp;sort=title">Title</a>'
    assert f'<th scope="col" aria-sort="ascending">{title_link}</th>' in html
    assert '<th scope="col"><a href="?stage=prototype&amp;q=bra">Rank</a></th>' in html
    assert html.count("aria-sort=") == 1
    assert '<input type="hidden" name="sort" value="title">' in html


# --- Filters and search


@pytest.fixture
def filterable(org_a, po, member_factory):
    sam = member_factory(org_a, Role.PRODUCT_OWNER, email="sam@example.com")
    _uc(org_a, 1, "Refund answers", (5, 5, 5, 5, 5, 5), stage=Stage.EVALUATE, owner=po.user)
    _uc(org_a, 2, "Ticket triage", (4, 4, 4, 4, 4, 4), stage=Stage.DISCOVER, owner=sam.user,
        department="Refunds desk")  # fmt: skip
    _uc(org_a, 3, "Invoice lookup", (3, 3, 3, 3, 3, 3), stage=Stage.EVALUATE, owner=sam.user,
        problem="Finding a refund invoice takes minutes.")  # fmt: skip
    _uc(org_a, 4, "Onboarding", None, stage=Stage.EVALUATE, owner=None, problem="")
    _rank(org_a)
    return sam


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"stage": "evaluate"}, ["UC-1", "UC-3", "UC-4"]),
        ({"stage": "deploy"}, []),
        ({"q": "refund"}, ["UC-1", "UC-2", "UC-3"]),  # title, department, problem
        ({"q": "  TRIAGE "}, ["UC-2"]),
        ({"q": "refund", "stage": "evaluate"}, ["UC-1", "UC-3"]),
        ({}, ["UC-1", "UC-2", "UC-3", "UC-4"]),
    ],
)
def test_filters_and_search(client_po, filterable, params, expected):
    response = client_po.get(URL, params)

    assert _keys(response) == expected


def test_filter_by_owner(client_po, filterable, po):
    mine = client_po.get(URL, {"owner": po.user_id})
    sams = client_po.get(URL, {"owner": filterable.user_id, "stage": "evaluate"})

    assert _keys(mine) == ["UC-1"]
    assert _keys(sams) == ["UC-3"]


def test_owner_choices_are_the_organizations_members(client_po, org_a, org_b, po, filterable):
    member_factory_user = UserFactory(email="idle@example.com", full_name="Idle Member")
    MembershipFactory(organization=org_a, user=member_factory_user, role=Role.VIEWER)
    MembershipFactory(organization=org_b, user=UserFactory(email="outsider@example.com"))

    response = client_po.get(URL, {"owner": po.user_id})

    html = response.content.decode()
    assert f'<option value="{po.user_id}" selected>Pat Owner</option>' in html
    assert f'<option value="{member_factory_user.pk}">Idle Member</option>' in html
    assert "outsider@example.com" not in html


def test_another_organizations_user_as_owner_filter_shows_nothing(
    client_po, org_a, org_b, filterable
):
    outsider = MembershipFactory(organization=org_b, role=Role.OWNER).user
    _uc(org_b, 9, "Theirs", (5, 5, 5, 5, 5, 5), owner=outsider)

    response = client_po.get(URL, {"owner": outsider.pk})

    assert _keys(response) == []
    assert "No use case matches these filters." in response.content.decode()


def test_filters_not_understood_are_ignored_and_said_so(client_po, filterable):
    response = client_po.get(URL, {"stage": "launched", "owner": "me", "q": "refund"})

    assert _keys(response) == ["UC-1", "UC-2", "UC-3"]
    html = response.content.decode()
    assert "Some filters were not understood and were ignored: stage, owner." in html


# --- Pagination, chart data, empty states


def test_fifty_rows_a_page_and_the_chart_shows_every_ranked_use_case(client_po, org_a):
    for n in range(1, 56):
        _uc(org_a, n, scores=(1 + n % 5, 3, 3, 3, 3, 3) if n <= 53 else None)
    _rank(org_a)

    first = client_po.get(URL)
    second = client_po.get(URL, {"page": 2})

    assert len(first.context["page"].object_list) == 50
    assert [r.key for r in second.context["page"].object_list][-2:] == ["UC-54", "UC-55"]
    assert len(second.context["page"].object_list) == 5
    assert 'href="?page=2"' in first.content.decode()
    for response in (first, second):
        figure = _figure(response)
        assert sum(len(trace["x"]) for trace in _bubbles(figure)) == 53
        assert response.context["ranked"] == 53


def test_the_chart_is_embedded_as_data_and_the_table_holds_its_data(client_po, org_a):
    _uc(org_a, 1, "Refund answers", (5, 4, 3, 4, 2, 3), risk_tier=RiskTier.HIGH, user_count=40)
    _uc(org_a, 2, "Triage", (2, 2, 2, 2, 2, 2), risk_tier=RiskTier.MINIMAL)
    _rank(org_a)

    response = client_po.get(URL)

    html = response.content.decode()
    figure = _figure(response)
    assert [t["name"] for t in _bubbles(figure)] == ["Minimal risk", "High risk"]
    assert _legend(figure) == ["Minimal risk", "High risk", "Hollow: no user count"]
    high = _bubbles(figure)[1]
    assert (high["x"], high["y"]) == ([4.0], [3.25])
    assert high["customdata"][0][:4] == ["UC-1", "Refund answers", "3.667", 1]
    assert 'data-plotly-figure="portfolio-figure"' in html
    assert _bubbles(figure)[0]["customdata"][0][4] == "no user count; volume score 2/5"
    # The ranking table holds the chart's data: value, feasibility, users, risk tier.
    first = response.context["page"].object_list[0]
    assert (first.key, first.value, first.feasibility) == ("UC-1", 4.0, 3.25)
    assert re.search(
        r"UC-1</a></td>\s*<td class=\"wrap\">Refund answers</td>\s*<td>3.667</td>\s*"
        r"<td class=\"num\">4.00</td>\s*<td class=\"num\">3.25</td>\s*<td>Evaluate|Discover",
        html,
    )
    assert re.search(r'<span class="risk risk-high">High</span></td>\s*<td class="wrap">—</td>'
                     r'\s*<td class="num">40</td>', html)  # fmt: skip
    # Strict CSP: every script is a file of ours or a JSON data block.
    for tag in re.findall(r"<script[^>]*>", html):
        assert ' src="/static/' in tag or 'type="application/json"' in tag, tag
    assert 'src="/static/js/charts.js"' in html
    assert html.index("js/charts.js") < html.index("plotly-4.1.1.min.js")


def test_user_text_is_escaped_in_the_table_and_the_figure(client_po, org_a):
    _uc(org_a, 1, "</script><script>alert(1)</script>", (3, 3, 3, 3, 3, 3))
    _rank(org_a)

    response = client_po.get(URL)

    html = response.content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Plotly reads hover text as HTML: the title reaches it escaped.
    assert _bubbles(_figure(response))[0]["customdata"][0][1] == (
        "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    )


def test_empty_portfolio(client_po):
    response = client_po.get(URL)

    html = response.content.decode()
    assert "No use cases yet." in html
    assert "Write the first brief" in html
    assert "data-plotly-figure" not in html
    assert "plotly-4.1.1.min.js" not in html  # 4.8 MB not loaded for nothing
    assert "Export CSV" not in html


def test_use_cases_but_none_ranked_yet(client_po, org_a):
    _uc(org_a, 1, "Refund answers", (5, 4, None, None, None, None))

    response = client_po.get(URL)

    html = response.content.decode()
    assert "None ranked yet." in html
    assert "data-plotly-figure" not in html
    assert response.context["figure"] is None
    assert _keys(response) == ["UC-1"]
    assert "not ranked: 2/6 scored" in html


def test_a_viewer_sees_the_portfolio_without_edit_links(client, org_a, member_factory):
    viewer = member_factory(org_a, Role.VIEWER)
    client.force_login(viewer.user)

    response = client.get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "See the weights" in html
    assert "Change the weights" not in html
    assert "Write the first brief" not in html


# --- Query counts


# user, organization, membership, the org switcher, the owner drop-down, the rows, and
# the session save (SAVEPOINT, UPDATE, RELEASE in a test; the UPDATE alone in production);
# with a filter, the organization's scores too, for the organization-wide rank.
QUERIES = 9


@pytest.mark.parametrize(
    ("params", "expected"),
    [("", QUERIES), ("?stage=evaluate&q=case", QUERIES + 1), ("?sort=title&page=2", QUERIES)],
)
def test_the_page_issues_a_constant_number_of_queries(
    client_po, org_a, po, django_assert_num_queries, params, expected
):
    for n in range(1, 4):
        _uc(org_a, n, scores=(3, 3, 3, 3, 3, n), stage=Stage.EVALUATE, owner=po.user)
    _rank(org_a)
    client_po.get(URL)  # warm the session
    with django_assert_num_queries(expected):
        client_po.get(URL + params)

    for n in range(4, 41):
        _uc(org_a, n, scores=(n % 5 + 1, 3, 3, 3, 3, 3) if n % 4 else None,
            stage=Stage.EVALUATE, owner=po.user, user_count=n * 10)  # fmt: skip
    _rank(org_a)
    with django_assert_num_queries(expected):
        response = client_po.get(URL + params)

    assert response.context["total"] == 40
    assert response.context["ranked"] == 30


# --- CSV export

CSV_HEADER = [
    "key", "title", "owner_email", "stage", "risk_tier", "status", "user_count",
    "score_volume", "score_owner", "score_observable", "score_risk", "score_context",
    "score_reuse", "priority_score", "rank",
]  # fmt: skip


def _csv(response) -> list[list[str]]:
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_has_every_filtered_row_in_the_tables_order(client_po, filterable, po):
    response = client_po.get(CSV_URL, {"stage": "evaluate", "sort": "key"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="portfolio-org-a.csv"'
    assert _csv(response) == [
        CSV_HEADER,
        ["UC-1", "Refund answers", "po@example.com", "evaluate", "limited", "proposed", "",
         "5", "5", "5", "5", "5", "5", "5.000", "1"],
        ["UC-3", "Invoice lookup", "sam@example.com", "evaluate", "limited", "proposed", "",
         "3", "3", "3", "3", "3", "3", "3.000", "3"],
        ["UC-4", "Onboarding", "", "evaluate", "limited", "proposed", "",
         "", "", "", "", "", "", "", ""],
    ]  # fmt: skip


def test_csv_export_is_not_paginated(client_po, org_a):
    for n in range(1, 61):
        _uc(org_a, n)

    rows = _csv(client_po.get(CSV_URL))

    assert len(rows) == 61


def test_csv_cells_are_safe_from_formula_injection(client_po, org_a):
    evil = UserFactory(email="=cmd@example.com")
    MembershipFactory(organization=org_a, user=evil, role=Role.PRODUCT_OWNER)
    _uc(org_a, 1, '=HYPERLINK("http://evil.example","x")', owner=evil, user_count=7)
    _uc(org_a, 2, "+1 more")
    _uc(org_a, 3, "-2 days")
    _uc(org_a, 4, "@SUM(A1)")
    _uc(org_a, 5, "\tTabbed")
    _uc(org_a, 6, "Plain = fine")

    rows = _csv(client_po.get(CSV_URL, {"sort": "key"}))

    assert [(r[0], r[1], r[2], r[6]) for r in rows[1:]] == [
        ("UC-1", '\'=HYPERLINK("http://evil.example","x")', "'=cmd@example.com", "7"),
        ("UC-2", "'+1 more", "", ""),
        ("UC-3", "'-2 days", "", ""),
        ("UC-4", "'@SUM(A1)", "", ""),
        ("UC-5", "'\tTabbed", "", ""),
        ("UC-6", "Plain = fine", "", ""),
    ]


def test_csv_link_carries_the_filters(client_po, filterable):
    response = client_po.get(URL, {"stage": "evaluate", "sort": "title"})

    assert 'href="/o/org-a/use-cases/portfolio.csv?stage=evaluate&amp;sort=title"' in (
        response.content.decode()
    )


# --- Weights


def test_anyone_can_read_the_weights_with_each_criterions_rubric(client, org_a, member_factory):
    viewer = member_factory(org_a, Role.VIEWER)
    client.force_login(viewer.user)

    response = client.get(WEIGHTS_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert (
        "1: rare, cheap annoyance · 3: weekly pain for a team · 5: high-volume or costly daily pain"
        in html
    )  # noqa: E501
    assert "1: one-off · 3: reusable in one department · 5: narrow launch, then many teams" in html
    assert 'name="volume"' not in html
    assert "Save and re-rank" not in html
    assert "Only owners and admins" in html
    # Default weights 3, 2, 2, 2, 2, 1: shares of 12.
    assert re.findall(r'<td class="num">(\d+)%</td>', html) == ["25", "17", "17", "17", "17", "8"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PRODUCT_OWNER, Role.ENGINEER, Role.SME])
def test_only_owners_and_admins_change_the_weights(client, org_a, member_factory, role):
    member = member_factory(org_a, role)
    client.force_login(member.user)

    response = client.post(WEIGHTS_URL, dict.fromkeys(CRITERIA, "5"))

    assert response.status_code == 403
    assert not PriorityWeights.objects.for_org(org_a).exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owners_and_admins_change_the_weights_and_the_portfolio_is_re_ranked(
    client, org_a, member_factory, role
):
    boss = member_factory(org_a, role)
    client.force_login(boss.user)
    # Volume-heavy A leads with the default weights; context-heavy B with the new ones.
    _uc(org_a, 1, "A", (5, 1, 1, 1, 1, 1))
    _uc(org_a, 2, "B", (1, 1, 1, 1, 5, 1))
    _rank(org_a)
    before = client.get(URL)
    assert [(r.key, r.priority_score) for r in before.context["page"].object_list] == [
        ("UC-1", Decimal("2.000")),
        ("UC-2", Decimal("1.667")),
    ]

    response = client.post(WEIGHTS_URL, {"volume": "0", "owner": "1", "observable": "1",
                                         "risk": "1", "context": "10", "reuse": "0"})  # fmt: skip

    assert response.status_code == 302
    assert response["Location"] == URL
    assert _messages(response) == ["Weights saved. Every use case was re-ranked with them."]
    assert PriorityWeights.objects.for_org(org_a).get().as_dict() == {
        "volume": 0, "owner": 1, "observable": 1, "risk": 1, "context": 10, "reuse": 0
    }  # fmt: skip
    after = client.get(URL)
    assert [(r.key, r.rank, r.priority_score) for r in after.context["page"].object_list] == [
        ("UC-2", 1, Decimal("4.077")),
        ("UC-1", 2, Decimal("1.000")),
    ]
    assert AuditEvent.objects.for_org(org_a).filter(action="priority_weights.update").count() == 1


@pytest.mark.parametrize(
    ("posted", "field", "message"),
    [
        (dict.fromkeys(CRITERIA, "0"), None, "At least one weight must be above 0."),
        ({**dict.fromkeys(CRITERIA, "2"), "risk": "11"}, "risk", "Give a weight from 0 to 10."),
        ({**dict.fromkeys(CRITERIA, "2"), "owner": "-1"}, "owner", "Give a weight from 0 to 10."),
        ({**dict.fromkeys(CRITERIA, "2"), "reuse": "2.5"}, "reuse",
         "Give a whole number from 0 to 10."),
        ({c: "2" for c in CRITERIA if c != "context"}, "context", "Give a weight from 0 to 10."),
    ],
    ids=["all-zero", "above-10", "negative", "not-whole", "missing"],
)  # fmt: skip
def test_invalid_weights_are_refused_and_nothing_changes(
    client, org_a, owner_a, posted, field, message
):
    client.force_login(owner_a.user)
    use_case = _uc(org_a, 1, scores=(5, 1, 1, 1, 1, 1))
    _rank(org_a)

    response = client.post(WEIGHTS_URL, posted)

    assert response.status_code == 400
    form = response.context["form"]
    errors = form.non_field_errors() if field is None else form.errors[field]
    assert list(errors) == [message]
    html = response.content.decode()
    assert message in html
    assert not PriorityWeights.objects.for_org(org_a).exists()
    use_case.refresh_from_db()
    assert use_case.priority_score == Decimal("2.000")
    assert not AuditEvent.objects.for_org(org_a).filter(action="priority_weights.update").exists()


def test_the_weights_form_shows_the_current_weights(client, org_a, owner_a):
    client.force_login(owner_a.user)
    PriorityWeights.objects.create(organization=org_a, volume=7, owner=0, observable=1,
                                   risk=1, context=1, reuse=0)  # fmt: skip

    response = client.get(WEIGHTS_URL)

    html = response.content.decode()
    assert re.search(r'<input type="number" name="volume" value="7"[^>]*min="0"[^>]*max="10"', html)
    assert 'name="owner" value="0"' in html
    assert "Save and re-rank" in html
    assert re.findall(r'<td class="num">(\d+)%</td>', html) == ["70", "0", "10", "10", "10", "0"]


# --- charts.py


def _chart_row(number, scores, *, risk="limited", users=None, priority="3.000", title=""):
    """A row as `values_list(named=True)` gives it."""
    return SimpleNamespace(
        number=number, title=title or f"Use case {number}", risk_tier=risk, user_count=users,
        priority_score=Decimal(priority) if priority else None,
        **{f"score_{c}": s for c, s in zip(CRITERIA, scores, strict=True)},
    )  # fmt: skip


RANKS = {Decimal("3.667"): 1, Decimal("2.833"): 2, Decimal("2.000"): 3, Decimal("3.000"): 1}


def test_value_and_feasibility_are_the_means_of_their_criteria():
    scores = dict(zip(CRITERIA, (5, 4, 3, 4, 2, 2), strict=True))

    assert charts.value_of(scores) == 3.5  # volume 5, reuse 2
    assert charts.feasibility_of(scores) == 3.25  # owner, observable, risk, context
    assert charts.value_of({**scores, "reuse": None}) is None


def test_points_leave_out_the_unranked_and_size_bubbles_by_users_or_volume():
    points = charts.portfolio_points([
        _chart_row(1, (5, 5, 5, 5, 5, 5), users=400),
        _chart_row(2, (4, 4, 4, 4, 4, 4), users=100),
        _chart_row(3, (4, 1, 1, 1, 1, 4), users=0),
        _chart_row(4, (5, 3, 3, 3, 3, 1), users=None),
        _chart_row(5, (2, 3, 3, 3, 3, None), priority=None),
    ], RANKS.get)  # fmt: skip

    assert [p.key for p in points] == ["UC-1", "UC-2", "UC-3", "UC-4"]
    assert [p.diameter for p in points] == [46.0, 28.0, 10.0, 46.0]
    assert [p.size_label for p in points] == [
        "400 users", "100 users", "0 users", "no user count; volume score 5/5"
    ]  # fmt: skip
    assert [p.sized_by_users for p in points] == [True, True, True, False]
    assert (points[3].value, points[3].feasibility) == (3.0, 3.0)
    assert [p.rank for p in points] == [1, 1, 1, 1]


def test_the_figure_has_a_trace_per_risk_tier_in_order_of_severity():
    points = charts.portfolio_points([
        _chart_row(1, (5, 4, 3, 4, 2, 3), risk="high", users=40, priority="3.667",
                   title='Refunds <b>"now"</b> & more'),
        _chart_row(2, (2, 2, 2, 2, 2, 2), risk="minimal", priority="2.000"),
        _chart_row(3, (3, 3, 3, 3, 3, 1), risk="high", users=10, priority="2.833"),
    ], RANKS.get)  # fmt: skip

    figure = charts.portfolio_figure(points)

    assert [(t["name"], t["legendgroup"], t["marker"]["color"]) for t in figure["data"]] == [
        ("Minimal risk", "minimal", "#009E73"),  # bubbles
        ("Minimal risk", "minimal", "#009E73"),  # its legend key
        ("High risk", "high", "#E69F00"),
        ("High risk", "high", "#E69F00"),
        ("Hollow: no user count", "no-users", "#888888"),
    ]
    assert _legend(figure) == ["Minimal risk", "High risk", "Hollow: no user count"]
    # Legend keys are solid whatever the first bubble of the tier is, and draw nothing.
    keys = [t for t in figure["data"] if "customdata" not in t]
    assert [t["marker"]["symbol"] for t in keys] == ["circle", "circle", "circle-open"]
    assert all(t["x"] == [None] and t["y"] == [None] for t in keys)
    minimal, high = _bubbles(figure)
    assert (high["x"], high["y"]) == ([4.0, 2.0], [3.25, 3.0])
    assert high["customdata"] == [
        ["UC-1", "Refunds &lt;b&gt;&quot;now&quot;&lt;/b&gt; &amp; more", "3.667", 1, "40 users"],
        ["UC-3", "Use case 3", "2.833", 2, "10 users"],
    ]
    assert high["marker"]["symbol"] == ["circle", "circle"]
    # Each bubble carries its key, drawn beside it (few enough bubbles to have room).
    assert (high["mode"], high["text"]) == ("markers+text", ["UC-1", "UC-3"])
    assert minimal["marker"]["symbol"] == ["circle-open"]
    assert minimal["customdata"][0][4] == "no user count; volume score 2/5"
    assert "%{customdata[0]}" in high["hovertemplate"]
    assert figure["layout"]["xaxis"]["range"] == [0.5, 5.5]
    assert figure["layout"]["xaxis"]["title"]["text"].startswith("Value")
    assert figure["layout"]["yaxis"]["title"]["text"].startswith("Feasibility")
    assert charts.SIZE_NOTE in [a["text"] for a in figure["layout"]["annotations"]]
    assert figure["config"]["displaylogo"] is False
    json.dumps(figure)  # plain JSON types only


def test_no_hollow_legend_key_when_every_use_case_has_a_user_count():
    points = charts.portfolio_points([_chart_row(1, (3, 3, 3, 3, 3, 3), users=5)], RANKS.get)

    assert _legend(charts.portfolio_figure(points)) == ["Limited risk"]


def test_a_crowded_chart_leaves_the_keys_to_the_hover():
    rows = [_chart_row(n, (3, 3, 3, 3, 3, 3), users=5) for n in range(1, 42)]
    (bubbles,) = _bubbles(charts.portfolio_figure(charts.portfolio_points(rows, RANKS.get)))
    assert bubbles["mode"] == "markers" and "text" not in bubbles


def test_no_figure_without_ranked_use_cases():
    assert charts.portfolio_figure([]) is None
