"""REST API of the evals area: targets, plans and their versioned cases, runs, results.

Thin: parse with a serializer, write through `evals.services` (validation, audit and
task scheduling live there), read a run's state through `evals.summary`, shape the
answer. Uploaded files (cases, external results) are read as raw bytes and parsed by
`evals.case_io` and the services, which report problems line by line.
"""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Q, Subquery
from django.http import Http404, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from evals import case_io, selectors, services, summary
from evals.api.serializers import (
    CaseImportParamsSerializer,
    CaseImportResultSerializer,
    CaseListFilterSerializer,
    ConnectionCheckSerializer,
    EvalCaseInputSerializer,
    EvalCaseSerializer,
    EvalPlanCreateSerializer,
    EvalPlanListFilterSerializer,
    EvalPlanSerializer,
    EvalPlanUpdateSerializer,
    EvalResultSerializer,
    EvalRunSerializer,
    ExternalRunParamsSerializer,
    ResultFilterSerializer,
    RunListFilterSerializer,
    RunStartSerializer,
    TargetCreateSerializer,
    TargetListFilterSerializer,
    TargetSerializer,
    TargetUpdateSerializer,
    TriageSerializer,
)
from evals.compare import compare
from evals.junit import junit_lines
from evals.models import (
    EvalCase,
    EvalPlan,
    EvalResult,
    EvalRun,
    ResultStatus,
    RunStatus,
    RunTrigger,
    Target,
    Triage,
)
from evals.scorers import validate_spec
from genai_po.api.base import OrgScopedViewSet
from genai_po.api.throttling import IpRateThrottle, RunStartThrottle, TokenRateThrottle
from genai_po.roles import Action
from usecases.api.serializers import ErrorSerializer

_INVALID = OpenApiResponse(ErrorSerializer, description="Invalid input; `errors` by field.")
_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such object in this organization.")
_CONFLICT = OpenApiResponse(ErrorSerializer, description="Not possible in the run's state.")
_FILE_INVALID = OpenApiResponse(
    ErrorSerializer,
    description="The file was refused and nothing was stored: `errors.file` lists its problems "
    'as "line N: …" (at most 50), `message` names the first.',
)
_UPLOAD = dict.fromkeys(
    ["text/csv", "application/x-ndjson", "application/yaml", "text/plain",
     "application/octet-stream"],
    OpenApiTypes.BINARY,
)  # fmt: skip


def _location(code: int) -> OpenApiParameter:
    return OpenApiParameter(
        "Location",
        OpenApiTypes.URI,
        OpenApiParameter.HEADER,
        response=[code],
        description="The run in the API: GET it to follow the run.",
    )


def _number(description: str) -> OpenApiParameter:
    return OpenApiParameter(
        "number", OpenApiTypes.INT, OpenApiParameter.PATH, description=description
    )


def _query_params(request) -> dict:
    """Query parameters as single values (the last one wins, as in QueryDict.get)."""
    return {key: request.query_params.get(key) for key in request.query_params}


def _split(validated: dict, *names: str) -> tuple[dict, ...]:
    data = dict(validated)
    return (data, *(data.pop(name, None) for name in names))


