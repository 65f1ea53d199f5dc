"""The telemetry API: batches of production events from the AI system."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from genai_po.roles import Action
from metrics import ingest
from metrics.api.serializers import IngestResultSerializer, TelemetryBatchSerializer
from metrics.http import BodyRefused, read_body


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
