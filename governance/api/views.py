"""REST API of the governance area: releases, the CI release gate, and the HITL policy the
AI system enforces. Thin: parse, call `governance.services` or the gate, shape."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from evals.models import EvalRun
from genai_po.api.base import OrgScopedAPIMixin, OrgScopedViewSet
from genai_po.api.errors import drf_validation_error as _invalid
from genai_po.models import User
from genai_po.roles import Action
from governance import gate as release_gate
from governance import selectors
from governance.api.serializers import (
    FollowUpSerializer,
    FollowUpWriteSerializer,
    GateSerializer,
    HitlPolicySerializer,
    IncidentFilterSerializer,
    IncidentReportSerializer,
    IncidentSerializer,
    IncidentStatusSerializer,
    IncidentWriteSerializer,
    ReleaseFilterSerializer,
    ReleaseSerializer,
    ReleaseWriteSerializer,
)
from governance.models import Incident, IncidentFollowUp, Release
from governance.services import incidents, releases
from governance.services.hitl import etag_of, policy_document, served_policy
from usecases.models import UseCase


def gate_data(gate, base_url: str = "") -> dict:
    """The gate as CI reads it (the API and the CLI's contract)."""
    release = gate.release
    return {
        "release": release.key,
        "verdict": gate.verdict,
        "blockers": [b.as_dict(base_url) for b in gate.blockers],
        "items": [
            {
                "key": s.item.key,
                "text": s.item.text,
                "kind": s.item.kind,
                "state": s.state,
                "detail": s.detail,
            }
            for s in gate.items
        ],
        "sign_offs_required": gate.required,
        "sign_offs_fresh": gate.approvals,
        "state_hash": gate.state_hash,
        "status": release.status,
        "rollout_stage": release.rollout_stage,
    }


class ReleaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Releases, addressed by number (REL-n). Reading needs `read`; creating needs `write`.
    The gate (`{number}/gate/`) is what a CI pipeline asks before it deploys."""

    model = Release
    serializer_class = ReleaseSerializer
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"
    filters: dict = {}

    def scope_queryset(self, queryset):
        f = self.filters
        return selectors.releases_of(
            self.request.organization,
            use_case=f.get("use_case"),
            status=f.get("status", ""),
        ).select_related("hitl_policy")

    @extend_schema(parameters=[ReleaseFilterSerializer])
    def list(self, request, *args, **kwargs):
        filters = ReleaseFilterSerializer(data=dict(request.query_params.items()))
        filters.is_valid(raise_exception=True)
        self.filters = dict(filters.validated_data)
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ReleaseWriteSerializer, responses={201: ReleaseSerializer})
    def create(self, request, *args, **kwargs):
        payload = ReleaseWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        org = request.organization
        use_case = UseCase.objects.for_org(org).filter(pk=data.pop("use_case")).first()
        if use_case is None:
            raise exceptions.ValidationError({"use_case": ["No such use case here."]})
        if "eval_run" in data and data["eval_run"] is not None:
            run = (
                EvalRun.objects.for_org(org)
                .select_related("plan")
                .filter(pk=data["eval_run"])
                .first()
            )
            if run is None:
                raise exceptions.ValidationError({"eval_run": ["No such run here."]})
            data["eval_run"] = run
        try:
            release = releases.release_create(actor=self.actor, use_case=use_case, data=data)
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(
            ReleaseSerializer(self.get_queryset().get(pk=release.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        responses={200: GateSerializer},
        description="The release gate for CI: `ready`, `blocked` or `insufficient_evidence`, "
        "each blocker with the page where it is resolved.",
    )
    @action(detail=True, methods=["get"])
    def gate(self, request, *args, **kwargs):
        release = self.get_object()
        gate = release_gate.evaluate(release)
        return Response(gate_data(gate, request.build_absolute_uri("/")[:-1]))


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): `*`, or any listed tag equal to
    ours once a `W/` prefix is dropped."""
    tags = [t.strip() for t in header.split(",") if t.strip()]
    bare = etag.removeprefix("W/")
    return "*" in tags or any(t.removeprefix("W/") == bare for t in tags)


class HitlPolicyView(OrgScopedAPIMixin, APIView):
    """The HITL policy the AI system's runtime enforces: the version its approved release
    pinned (`approved_in`), or, before any approval, the newest (`approved_in: null`).

    Send `If-None-Match` with the last ETag: 304 until another version is served.
    """

    model = UseCase
    actions = {"GET": (Action.VIEW, Action.SEARCH_KNOWLEDGE)}

    @extend_schema(
        parameters=[OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER)],
        responses={200: HitlPolicySerializer, 304: None},
    )
    def get(self, request, pk: str):
        use_case = UseCase.objects.for_org(request.organization).filter(pk=pk).first()
        if use_case is None:
            raise Http404
        policy, release = served_policy(use_case)
        if policy is None:
            raise exceptions.NotFound(
                f"UC-{use_case.number} has no HITL policy yet: write one under Governance."
            )
        etag = etag_of(policy)
        if _etag_matches(request.headers.get("If-None-Match", ""), etag):
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = Response(policy_document(policy, release))
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response


