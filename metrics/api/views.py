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
