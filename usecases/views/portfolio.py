"""The portfolio: every active use case ranked, the value/feasibility chart, the CSV
export, and the organization's priority weights."""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, F, IntegerField, Value, When
from django.db.models.functions import TruncDate
from django.shortcuts import redirect

from genai_po.base_views import OrgView
from genai_po.csv_export import csv_response, safe_cell
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from usecases import charts, scoring, selectors, services
from usecases.forms import member_choices
from usecases.models import STAGE_ORDER, Criterion, RiskTier, Stage
from usecases.portfolio_forms import PortfolioFilterForm, WeightsForm

PAGE_SIZE = 50
SCORE_FIELDS = tuple(f"score_{c.value}" for c in Criterion)
# One query reads every filtered row: the page, the count and the chart come from it.
ROW_FIELDS = (
    "number", "title", "owner__full_name", "owner__email", "stage", "risk_tier", "status",
    "user_count", "updated_on", "priority_score", *SCORE_FIELDS,
)  # fmt: skip
# Ordinal positions, so that sorting follows the lifecycle and the severity, not the alphabet.
_POSITIONS = {
    "stage": STAGE_ORDER,
    "risk_tier": list(RiskTier.values),
}
# Columns before the scores: (sort key of selectors.SORTS or None, label, direction of
# that sort, numeric). Value and feasibility are the chart's axes: the table is its data.
COLUMNS = [
    ("rank", "Rank", "descending", False),
    ("key", "Key", "ascending", False),
    ("title", "Title", "ascending", False),
    (None, "Priority", None, False),
    (None, "Value", None, True),
    (None, "Feasibility", None, True),
    ("stage", "Stage", "ascending", False),
    ("risk", "Risk tier", "ascending", False),
    (None, "Owner", None, False),
    ("users", "Users", "descending", True),
    ("updated", "Updated", "descending", False),
]
SCORE_HEADERS = [
    (c.value, label, c.label)
    for c, label in zip(Criterion, ("Vol.", "Own.", "Obs.", "Risk", "Ctx.", "Reuse"), strict=True)
]


def _ordering(sort: str) -> list:
    """`selectors.SORTS[sort]` as SQL: empty values last in both directions (PostgreSQL
    puts NULL first in a descending sort), stages in lifecycle order, risk by severity."""
    ordering = []
    for term in selectors.SORTS.get(sort, selectors.SORTS["rank"]):
        if not isinstance(term, str):
            ordering.append(term)
            continue
        name = term.lstrip("-")
        if name in _POSITIONS:
            expression = Case(
                *(When(**{name: v}, then=Value(i)) for i, v in enumerate(_POSITIONS[name])),
                output_field=IntegerField(),
            )
        else:
            expression = F(name)
        if term.startswith("-"):
            ordering.append(expression.desc(nulls_last=True))
        else:
            ordering.append(expression.asc(nulls_last=True))
    return ordering


class _Ranking:
    """Ranks among the organization's ranked (scored, not archived) use cases, numbered
    as SQL RANK() and `selectors.rank_expression` do: 1 + how many score higher."""

    def __init__(self, scores):
        self._ascending = sorted(scores)

    def __len__(self) -> int:
        return len(self._ascending)

    def rank(self, score: Decimal) -> int:
        return len(self._ascending) - bisect_right(self._ascending, score) + 1

    def tied(self, score: Decimal) -> bool:
        """Another use case has the same score, hence the same rank."""
        return bisect_right(self._ascending, score) - bisect_left(self._ascending, score) > 1


def _portfolio(organization, filters: dict):
    """The filtered rows, sorted, as named tuples of ROW_FIELDS."""
    use_cases = selectors.use_cases_filtered(organization=organization, **filters)
    # The day is all the table shows: a date costs far less to read than a datetime.
    use_cases = use_cases.annotate(updated_on=TruncDate("updated_at"))
    return use_cases.order_by(*_ordering(filters["sort"])).values_list(*ROW_FIELDS, named=True)


def _ranking(organization, filters: dict, rows: list | None = None) -> _Ranking:
    """The organization-wide ranking, whatever the filters: filtering by owner must not
    make someone's third use case "rank 1". Unfiltered rows are all it takes; with a
    filter, one query reads every ranked score (the per-row subquery of
    `selectors.rank_expression` costs far more over a thousand rows)."""
    if rows is not None and not (filters["stage"] or filters["owner"] or filters["q"]):
        return _Ranking(r.priority_score for r in rows if r.priority_score is not None)
    every = selectors.use_cases_filtered(organization=organization).filter(
        priority_score__isnull=False
    )
    return _Ranking(every.values_list("priority_score", flat=True).order_by())


@dataclass(frozen=True)
class PortfolioRow:
    """One line of the ranking table, ready to show."""

    number: int
    key: str
    title: str
    owner: str
    stage: str
    risk_tier: str
    user_count: int | None
    updated_on: date
    priority_score: Decimal | None
    rank: int | None
    tied: bool
    scores: tuple[int | None, ...]  # in Criterion order
    value: float | None
    feasibility: float | None

    @property
    def stage_label(self) -> str:
        return Stage(self.stage).label

    @property
    def risk_label(self) -> str:
        return RiskTier(self.risk_tier).label

    @property
    def scored(self) -> int:
        return sum(s is not None for s in self.scores)

    @property
    def not_ranked_label(self) -> str:
        return f"not ranked: {self.scored}/{len(self.scores)} scored"