def _incident_data(org, validated: dict) -> dict:
    """The API's ids as the service's objects (of this organization, else a 400)."""
    data = dict(validated)
    if "type" in data:
        data["incident_type"] = data.pop("type")
    if "use_case" in data:
        data["use_case"] = UseCase.objects.for_org(org).filter(pk=data["use_case"]).first()
        if data["use_case"] is None:
            raise exceptions.ValidationError({"use_case": ["No such use case here."]})
    if data.get("release") is not None:
        data["release"] = Release.objects.for_org(org).filter(pk=data["release"]).first()
        if data["release"] is None:
            raise exceptions.ValidationError({"release": ["No such release here."]})
    for key in ("reporter", "owner"):
        if data.get(key) is not None:
            data[key] = User.objects.filter(pk=data[key]).first()
            if data[key] is None:
                raise exceptions.ValidationError({key: ["Choose a member of this organization."]})
    return data


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Incident reports, addressed by number (INC-n), with their follow-ups, contributing
    gaps, regression case and Article 73 clock. Reading needs `read`; writing `write`."""

    model = Incident
    serializer_class = IncidentSerializer
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"
    filters: dict = {}

    def scope_queryset(self, queryset):
        f = self.filters
        org = self.request.organization
        return selectors.incidents_of(
            org,
            use_case=f.get("use_case"),
            status=f.get("status", ""),
            severity=f.get("severity"),
            serious=f.get("serious"),
        ).prefetch_related(
            Prefetch(
                "follow_ups",
                queryset=IncidentFollowUp.objects.for_org(org).select_related("owner"),
            ),
            "gap_links__gap",
            "regression_case",
            "reporter",
        )

    def _shown(self, incident):
        self.filters = {}
        return IncidentSerializer(self.get_queryset().get(pk=incident.pk)).data

    @extend_schema(parameters=[IncidentFilterSerializer])
    def list(self, request, *args, **kwargs):
        filters = IncidentFilterSerializer(data=dict(request.query_params.items()))
        filters.is_valid(raise_exception=True)
        self.filters = {k: v for k, v in filters.validated_data.items() if v is not None}
        return super().list(request, *args, **kwargs)

    @extend_schema(request=IncidentWriteSerializer, responses={201: IncidentSerializer})
    def create(self, request, *args, **kwargs):
        payload = IncidentWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = _incident_data(request.organization, payload.validated_data)
        incident = incidents.incident_create(actor=self.actor, data=data)
        return Response(self._shown(incident), status=status.HTTP_201_CREATED)

    @extend_schema(request=IncidentWriteSerializer, responses={200: IncidentSerializer})
    def partial_update(self, request, *args, **kwargs):
        incident = self.get_object()
        payload = IncidentWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = _incident_data(request.organization, payload.validated_data)
        incidents.incident_update(actor=self.actor, incident=incident, data=data)
        return Response(self._shown(incident))

    @extend_schema(request=IncidentStatusSerializer, responses={200: IncidentSerializer})
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, *args, **kwargs):
        """Move the incident; closing needs every follow-up done or accepted as is."""
        incident = self.get_object()
        payload = IncidentStatusSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        incidents.incident_set_status(
            actor=self.actor, incident=incident, status=payload.validated_data["status"]
        )
        return Response(self._shown(incident))

    @extend_schema(request=IncidentReportSerializer, responses={200: IncidentSerializer})
    @action(detail=True, methods=["post"])
    def reports(self, request, *args, **kwargs):
        """Record that the initial or the complete Article 73 report was sent."""
        incident = self.get_object()
        payload = IncidentReportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        incidents.incident_record_report(
            actor=self.actor, incident=incident, **payload.validated_data
        )
        return Response(self._shown(incident))

    @extend_schema(request=FollowUpWriteSerializer, responses={201: FollowUpSerializer})
    @action(detail=True, methods=["post"], url_path="follow-ups")
    def follow_ups(self, request, *args, **kwargs):
        """Add a follow-up action (owner, due date)."""
        incident = self.get_object()
        payload = FollowUpWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = _incident_data(request.organization, payload.validated_data)
        row = incidents.follow_up_add(actor=self.actor, incident=incident, data=data)
        return Response(FollowUpSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=FollowUpWriteSerializer, responses={200: FollowUpSerializer})
    @action(
        detail=True,
        methods=["patch"],
        url_path=r"follow-ups/(?P<follow_up>[0-9]{1,18})",
    )
    def follow_up(self, request, *args, follow_up=None, **kwargs):
        """Change a follow-up: done, accepted as is (with a note), or open again."""
        incident = self.get_object()
        row = (
            IncidentFollowUp.objects.for_org(request.organization)
            .filter(incident=incident, pk=follow_up)
            .first()
        )
        if row is None:
            raise Http404
        payload = FollowUpWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = _incident_data(request.organization, payload.validated_data)
        row = incidents.follow_up_update(actor=self.actor, follow_up=row, data=data)
        return Response(FollowUpSerializer(row).data)