# --- Plumbing: scopes, negotiation, raw bodies, errors


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """Always the JSON renderer, whatever `Accept` and `?format=` say.

    On the actions using it, `?format=` names an uploaded file's format (DRF would read it
    as a renderer and answer 404), and the JUnit report is a streamed response DRF does
    not render (an `Accept: application/xml` would be a 406): only errors are rendered,
    and they are JSON.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class RawBodyParser(BaseParser):
    """The request body as bytes, whatever its Content-Type: an uploaded file."""

    media_type = "*/*"
    # One byte more than the largest upload allowed, so that the parsers of the files say
    # "too large" themselves; Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not apply to a
    # body read as a stream.
    max_bytes = max(case_io.MAX_BYTES, services.EXTERNAL_MAX_BYTES) + 1

    def parse(self, stream, media_type=None, parser_context=None):
        if (media_type or "").lower().startswith("multipart/"):
            raise exceptions.UnsupportedMediaType(
                media_type,
                detail="Send the file itself as the request body "
                "(curl --data-binary @file), not as a form.",
            )
        return stream.read(self.max_bytes)


def _body(request) -> bytes:
    data = request.data
    return data if isinstance(data, bytes) else b""  # an empty body parses as {}


def _file_invalid(messages: list[str]) -> exceptions.ValidationError:
    return exceptions.ValidationError({"file": messages})


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Not possible in the current state."
    default_code = "conflict"


# --- Runs as the API shows them


def _run_url(request):
    """The run's page in the browser (read lazily: schema generation has no organization)."""

    def url(run: EvalRun) -> str:
        path = reverse("run_detail", args=[request.organization.slug, run.pk])
        return request.build_absolute_uri(path)

    return url


def _run_data(request, run: EvalRun) -> dict:
    """One run, with its live progress (ETA included) or its comparison with the baseline."""
    context = {"request": request, "run_url": _run_url(request)}
    if run.is_active:
        context["progress"] = {run.pk: summary.progress(run)}
    if run.status == RunStatus.COMPLETED:
        comparison = compare(run)
        context["comparison"] = {run.pk: comparison.as_dict() if comparison else None}
    return EvalRunSerializer(run, context=context).data


def _run_created(request, run: EvalRun, code: int) -> Response:
    location = request.build_absolute_uri(reverse("eval-run-detail", args=[run.pk]))
    return Response(_run_data(request, run), status=code, headers={"Location": location})


def _live_counts(organization, runs) -> dict[int, dict]:
    """Counts of a page's active runs from their results, in one query."""
    active = [run.pk for run in runs if run.is_active]
    if not active:
        return {}
    counts = {pk: {"done": 0, "passed": 0, "failed": 0, "errored": 0, "dead": 0} for pk in active}
    rows = (
        EvalResult.objects.for_org(organization)
        .filter(run_id__in=active)
        .order_by()
        .values("run_id")
        .annotate(
            done=Count("pk"),
            passed=Count("pk", filter=Q(status=ResultStatus.PASS)),
            failed=Count("pk", filter=Q(status=ResultStatus.FAIL)),
            errored=Count("pk", filter=Q(status=ResultStatus.ERROR)),
            dead=Count("pk", filter=Q(status=ResultStatus.DEAD)),
        )
    )
    for row in rows:
        counts[row.pop("run_id")] = row
    return counts


# --- Targets


class TargetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Targets of the token's organization: the AI systems under test, and judges.

    Reading needs `read`; creating, changing and testing need `evals:run`. There is no
    DELETE: archive with PATCH `{"archived": true}`. API keys and header values are
    write-only: answers say only `api_key_set` and `header_names`.
    """

    model = Target
    serializer_class = TargetSerializer
    lookup_value_regex = "[0-9]+"
    actions = {
        "create": Action.RUN_EVALS,
        "partial_update": Action.RUN_EVALS,
        "test_connection": Action.RUN_EVALS,
    }
    list_filters: dict = {}

    def scope_queryset(self, queryset):
        if self.action == "list":
            archived = self.list_filters.get("archived", False)
            queryset = queryset.filter(archived_at__isnull=not archived)
        return queryset.order_by("name", "pk")

    @staticmethod
    def _service_data(validated: dict) -> dict:
        data = dict(validated)
        if "headers" in data:  # stored as JSON text, encrypted
            data["headers"] = json.dumps(data["headers"]) if data["headers"] else ""
        return data

    @extend_schema(
        parameters=[TargetListFilterSerializer],
        responses={200: TargetSerializer(many=True), 400: _INVALID},
    )
    def list(self, request, *args, **kwargs):
        filters = TargetListFilterSerializer(data=_query_params(request))
        filters.is_valid(raise_exception=True)
        self.list_filters = dict(filters.validated_data)
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: TargetSerializer, 404: _NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=TargetCreateSerializer, responses={201: TargetSerializer, 400: _INVALID})
    def create(self, request, *args, **kwargs):
        payload = TargetCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        target = services.target_create(
            actor=self.actor, data=self._service_data(payload.validated_data)
        )
        return Response(TargetSerializer(target).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=TargetUpdateSerializer,
        responses={200: TargetSerializer, 400: _INVALID, 404: _NOT_FOUND},
    )
    def partial_update(self, request, *args, **kwargs):
        target = self.get_object()
        payload = TargetUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data, archived = _split(payload.validated_data, "archived")
        is_archived = target.archived_at is not None
        with transaction.atomic():  # all of it or nothing
            if archived is False and is_archived:
                services.target_archive(actor=self.actor, target=target, archived=False)
            if data:
                services.target_update(
                    actor=self.actor, target=target, data=self._service_data(data)
                )
            if archived and not is_archived:
                services.target_archive(actor=self.actor, target=target, archived=True)
        return Response(TargetSerializer(target).data)

    @extend_schema(
        request=None,
        responses={200: ConnectionCheckSerializer, 404: _NOT_FOUND},
        description="Send one harmless question to the target (within the organization's "
        "egress rules) and keep the answer on the target as its last check.",
    )
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, *args, **kwargs):
        target = services.target_connection_check(actor=self.actor, target=self.get_object())
        return Response({"ok": target.last_check_ok, "message": target.last_check_message})


# --- Plans and their cases


def _attach_last_runs(organization, plans) -> None:
    """Each plan's last run, in one query for a page."""
    ids = [plan.last_run_id for plan in plans if plan.last_run_id]
    runs = (
        EvalRun.objects.for_org(organization)
        .only("id", "number", "status", "pass_rate")
        .in_bulk(ids)
        if ids
        else {}
    )
    for plan in plans:
        plan.last_run = runs.get(plan.last_run_id)


_CONTENT_TYPE_FORMATS = {
    "text/csv": "csv",
    "application/yaml": "promptfoo",
    "application/x-yaml": "promptfoo",
    "text/yaml": "promptfoo",
}


def _upload_format(content_type: str, filename: str, data: bytes) -> str | None:
    media = (content_type or "").split(";")[0].strip().lower()
    return _CONTENT_TYPE_FORMATS.get(media) or case_io.detect_format(filename, data[:65536])


# Starting runs has its own, lower limit, on top of the token's and the address's.
RUN_START_THROTTLES = [IpRateThrottle, TokenRateThrottle, RunStartThrottle]


class EvalPlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Eval plans of the organization's use cases, their versioned cases and their runs.

    Reading needs `read`; plans and cases change with `write`; starting runs and uploading
    results need `evals:run`. There is no DELETE of a plan: archive it with PATCH.
    """

    model = EvalPlan
    serializer_class = EvalPlanSerializer
    lookup_value_regex = "[0-9]+"
    actions = {"runs": Action.RUN_EVALS, "external_runs": Action.RUN_EVALS}
    list_filters: dict = {}

    def get_content_negotiator(self):
        # Also called before the action is known (to pick a parser, the same for both).
        if getattr(self, "action", None) == "import_cases":
            return JsonOnlyNegotiation()
        return super().get_content_negotiator()

    def scope_queryset(self, queryset):
        organization = self.request.organization
        queryset = queryset.select_related("use_case")
        if self.action in ("list", "retrieve", "create", "partial_update"):
            queryset = queryset.annotate(
                case_count=selectors.current_case_count(organization),
                last_run_id=Subquery(selectors.latest_runs(organization).values("pk")[:1]),
            )
        if self.action == "list":
            filters = self.list_filters
            queryset = queryset.filter(archived_at__isnull=not filters.get("archived", False))
            if filters.get("use_case") is not None:
                queryset = queryset.filter(use_case_id=filters["use_case"])
        return queryset.order_by("use_case__number", "name", "pk")

    def _shown(self, plan: EvalPlan) -> dict:
        """The plan as the API shows it, read again after a write."""
        plan = self.get_queryset().get(pk=plan.pk)
        _attach_last_runs(self.request.organization, [plan])
        return EvalPlanSerializer(plan).data

    @extend_schema(
        parameters=[EvalPlanListFilterSerializer],
        responses={200: EvalPlanSerializer(many=True), 400: _INVALID},
    )
    def list(self, request, *args, **kwargs):
        filters = EvalPlanListFilterSerializer(data=_query_params(request))
        filters.is_valid(raise_exception=True)
        self.list_filters = dict(filters.validated_data)
        page = self.paginate_queryset(self.get_queryset())
        _attach_last_runs(request.organization, page)
        return self.get_paginated_response(EvalPlanSerializer(page, many=True).data)

    @extend_schema(responses={200: EvalPlanSerializer, 404: _NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return Response(self._shown(self.get_object()))

    @extend_schema(
        request=EvalPlanCreateSerializer, responses={201: EvalPlanSerializer, 400: _INVALID}
    )
    def create(self, request, *args, **kwargs):
        payload = EvalPlanCreateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data, use_case = _split(payload.validated_data, "use_case")
        plan = services.plan_create(actor=self.actor, use_case=use_case, data=data)
        return Response(self._shown(plan), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=EvalPlanUpdateSerializer,
        responses={200: EvalPlanSerializer, 400: _INVALID, 404: _NOT_FOUND},
    )
    def partial_update(self, request, *args, **kwargs):
        plan = self.get_object()
        payload = EvalPlanUpdateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data, archived = _split(payload.validated_data, "archived")
        is_archived = plan.archived_at is not None
        with transaction.atomic():  # all of it or nothing
            if archived is False and is_archived:
                services.plan_archive(actor=self.actor, plan=plan, archived=False)
            if data:
                services.plan_update(actor=self.actor, plan=plan, data=data)
            if archived and not is_archived:
                services.plan_archive(actor=self.actor, plan=plan, archived=True)
        return Response(self._shown(plan))

    # --- Cases

    def _case(self, plan: EvalPlan, number: str) -> EvalCase:
        case = selectors.current_cases(plan).filter(number=int(number)).first()
        if case is None:
            raise Http404
        case.plan = plan
        return case

    @extend_schema(
        methods=["GET"],
        parameters=[CaseListFilterSerializer],
        responses={200: EvalCaseSerializer(many=True), 400: _INVALID, 404: _NOT_FOUND},
        description="The cases of the plan's current case-set version, or of `version`.",
    )
    @extend_schema(
        methods=["POST"],
        request=EvalCaseInputSerializer,
        responses={201: EvalCaseSerializer, 400: _INVALID, 404: _NOT_FOUND},
        description="Add a case (CASE-<next number>); this makes a new case-set version.",
    )
    @action(detail=True, methods=["get", "post"])
    def cases(self, request, *args, **kwargs):
        plan = self.get_object()
        if request.method == "POST":
            payload = EvalCaseInputSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            case = services.case_add(actor=self.actor, plan=plan, data=dict(payload.validated_data))
            return Response(EvalCaseSerializer(case).data, status=status.HTTP_201_CREATED)
        filters = CaseListFilterSerializer(data=_query_params(request))
        filters.is_valid(raise_exception=True)
        version = filters.validated_data.get("version", plan.case_version)
        if version > plan.case_version:
            raise exceptions.ValidationError(
                {"version": [f"No such version: the current version is {plan.case_version}."]}
            )
        page = self.paginate_queryset(selectors.current_cases(plan, version=version))
        return self.get_paginated_response(EvalCaseSerializer(page, many=True).data)

    @extend_schema(
        methods=["GET"],
        parameters=[_number("The case's number (CASE-<number>)")],
        responses={200: EvalCaseSerializer, 404: _NOT_FOUND},
        description="The current revision of a case.",
    )
    @extend_schema(
        methods=["PATCH"],
        parameters=[_number("The case's number (CASE-<number>)")],
        request=EvalCaseInputSerializer,
        responses={200: EvalCaseSerializer, 400: _INVALID, 404: _NOT_FOUND},
        description="Change a case: its new revision makes a new case-set version; runs keep "
        "the revision they ran.",
    )
    @extend_schema(
        methods=["DELETE"],
        parameters=[_number("The case's number (CASE-<number>)")],
        responses={204: None, 404: _NOT_FOUND},
        description="Remove a case from the set (a new version); its number is never reused.",
    )
    @action(detail=True, methods=["get", "patch", "delete"], url_path=r"cases/(?P<number>[0-9]+)")
    def case_detail(self, request, *args, number=None, **kwargs):
        plan = self.get_object()
        case = self._case(plan, number)
        if request.method == "DELETE":
            services.case_remove(actor=self.actor, case=case)
            return Response(status=status.HTTP_204_NO_CONTENT)
        if request.method == "PATCH":
            payload = EvalCaseInputSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            case = services.case_update(
                actor=self.actor, case=case, data=dict(payload.validated_data)
            )
        return Response(EvalCaseSerializer(case).data)

    @extend_schema(
        parameters=[CaseImportParamsSerializer],
        request=_UPLOAD,
        responses={201: CaseImportResultSerializer, 400: _FILE_INVALID, 404: _NOT_FOUND},
        description="Import cases from a file sent as the request body: CSV, JSONL, promptfoo "
        "tests (YAML) or OpenAI Evals samples. All of the file in one new case-set version, "
        "or nothing.",
    )
    @action(detail=True, methods=["post"], url_path="cases/import", parser_classes=[RawBodyParser])
    def import_cases(self, request, *args, **kwargs):
        plan = self.get_object()
        params = CaseImportParamsSerializer(data=_query_params(request))
        params.is_valid(raise_exception=True)
        filename = params.validated_data.get("filename", "").strip()
        data = _body(request)
        fmt = params.validated_data.get("format") or _upload_format(
            request.content_type, filename, data
        )
        if fmt is None:
            known = ", ".join(case_io.FORMATS)
            raise exceptions.ValidationError(
                {"format": [f"Say which format the file is in: ?format= one of {known}."]}
            )
        parsed = case_io.parse_cases(data, fmt, validate_scorer=validate_spec)
        if parsed.problems:
            raise _file_invalid([str(problem) for problem in parsed.problems])
        try:
            count = services.cases_import(
                actor=self.actor, plan=plan, drafts=parsed.drafts, source=filename or "API upload"
            )
        except DjangoValidationError as exc:
            raise _file_invalid(exc.messages) from exc
        version = (
            EvalPlan.objects.for_org(plan.organization_id)
            .values_list("case_version", flat=True)
            .get(pk=plan.pk)
        )
        return Response(
            {"imported": count, "case_version": version}, status=status.HTTP_201_CREATED
        )

    # --- Runs

    @extend_schema(
        request=RunStartSerializer,
        parameters=[_location(202)],
        responses={
            202: OpenApiResponse(
                EvalRunSerializer, description="Queued; follow it at `Location` (or its `url`)."
            ),
            400: OpenApiResponse(ErrorSerializer, description="The run cannot start, and why."),
            404: _NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post"], throttle_classes=RUN_START_THROTTLES)
    def runs(self, request, *args, **kwargs):
        """Start a run of the plan's current case set against its target."""
        plan = self.get_object()
        payload = RunStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        run = services.run_start(
            actor=self.actor,
            plan=plan,
            trigger=RunTrigger.CI if "ci_metadata" in data else RunTrigger.API,
            label=data.get("label", ""),
            ci_metadata=data.get("ci_metadata"),
        )
        return _run_created(request, run, status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[ExternalRunParamsSerializer, _location(201)],
        request={
            "application/x-ndjson": OpenApiTypes.BINARY,
            "text/plain": OpenApiTypes.BINARY,
        },
        responses={201: EvalRunSerializer, 400: _FILE_INVALID, 404: _NOT_FOUND},
        description="Record results computed elsewhere as a completed run. The body is JSON "
        'Lines, one result per line: {"case": "CASE-4", "passed": true, "output": "…", '
        '"score": 1.0, "latency_ms": 120, "repetition": 0, "error": "", "tokens_in": 10, '
        '"tokens_out": 20, "assertions": [...]}; `case` and `passed` (or `error`) are '
        "needed. At most 20 MB and 100,000 lines; a file with any bad line stores nothing.",
    )
    @action(
        detail=True, methods=["post"], url_path="external-runs", parser_classes=[RawBodyParser],
        throttle_classes=RUN_START_THROTTLES,
    )  # fmt: skip
    def external_runs(self, request, *args, **kwargs):
        plan = self.get_object()
        params = ExternalRunParamsSerializer(data=_query_params(request))
        params.is_valid(raise_exception=True)
        try:
            run = services.external_run_upload(
                actor=self.actor,
                plan=plan,
                data=_body(request),
                label=params.validated_data.get("label", ""),
            )
        except DjangoValidationError as exc:
            raise _file_invalid(exc.messages) from exc
        return _run_created(request, run, status.HTTP_201_CREATED)