def _row(r, ranking: _Ranking) -> PortfolioRow:
    scores = {c.value: getattr(r, f"score_{c.value}") for c in Criterion}
    ranked = r.priority_score is not None
    return PortfolioRow(
        number=r.number,
        key=charts.use_case_key(r.number),
        title=r.title,
        owner=r.owner__full_name or r.owner__email or "",
        stage=r.stage,
        risk_tier=r.risk_tier,
        user_count=r.user_count,
        updated_on=r.updated_on,
        priority_score=r.priority_score,
        rank=ranking.rank(r.priority_score) if ranked else None,
        tied=ranked and ranking.tied(r.priority_score),
        scores=tuple(scores.values()),
        value=charts.value_of(scores),
        feasibility=charts.feasibility_of(scores),
    )


def _chart_points(rows: list, ranking: _Ranking) -> list[charts.ChartPoint]:
    """Every ranked row of the filtered set (not only the page), in rank order."""
    ranked = sorted(
        (r for r in rows if r.priority_score is not None),
        key=lambda r: (-r.priority_score, r.number),
    )
    return charts.portfolio_points(ranked, ranking.rank)


def _query(filters: dict, **changes) -> str:
    """The query string of these filters (without defaults), with some changed."""
    params = {**filters, **changes}
    return urlencode({k: v for k, v in params.items() if v not in (None, "") and
                      not (k == "sort" and v == "rank")})  # fmt: skip


class PortfolioView(OrgView):
    """The ranking table (paginated) and the chart (every ranked use case) of the
    filtered portfolio, from one query of its rows."""

    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        form = PortfolioFilterForm(request.GET)
        filters = form.filters()
        rows = list(_portfolio(org, filters))
        ranking = _ranking(org, filters, rows)
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        page.object_list = [_row(r, ranking) for r in page.object_list]
        points = _chart_points(rows, ranking)
        sort = filters["sort"]
        columns = [
            {
                "label": label,
                "href": "?" + _query(filters, sort=key) if key else None,
                "aria_sort": direction if key == sort else None,
                "numeric": numeric,
            }
            for key, label, direction, numeric in COLUMNS
        ]
        context = {
            "filters": filters,
            "ignored": list(form.errors),
            "stages": Stage.choices,
            "owners": member_choices(org)[1:],
            "page": page,
            "total": len(rows),
            "ranked": len(points),
            "ranked_total": len(ranking),
            "columns": columns,
            "score_headers": SCORE_HEADERS,
            "figure": charts.portfolio_figure(points),
            "size_note": charts.SIZE_NOTE,
            "any_filter": bool(filters["stage"] or filters["owner"] or filters["q"]),
            "query": _query(filters),
            "can_manage_weights": role_can(request.role, Action.MANAGE_ORG),
            "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
        }
        return render_page(request, "usecases/portfolio.html", context)


CSV_COLUMNS = [
    "key", "title", "owner_email", "stage", "risk_tier", "status", "user_count",
    *SCORE_FIELDS, "priority_score", "rank",
]  # fmt: skip


class PortfolioExportView(OrgView):
    """The filtered rows of the portfolio, all of them, as CSV."""

    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        filters = PortfolioFilterForm(request.GET).filters()
        ranking = _ranking(org, filters)
        rows = _portfolio(org, filters)
        lines = (
            [
                charts.use_case_key(r.number), safe_cell(r.title), safe_cell(r.owner__email),
                r.stage, r.risk_tier, r.status, _blank(r.user_count),
                *(_blank(getattr(r, f)) for f in SCORE_FIELDS), _blank(r.priority_score),
                ranking.rank(r.priority_score) if r.priority_score is not None else "",
            ]
            for r in rows.iterator(chunk_size=2000)
        )  # fmt: skip
        return csv_response(lines, header=CSV_COLUMNS, filename=f"portfolio-{org.slug}.csv")


def _blank(value) -> str:
    return "" if value is None else str(value)


class WeightsView(OrgView):
    """The six weights: anyone can read them with the rubric; owners and admins change them."""

    permission = {"GET": Action.VIEW, "POST": Action.MANAGE_ORG}

    def get(self, request):
        form = WeightsForm(initial=scoring.weights_of(request.organization))
        return self._render(request, form)

    def post(self, request):
        form = WeightsForm(request.POST)
        if form.is_valid():
            try:
                services.priority_weights_update(actor=request.actor, weights=form.weights())
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, "Weights saved. Every use case was re-ranked with them.")
                return redirect("portfolio", org_slug=request.organization.slug)
        return self._render(request, form, status=400)

    def _render(self, request, form, status: int = 200):
        weights = form.initial if not form.is_bound else {}
        total = sum(weights.values()) if weights else 0
        rows = [
            {
                "field": form[c.value],
                "share": round(100 * weights[c.value] / total) if total else None,
            }
            for c in Criterion
        ]
        context = {
            "form": form,
            "rows": rows,
            "can_edit": role_can(request.role, Action.MANAGE_ORG),
        }
        return render_page(request, "usecases/weights.html", context, status=status)
