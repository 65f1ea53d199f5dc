"""The telemetry API: batches of production events from the AI system."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from evals.models import EvalPlan
from genai_po.api.base import OrgScopedAPIMixin, OrgScopedViewSet
from genai_po.api.errors import drf_validation_error as _invalid
from genai_po.roles import Action
from metrics import dashboard, figures, ingest, services
from metrics.api.serializers import (
    AcknowledgeSerializer,
    AlertFilterSerializer,
    AlertRuleSerializer,
    AlertRuleWriteSerializer,
    AlertSerializer,
    AssumptionsSerializer,
    DashboardFilterSerializer,
    DashboardSerializer,
    IngestResultSerializer,
    OnlineScoringSerializer,
    ReadingFilterSerializer,
    ReadingSerializer,
    ReadingWriteSerializer,
    TelemetryBatchSerializer,
    UseCaseParamSerializer,
)
from metrics.http import BodyRefused, read_body, require_json
from metrics.models import Alert, AlertRule, BusinessMetricReading, OnlineScoring
from usecases.models import UseCase


class TelemetryEventsView(APIView):
    """`POST /api/v1/telemetry/events/` with `{"events": [...]}` and a `telemetry:write`
    token: at most 5,000 events or 5 MB (gzip accepted). The valid events are stored; each
    invalid one is reported with its index and reason (207); an event sent again counts
    once."""

    actions = {"POST": Action.INGEST_TELEMETRY}
    parser_classes: list = []  # the body is read here, with its own limit

    @extend_schema(
        request=TelemetryBatchSerializer,
        responses={
            200: IngestResultSerializer,
            207: OpenApiResponse(IngestResultSerializer, description="Some events rejected"),
        },
    )
    def post(self, request):
        try:
            require_json(request)
            body = read_body(request, ingest.MAX_BYTES)
        except BodyRefused as exc:
            return Response({"message": str(exc), "code": "body_refused"}, status=exc.status)
        try:
            payload = ingest.parse(body)
            if not isinstance(payload, dict) or set(payload) - {"events"}:
                raise ingest.BatchRefused('Send {"events": [...]}.')
            result = ingest.ingest(request.auth.organization_id, payload.get("events"))
        except ingest.BatchRefused as exc:
            raise ValidationError({"events": [str(exc)]}) from None
        code = status.HTTP_207_MULTI_STATUS if result.rejected else status.HTTP_200_OK
        return Response(result.as_dict(), status=code)


class OtlpTracesView(APIView):
    """`POST /otel/v1/traces`: OTLP over HTTP (protobuf, or JSON with
    `Content-Type: application/json`; gzip accepted) with the organization's token as
    Bearer (`telemetry:write`). Answers OTLP's ExportTraceServiceResponse, with
    `partial_success` counting the rejected spans."""

    actions = {"POST": Action.INGEST_TELEMETRY}
    parser_classes: list = []

    @extend_schema(exclude=True)  # OTLP's own protocol, not this API's
    def post(self, request):
        from django.http import HttpResponse

        from metrics import otlp

        content_type = request.META.get("CONTENT_TYPE", "application/x-protobuf")
        try:
            body = read_body(request, ingest.MAX_BYTES)
            traces = otlp.decode(body, content_type)
        except BodyRefused as exc:
            return Response({"message": str(exc), "code": "body_refused"}, status=exc.status)
        except otlp.OtlpRefused as exc:
            raise ValidationError({"body": [str(exc)]}) from None
        result = otlp.ingest_traces(request.auth.organization_id, traces)
        payload, media_type = otlp.response_body(result, content_type)
        return HttpResponse(payload, content_type=media_type, status=200)


# --------------------------------------------------------------------------- dashboards


def _use_case_of(org, use_case_id):
    """The organization's use case by id, or a 400 naming the field (another
    organization's use case is as unknown as one that does not exist)."""
    if use_case_id is None:
        return None
    use_case = UseCase.objects.for_org(org).filter(pk=use_case_id).first()
    if use_case is None:
        raise ValidationError({"use_case": ["No such use case here."]})
    return use_case


def _filters(serializer_class, request) -> dict:
    filters = serializer_class(data=dict(request.query_params.items()))
    filters.is_valid(raise_exception=True)
    return dict(filters.validated_data)


