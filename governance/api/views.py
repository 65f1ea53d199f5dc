"""REST API of the governance area: releases, the CI release gate, and the HITL policy the
AI system enforces. Thin: parse, call `governance.services` or the gate, shape."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from evals.models import EvalRun
from genai_po.api.base import OrgScopedAPIMixin, OrgScopedViewSet
from genai_po.api.errors import drf_validation_error as _invalid
from genai_po.roles import Action
from governance import gate as release_gate
from governance import selectors
from governance.api.serializers import (
    GateSerializer,
    HitlPolicySerializer,
    ReleaseFilterSerializer,
    ReleaseSerializer,
    ReleaseWriteSerializer,
)
from governance.models import Release
from governance.services import releases
from governance.services.hitl import current_policy, etag_of, policy_document
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


class HitlPolicyView(OrgScopedAPIMixin, APIView):
    """The use case's current HITL policy, exactly as approved, for the AI system's runtime.

    Send `If-None-Match` with the last ETag: 304 until a new version is saved.
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
        policy = current_policy(use_case)
        if policy is None:
            raise exceptions.NotFound(
                f"UC-{use_case.number} has no HITL policy yet: write one under Governance."
            )
        etag = etag_of(policy)
        if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = Response(policy_document(policy))
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response