# --- Runs and results

# A CI token with only `evals:run` follows the runs it starts (docs/ci.md); `read` reads all.
_FOLLOW_RUNS = (Action.VIEW, Action.RUN_EVALS)


class EvalRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Eval runs of the organization, newest first, with their results and JUnit report.

    Reading needs `read` or `evals:run`; cancelling, choosing the baseline and triaging
    need `evals:run`.
    """

    model = EvalRun
    serializer_class = EvalRunSerializer
    lookup_value_regex = "[0-9]+"
    actions = {
        **dict.fromkeys(["list", "retrieve", "results", "junit"], _FOLLOW_RUNS),
        "cancel": Action.RUN_EVALS,
        "baseline": Action.RUN_EVALS,
        "triage": Action.RUN_EVALS,
    }
    list_filters: dict = {}

    def get_content_negotiator(self):
        # Also called before the action is known (to pick a parser, the same for both).
        if getattr(self, "action", None) == "junit":
            return JsonOnlyNegotiation()
        return super().get_content_negotiator()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "run_url": _run_url(self.request)}

    def scope_queryset(self, queryset):
        if self.action == "junit":
            queryset = queryset.select_related("plan")
        if self.action == "list":
            filters = self.list_filters
            if filters.get("plan") is not None:
                queryset = queryset.filter(plan_id=filters["plan"])
            if filters.get("status"):
                queryset = queryset.filter(status=filters["status"])
        return queryset.order_by("-created_at", "-pk")

    @extend_schema(
        parameters=[RunListFilterSerializer],
        responses={200: EvalRunSerializer(many=True), 400: _INVALID},
        description="Runs, newest first. Active runs show live counts; `eta_seconds` and "
        "`comparison` are given for one run only (null here).",
    )
    def list(self, request, *args, **kwargs):
        filters = RunListFilterSerializer(data=_query_params(request))
        filters.is_valid(raise_exception=True)
        self.list_filters = dict(filters.validated_data)
        page = self.paginate_queryset(self.get_queryset())
        context = {
            **self.get_serializer_context(),
            "progress": _live_counts(request.organization, page),
        }
        return self.get_paginated_response(EvalRunSerializer(page, many=True, context=context).data)

    @extend_schema(responses={200: EvalRunSerializer, 404: _NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return Response(_run_data(request, self.get_object()))

    @extend_schema(
        request=None, responses={200: EvalRunSerializer, 404: _NOT_FOUND, 409: _CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        """Cancel a queued or running run; results so far are kept."""
        try:
            run = services.run_cancel(actor=self.actor, run=self.get_object())
        except services.RunRefused as exc:
            raise Conflict(exc.messages[0]) from exc
        # run_cancel stores the summary with an UPDATE after it last read the row: the
        # instance it returns still has the counts of before (reported as a service bug).
        run.refresh_from_db()
        return Response(_run_data(request, run))

    @extend_schema(
        request=None, responses={200: EvalRunSerializer, 404: _NOT_FOUND, 409: _CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def baseline(self, request, *args, **kwargs):
        """Make this completed run the plan's baseline, which later runs are compared with."""
        try:
            run = services.run_mark_baseline(actor=self.actor, run=self.get_object())
        except services.RunRefused as exc:
            raise Conflict(exc.messages[0]) from exc
        return Response(_run_data(request, run))

    @extend_schema(
        parameters=[ResultFilterSerializer],
        responses={200: EvalResultSerializer(many=True), 400: _INVALID, 404: _NOT_FOUND},
        description="One result per (case, repetition), in the order of the case set.",
    )
    @action(detail=True, methods=["get"])
    def results(self, request, *args, **kwargs):
        run = self.get_object()
        filters = ResultFilterSerializer(data=_query_params(request))
        filters.is_valid(raise_exception=True)
        rows = EvalResult.objects.for_org(request.organization).filter(run=run)
        if filters.validated_data.get("status"):
            rows = rows.filter(status=filters.validated_data["status"])
        if filters.validated_data.get("case") is not None:
            rows = rows.filter(case_number=filters.validated_data["case"])
        page = self.paginate_queryset(rows.order_by("case__position", "case_number", "repetition"))
        triages = {
            triage.case_id: triage
            for triage in Triage.objects.for_org(request.organization).filter(
                run=run, case_id__in={result.case_id for result in page}
            )
        }
        data = EvalResultSerializer(page, many=True, context={"triages": triages}).data
        return self.get_paginated_response(data)

    @extend_schema(
        operation_id="eval_runs_junit_retrieve",
        responses={
            (200, "application/xml"): OpenApiResponse(
                OpenApiTypes.STR,
                description="JUnit XML: one testcase per (case, repetition); failures carry "
                "the scorers' reasons and the output.",
            ),
            404: _NOT_FOUND,
            409: _CONFLICT,
        },
    )
    def junit(self, request, *args, **kwargs):
        """The finished run as a JUnit report, for CI systems (streamed)."""
        run = self.get_object()
        if run.is_active:
            raise Conflict(
                f"Run #{run.number} is {run.status}: its JUnit report is ready when it finishes."
            )
        response = StreamingHttpResponse(
            junit_lines(run), content_type="application/xml; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="run-{run.number}.junit.xml"'
        return response

    @extend_schema(
        parameters=[_number("The case's number (CASE-<number>)")],
        request=TriageSerializer,
        responses={200: TriageSerializer, 400: _INVALID, 404: _NOT_FOUND},
        description="Record why a case failed in this run (one triage per case and run; "
        "a second one replaces it).",
    )
    @action(detail=True, methods=["post"], url_path=r"results/(?P<number>[0-9]+)/triage")
    def triage(self, request, *args, number=None, **kwargs):
        run = self.get_object()
        result = (
            EvalResult.objects.for_org(request.organization)
            .filter(run=run, case_number=int(number))
            .select_related("case")
            .order_by("repetition")
            .first()
        )
        if result is None:
            raise Http404
        payload = TriageSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        triage = services.triage_set(
            actor=self.actor,
            run=run,
            case=result.case,
            category=payload.validated_data["category"],
            note=payload.validated_data["note"],
        )
        return Response(TriageSerializer(triage).data)
