"""The dashboards: the portfolio's and each use case's, their charts as CSV, and the page of
definitions. They read rollups (metrics.dashboard), never raw events."""

from __future__ import annotations

import csv

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect

from evals.models import EvalPlan
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from metrics import charts, dashboard, figures, services
from metrics.models import Alert, OnlineScoring
from usecases.models import UseCase

USE_CASE = {"use_case": Scoped(UseCase, "number")}
REFRESH_SECONDS = 30


class RangeForm(forms.Form):
    range = forms.ChoiceField(
        choices=[("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days"),
                 ("90d", "Last 90 days"), ("", "Custom dates")], required=False,
    )  # fmt: skip
    start = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date", "required": True})
    )
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date", "required": True})
    )


def _span(request):
    """The range asked for, or the default one and the reason the asked one was refused."""
    try:
        return dashboard.parse_range(request.GET), ""
    except dashboard.RangeError as exc:
        return dashboard.parse_range({}), str(exc)


def _range_form(span) -> RangeForm:
    initial = {"range": span.preset} if span.preset else {
        "start": span.first_day, "end": span.last_day
    }  # fmt: skip
    return RangeForm(initial=initial)


def _context(request, board, error: str, builders: dict) -> dict:
    return {
        "board": board,
        "span": board.span,
        "range_form": _range_form(board.span),
        "range_error": error,
        "charts": [build(board) for build in builders.values()],
        "kpis": kpis(board),
        "definitions": figures.BY_KEY,
        "refresh_seconds": REFRESH_SECONDS,
        "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
    }


class PortfolioDashboardView(OrgView):
    """`/metrics/`: every use case with telemetry, side by side, and their sum."""

    permission = Action.VIEW

    def get(self, request):
        span, error = _span(request)
        board = dashboard.board_for(request.organization, None, span)
        context = _context(request, board, error, charts.PORTFOLIO_CHARTS)
        context["rows"] = dashboard.portfolio_rows(request.organization, span)
        for row in context["rows"]:
            row["shown"] = {key: _percent(value) for key, value in row["rates"].items()}
            row["cost_shown"] = _money(row["cost_per_success"], board.currency)
        context["use_cases"] = UseCase.objects.for_org(request.organization).filter(
            archived_at__isnull=True
        ).order_by("number")  # fmt: skip
        context["open_alerts"] = _open_alerts(request.organization)
        context["exporter"] = exporter_settings(request, context["use_cases"].first(), board=board)
        return render_page(
            request,
            "metrics/portfolio.html",
            context,
            partial="board",
            status=400 if error else 200,
        )


def _open_alerts(organization, use_case=None):
    alerts = Alert.objects.for_org(organization).filter(acknowledged_at__isnull=True)
    if use_case is not None:
        alerts = alerts.filter(use_case=use_case)
    return alerts.select_related("rule", "use_case").order_by("-fired_at")[:10]


class OnlineScoringForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=EvalPlan.objects.none(), required=False)
    sample_percent = forms.DecimalField(
        min_value=0.01, max_value=100, decimal_places=2, max_digits=5, initial=10,
        label="Share of interactions scored (%)",
    )  # fmt: skip
    enabled = forms.BooleanField(required=False, initial=True, label="Score production answers")

    def __init__(self, *args, use_case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = EvalPlan.objects.for_org(use_case.organization_id).filter(
            use_case=use_case, archived_at__isnull=True
        ).order_by("name")  # fmt: skip


class ReadingForm(forms.Form):
    measured_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    value = forms.DecimalField(max_digits=14, decimal_places=2)
    note = forms.CharField(max_length=300, required=False)


def exporter_settings(request, use_case, *, board=None) -> dict:
    """What to paste into an OpenTelemetry exporter's environment, for this use case; and,
    for an empty board, whether events came before (outside the range shown)."""
    from django.utils import timezone

    from metrics.models import MetricRollup

    base = settings.SITE_URL.rstrip("/")
    sent_before = False
    if board is not None and not board.has_telemetry:  # from the rollups, as every figure
        rollups = MetricRollup.objects.for_org(request.organization)
        sent_before = (rollups.filter(use_case=use_case) if use_case else rollups).exists()
    return {
        "sent_before": sent_before,
        "example_time": timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "endpoint": f"{base}/otel/v1/traces",
        "events": f"{base}/api/v1/telemetry/events/",
        "env": "\n".join([
            f"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={base}/otel/v1/traces",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS=Authorization=Bearer%20<your telemetry:write token>",
            f"OTEL_RESOURCE_ATTRIBUTES=genai_po.use_case={use_case.key}" if use_case else
            "OTEL_RESOURCE_ATTRIBUTES=genai_po.use_case=UC-1",
        ]),
    }  # fmt: skip


class UseCaseDashboardView(OrgView):
    """`/metrics/use-cases/<n>/`: one use case's adoption, quality, cost, ROI, context and
    evals; refreshed by htmx every 30 seconds and on demand."""

    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}
    scoped_objects = USE_CASE

    def _render(self, request, use_case, *, scoring_form=None, reading_form=None, status=200):
        span, error = _span(request)
        board = dashboard.board_for(request.organization, use_case, span)
        context = _context(request, board, error, charts.USE_CASE_CHARTS)
        config = OnlineScoring.objects.for_org(request.organization).filter(
            use_case=use_case
        ).select_related("plan").first()  # fmt: skip
        context.update({
            "use_case": use_case,
            "scoring": config,
            "scoring_form": scoring_form or OnlineScoringForm(
                use_case=use_case,
                initial={"plan": config.plan_id, "sample_percent": config.sample_percent,
                         "enabled": config.enabled} if config else None,
            ),
            "reading_form": reading_form or ReadingForm(),
            "open_alerts": _open_alerts(request.organization, use_case),
            "exporter": exporter_settings(request, use_case, board=board),
        })  # fmt: skip
        return render_page(
            request, "metrics/dashboard.html", context, partial="board",
            status=400 if error else status,
        )  # fmt: skip

    def get(self, request, use_case):
        return self._render(request, use_case)

    def post(self, request, use_case):
        form_name = request.POST.get("form")
        if form_name == "scoring":
            form = OnlineScoringForm(request.POST, use_case=use_case)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    services.online_scoring_set(
                        actor=request.actor, use_case=use_case, plan=data["plan"],
                        sample_percent=data["sample_percent"], enabled=data["enabled"],
                    )  # fmt: skip
                except ValidationError as exc:
                    errors_into_form(form, exc)
                else:
                    messages.success(
                        request,
                        f"Online scoring of {use_case.key}: "
                        + (f"{data['sample_percent']:g}% of the production answers, by "
                           f"{data['plan'].name}'s scorers." if data["enabled"] else "off."),
                    )  # fmt: skip
                    return redirect("metrics_use_case", request.organization.slug, use_case.number)
            return self._render(request, use_case, scoring_form=form, status=400)
        if form_name == "reading":
            form = ReadingForm(request.POST)
            if form.is_valid():
                try:
                    reading = services.reading_record(
                        actor=request.actor, use_case=use_case, data=form.cleaned_data
                    )
                except ValidationError as exc:
                    errors_into_form(form, exc)
                else:
                    messages.success(
                        request,
                        f"{use_case.metric_name}: {reading.value:g} on {reading.measured_on}.",
                    )
                    return redirect("metrics_use_case", request.organization.slug, use_case.number)
            return self._render(request, use_case, reading_form=form, status=400)
        return self._render(request, use_case, status=400)