def dashboard_data(board) -> dict:
    """A board as the API returns it: the figures, the assumptions and each chart's data."""
    from metrics import charts

    builders = charts.USE_CASE_CHARTS if board.use_case is not None else charts.PORTFOLIO_CHARTS
    roi, loop, last = board.roi, board.loop, board.latest
    assumptions = board.assumptions
    return {
        "use_case": board.use_case.key if board.use_case is not None else None,
        "range": {"start": board.span.start, "end": board.span.end,
                  "granularity": board.span.granularity, "preset": board.span.preset or None},
        "totals": board.totals,
        "rates": board.rates,
        "latency_ms": board.latency,
        "cost_per_success": board.cost_per_success,
        "roi": {"hours_saved": roi.hours_saved, "value": roi.value, "cost": roi.cost,
                "ai_cost": roi.ai_cost, "sme_cost": roi.sme_cost, "sme_answers": board.sme_answers,
                "net": roi.net, "ratio": roi.ratio, "currencies": list(roi.currencies)},
        "assumptions": {f: str(getattr(assumptions, f)) for f in services.ASSUMPTION_FIELDS},
        "users": {
            "ever": board.users_ever,
            "last_day": last.users if last else None,
            "last_7_days": last.users_7d if last and not board.hourly else None,
            "last_30_days": last.users_30d if last and not board.hourly else None,
        },
        "context": {"coverage": loop.coverage, "open_gaps": loop.open_gaps,
                    "sme_response_median_days": loop.response_median_days},
        "charts": {
            key: {"title": chart.title, "columns": chart.columns, "rows": chart.rows}
            for key, chart in ((k, build(board)) for k, build in builders.items())
        },
        "definitions": {d.key: d.formula for d in figures.DEFINITIONS},
    }  # fmt: skip


class DashboardView(OrgScopedAPIMixin, APIView):
    """`GET /api/v1/metrics/dashboard/?use_case=<id>&range=30d` (or `start` and `end`):
    a use case's figures and charts, or the portfolio's without `use_case`. From the
    rollups, like the dashboard pages."""

    model = UseCase

    @extend_schema(parameters=[DashboardFilterSerializer], responses={200: DashboardSerializer})
    def get(self, request):
        filters = _filters(DashboardFilterSerializer, request)
        use_case = _use_case_of(request.organization, filters.pop("use_case", None))
        try:
            span = dashboard.parse_range({k: str(v) for k, v in filters.items()})
        except dashboard.RangeError as exc:
            raise ValidationError({"range": [str(exc)]}) from None
        return Response(dashboard_data(dashboard.board_for(request.organization, use_case, span)))


# --------------------------------------------------------------------------- alerts


class AlertRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet
):
    """Alert rules (AR-n), checked after every rollup. Reading needs `read`; writing
    `write`."""

    model = AlertRule
    serializer_class = AlertRuleSerializer
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"

    def scope_queryset(self, queryset):
        return queryset.select_related("use_case").order_by("number")

    def _data(self, request, partial: bool) -> dict:
        payload = AlertRuleWriteSerializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        if "use_case" in data:
            data["use_case"] = _use_case_of(request.organization, data["use_case"])
        return data

    @extend_schema(request=AlertRuleWriteSerializer, responses={201: AlertRuleSerializer})
    def create(self, request, *args, **kwargs):
        data = self._data(request, partial=False)
        try:
            rule = services.rule_save(actor=self.actor, data=data)
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AlertRuleWriteSerializer, responses={200: AlertRuleSerializer})
    def partial_update(self, request, *args, **kwargs):
        rule = self.get_object()
        data = self._data(request, partial=True)
        try:
            rule = services.rule_save(actor=self.actor, rule=rule, data=data)
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(AlertRuleSerializer(rule).data)

    def perform_destroy(self, instance):
        try:
            services.rule_delete(actor=self.actor, rule=instance)
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The alerts the rules fired, newest first; `?state=open` for those not acknowledged.
    Acknowledging needs `write`."""

    model = Alert
    serializer_class = AlertSerializer
    filters: dict = {}
    actions = {"acknowledge": Action.EDIT_PRODUCT}

    def scope_queryset(self, queryset):
        rows = queryset.select_related("rule", "use_case").order_by("-fired_at", "-pk")
        if self.filters.get("state") == "open":
            rows = rows.filter(acknowledged_at__isnull=True)
        if self.filters.get("use_case"):
            rows = rows.filter(use_case_id=self.filters["use_case"])
        return rows

    @extend_schema(parameters=[AlertFilterSerializer])
    def list(self, request, *args, **kwargs):
        self.filters = _filters(AlertFilterSerializer, request)
        return super().list(request, *args, **kwargs)

    @extend_schema(request=AcknowledgeSerializer, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, *args, **kwargs):
        alert = self.get_object()
        payload = AcknowledgeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            alert = services.alert_acknowledge(
                actor=self.actor, alert=alert, note=payload.validated_data.get("note", "")
            )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(AlertSerializer(alert).data)


# --------------------------------------------------------------------------- settings


class ReadingViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, OrgScopedViewSet):
    """Measurements of a use case's business metric (one per day: a second one for the same
    day replaces its value)."""

    model = BusinessMetricReading
    serializer_class = ReadingSerializer
    filters: dict = {}

    def scope_queryset(self, queryset):
        rows = queryset.order_by("-measured_on", "-pk")
        if self.filters.get("use_case"):
            rows = rows.filter(use_case_id=self.filters["use_case"])
        return rows

    @extend_schema(parameters=[ReadingFilterSerializer])
    def list(self, request, *args, **kwargs):
        self.filters = _filters(ReadingFilterSerializer, request)
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ReadingWriteSerializer, responses={201: ReadingSerializer})
    def create(self, request, *args, **kwargs):
        payload = ReadingWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        use_case = _use_case_of(request.organization, data.pop("use_case"))
        try:
            reading = services.reading_record(actor=self.actor, use_case=use_case, data=data)
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(ReadingSerializer(reading).data, status=status.HTTP_201_CREATED)


def _assumptions(row) -> dict:
    return {
        "use_case": row.use_case_id,
        "own": bool(row.pk),
        **{f: str(getattr(row, f)) for f in services.ASSUMPTION_FIELDS},
    }


class AssumptionsView(OrgScopedAPIMixin, APIView):
    """`GET`/`PUT /api/v1/metrics/assumptions/[?use_case=<id>]`: the value assumptions
    the ROI uses (the use case's own, else the organization's, else the defaults)."""

    model = UseCase

    @extend_schema(parameters=[UseCaseParamSerializer], responses={200: AssumptionsSerializer})
    def get(self, request):
        use_case = _use_case_of(
            request.organization, _filters(UseCaseParamSerializer, request).get("use_case")
        )
        return Response(_assumptions(dashboard.assumptions_for(request.organization, use_case)))

    @extend_schema(
        parameters=[UseCaseParamSerializer],
        request=AssumptionsSerializer,
        responses={200: AssumptionsSerializer},
    )
    def put(self, request):
        use_case = _use_case_of(
            request.organization, _filters(UseCaseParamSerializer, request).get("use_case")
        )
        payload = AssumptionsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            row = services.assumptions_save(
                actor=self.actor, use_case=use_case, data=dict(payload.validated_data)
            )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(_assumptions(row))


class OnlineScoringView(OrgScopedAPIMixin, APIView):
    """`GET`/`PUT /api/v1/metrics/online-scoring/?use_case=<id>`: which plan's scorers
    grade the use case's production answers, on what share."""

    model = UseCase

    def _use_case(self, request):
        use_case = _use_case_of(
            request.organization, _filters(UseCaseParamSerializer, request).get("use_case")
        )
        if use_case is None:
            raise ValidationError({"use_case": ["Name the use case: ?use_case=<id>."]})
        return use_case

    @staticmethod
    def _data(config, use_case) -> dict:
        if config is None:
            return {"use_case": use_case.pk, "plan": None, "sample_percent": None,
                    "enabled": False, "scored_until": None}  # fmt: skip
        return {"use_case": use_case.pk, "plan": config.plan_id,
                "sample_percent": str(config.sample_percent), "enabled": config.enabled,
                "scored_until": config.scored_until}  # fmt: skip

    @extend_schema(parameters=[UseCaseParamSerializer], responses={200: OnlineScoringSerializer})
    def get(self, request):
        use_case = self._use_case(request)
        config = OnlineScoring.objects.for_org(request.organization).filter(use_case=use_case)
        return Response(self._data(config.first(), use_case))

    @extend_schema(
        parameters=[UseCaseParamSerializer],
        request=OnlineScoringSerializer,
        responses={200: OnlineScoringSerializer},
    )
    def put(self, request):
        use_case = self._use_case(request)
        payload = OnlineScoringSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        plan = None
        if data.get("plan") is not None:
            plan = EvalPlan.objects.for_org(request.organization).filter(pk=data["plan"]).first()
            if plan is None:
                raise ValidationError({"plan": ["No such eval plan here."]})
        try:
            config = services.online_scoring_set(
                actor=self.actor, use_case=use_case, plan=plan,
                sample_percent=data["sample_percent"], enabled=data["enabled"],
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(self._data(config, use_case))