def _csv(chart: charts.Chart, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(chart.columns)
    for row in chart.rows:
        writer.writerow(["" if v is None else _safe_cell(v) for v in row])
    return response


def _safe_cell(value):
    """No formula injection: a text cell a spreadsheet would run is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _chart_csv(request, use_case) -> HttpResponse:
    """`?chart=<key>` of the use case's dashboard (or the portfolio's), for the range."""
    builders = charts.USE_CASE_CHARTS if use_case is not None else charts.PORTFOLIO_CHARTS
    chart = request.GET.get("chart") or "outcomes"
    if chart not in builders:
        raise Http404("No such chart.")
    span, _ = _span(request)
    result = builders[chart](dashboard.board_for(request.organization, use_case, span))
    who = use_case.key if use_case is not None else "portfolio"
    return _csv(result, f"{who}-{chart}-{span.first_day}-{span.last_day}.csv")


class UseCaseChartCsvView(OrgView):
    permission = Action.VIEW
    scoped_objects = USE_CASE

    def get(self, request, use_case):
        return _chart_csv(request, use_case)


class PortfolioChartCsvView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        return _chart_csv(request, None)


class DefinitionsView(OrgView):
    """Every metric, its formula and why it matters."""

    permission = Action.VIEW

    def get(self, request):
        return render_page(
            request, "metrics/definitions.html", {"definitions": figures.DEFINITIONS}
        )


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _money(value: float | None, currency: str) -> str:
    if value is None:
        return "—"
    if 0 < abs(value) < 1:
        return f"{value:.4f} {currency}"  # a cost per task is often a fraction of a cent
    return f"{value:,.2f} {currency}"


def _kpi(key: str, value: str, detail: str = "", name: str = "") -> dict:
    definition = figures.BY_KEY[key]
    return {"key": key, "name": name or definition.name, "value": value, "detail": detail,
            "formula": definition.short or definition.formula}  # fmt: skip


def kpis(board) -> list[dict]:
    """The headline figures of a board, formatted, each with its formula."""
    t, rates = board.totals, board.rates
    last = board.latest
    items = []
    if last is not None and not board.hourly:
        items.append(_kpi("mau", f"{last.users_30d:,}",
                          f"{last.users_7d:,} weekly, {last.users:,} on {last.start:%Y-%m-%d}",
                          name="Active users (30 days)"))  # fmt: skip
    returning = sum(b.returning_users for b in board.buckets)
    share = figures.share(returning, sum(b.users for b in board.buckets))
    items += [
        _kpi("returning_share", _percent(share), "of the daily active users, over the range"),
        _kpi("task_success_rate", _percent(rates["task_success_rate"]),
             f"{t['successes']:,} of {figures.outcomes(t):,} with an outcome"),
        _kpi("error_rate", _percent(rates["error_rate"]), f"{t['errors']:,} errors"),
        _kpi("hallucination_rate", _percent(rates["hallucination_rate"]),
             f"{t['hallucinations']:,} flagged, {t['unsupported_claims']:,} unsupported claims"),
        _kpi("online_failure_rate", _percent(rates["online_failure_rate"]),
             f"{t['online_failures']:,} of {t['online_scored']:,} scored; "
             f"{_percent(rates['online_hallucination_rate'])} hallucination"),
        _kpi("escalation_rate", _percent(rates["escalation_rate"]),
             f"{t['escalations']:,} of {t['interactions']:,} interactions"),
        _kpi("latency", "—" if board.latency is None else f"{board.latency:,.0f} ms"),
        _kpi("cost_per_success", _money(board.cost_per_success, board.currency),
             f"{_money(t['cost'], board.currency)} in all"),
    ]  # fmt: skip
    roi = board.roi
    if roi.mixed:
        items.append(_kpi(
            "roi", "—", f"The use cases count in {', '.join(roi.currencies)}: one sum would "
            "add different currencies. Each use case's dashboard shows its own.",
            name="Net value (ROI)",
        ))  # fmt: skip
    else:
        items.append(_kpi(
        "roi", _money(roi.net, board.currency),
        f"value {_money(roi.value, board.currency)} ({roi.hours_saved:,.0f} h saved) − cost "
        f"{_money(roi.cost, board.currency)} (AI {_money(roi.ai_cost, board.currency)}, "
        f"{board.sme_answers} SME answers {_money(roi.sme_cost, board.currency)})"
        + (f"; ROI {roi.ratio * 100:,.0f}%" if roi.ratio is not None else ""),
        name="Net value (ROI)",
        ))  # fmt: skip
    loop = board.loop
    items.append(_kpi("context_coverage", _percent(loop.coverage),
                      f"{loop.coverage_covered} of {loop.coverage_total} covered; "
                      f"{loop.open_gaps} open gaps"))  # fmt: skip
    items.append(_kpi("production_context_coverage",
                      _percent(rates["production_context_coverage"]),
                      f"{t['knowledge_retrieved']:,} of {t['interactions']:,} interactions "
                      "retrieved published knowledge"))  # fmt: skip
    items.append(_kpi(
        "sme_response",
        "—" if loop.response_median_days is None else f"{loop.response_median_days:g} days",
        f"median of {loop.responses} answers; 90th percentile {loop.response_p90_days} days"
        if loop.responses else "no answered gap yet",
    ))  # fmt: skip
    return items
