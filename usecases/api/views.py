"""REST API of the use-case area: briefs, stage moves, the AI PRD and its requirements.

Thin: parse with a serializer, write through `usecases.services` (validation and audit
live there), read through `usecases.selectors`, shape the answer.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from genai_po.api.base import OrgScopedViewSet
from usecases import selectors, services
from usecases.api.serializers import (
    ErrorSerializer,
    PrdSaveSerializer,
    PrdSerializer,
    PrdVersionSerializer,
    PrdVersionSummarySerializer,
    RequirementCreateSerializer,
    RequirementFilterSerializer,
    RequirementSerializer,
    RequirementUpdateSerializer,
    StageMoveSerializer,
    StageTransitionSerializer,
    UseCaseCreateSerializer,
    UseCaseFilterSerializer,
    UseCaseSerializer,
    UseCaseUpdateSerializer,
)
from usecases.gates import gate_for_move
from usecases.models import (
    PRD_SECTION_KEYS,
    PrdVersion,
    Requirement,
    UseCase,
)

_INVALID = OpenApiResponse(ErrorSerializer, description="Invalid input; `errors` by field.")
_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such object in this organization.")

_USE_CASE_ORDERINGS = {
    "rank": (F("priority_score").desc(nulls_last=True), "number"),
    "-rank": (F("priority_score").asc(nulls_first=True), "-number"),
    "key": ("number",),
    "-key": ("-number",),
    "updated": ("updated_at", "number"),
    "-updated": ("-updated_at", "-number"),
}


def _query_params(request) -> dict:
    """Query parameters as single values (the last one wins, as in QueryDict.get)."""
    return {key: request.query_params.get(key) for key in request.query_params}


def _split(validated: dict, *names: str) -> tuple[dict, ...]:
    data = dict(validated)
    return (data, *(data.pop(name, None) for name in names))


class UseCaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Use-case briefs of the token's organization. Reading needs `read`; writing `write`.

    There is no DELETE: archive with PATCH `{"archived": true}`.
    """

    model = UseCase
    serializer_class = UseCaseSerializer
    lookup_value_regex = "[0-9]+"
    list_filters: dict = {}

    def scope_queryset(self, queryset):
        organization = self.request.organization
        if self.action == "list":
            filters = dict(self.list_filters)
            ordering = filters.pop("ordering", "rank")
            # The selector scopes to the same organization and applies the filters; the
            # API's rank and ordering replace its own.
            queryset = selectors.use_cases_filtered(organization=organization, **filters)
            queryset = queryset.order_by(*_USE_CASE_ORDERINGS[ordering])
        return queryset.select_related("owner").annotate(
            rank=selectors.rank_expression(organization)
        )

    def _shown(self, use_case: UseCase) -> dict:
        """The use case as the API shows it, read again after a write (rank may move)."""
        return UseCaseSerializer(self.get_queryset().get(pk=use_case.pk)).data

    @extend_schema(
        parameters=[UseCaseFilterSerializer],
        responses={200: UseCaseSerializer(many=True), 400: _INVALID},
    )
    def list(self, request, *args, **kwargs):
        filters = UseCaseFilterSerializer(data=_query_params(request))
        filters.is_valid(raise_exception=True)
        self.list_filters = {k: v for k, v in filters.validated_data.items() if v not in ("", None)}
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: UseCaseSerializer, 404: _NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=UseCaseCreateSerializer, responses={201: UseCaseSerializer, 400: _INVALID}
    )
    def create(self, request, *args, **kwargs):
        payload = UseCaseCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        brief, scores = _split(payload.validated_data, "scores")
        with transaction.atomic():  # all of it or nothing
            use_case = services.use_case_create(actor=self.actor, data=brief)
            if scores:
                services.use_case_score(actor=self.actor, use_case=use_case, scores=scores)
        return Response(self._shown(use_case), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=UseCaseUpdateSerializer,
        responses={200: UseCaseSerializer, 400: _INVALID, 404: _NOT_FOUND},
    )
    def partial_update(self, request, *args, **kwargs):
        use_case = self.get_object()
        payload = UseCaseUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        brief, scores, archived = _split(payload.validated_data, "scores", "archived")
        with transaction.atomic():  # all of it or nothing
            if archived is False:
                services.use_case_archive(actor=self.actor, use_case=use_case, archived=False)
            if brief:
                services.use_case_update(actor=self.actor, use_case=use_case, data=brief)
            if scores:
                services.use_case_score(actor=self.actor, use_case=use_case, scores=scores)
            if archived:
                services.use_case_archive(actor=self.actor, use_case=use_case, archived=True)
        return Response(self._shown(use_case))

    @extend_schema(
        request=StageMoveSerializer,
        responses={
            200: StageTransitionSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Invalid move. When the gate is not met and no override reason "
                "is given, `errors.unmet` lists the criteria not met ({label, state, detail}).",
            ),
            404: _NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post"])
    def stage(self, request, *args, **kwargs):
        """Move the use case to another lifecycle stage, through the gates of the guide."""
        use_case = self.get_object()
        payload = StageMoveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        to_stage = payload.validated_data["to_stage"]
        try:
            transition = services.use_case_move_stage(
                actor=self.actor,
                use_case=use_case,
                to_stage=to_stage,
                override_reason=payload.validated_data["override_reason"],
            )
        except DjangoValidationError as exc:
            if "override_reason" not in getattr(exc, "error_dict", {}):
                raise
            readiness = selectors.readiness_of(use_case=use_case)
            unmet = [
                {"label": c.label, "state": c.state, "detail": c.detail}
                for c in gate_for_move(use_case, to_stage, readiness)
                if not c.met
            ]
            raise ValidationError({**exc.message_dict, "unmet": unmet}) from exc
        return Response(StageTransitionSerializer(transition).data)

    # --- The AI PRD

    def _prd_document(self, use_case: UseCase) -> dict:
        prd = selectors.prd_of(use_case=use_case)
        requirements = selectors.requirements_of(use_case=use_case)
        for requirement in requirements:
            requirement.use_case = use_case  # shown with its key; no query per row
        readiness = selectors.readiness_of(use_case=use_case, requirements=requirements)
        sections = prd.sections if prd else services.prd_template_of(use_case.organization_id)
        return {
            "use_case": use_case.pk,
            "use_case_key": use_case.key,
            "version": prd.version if prd else 0,
            "updated_at": prd.updated_at if prd else None,
            "sections": {key: sections.get(key, "") for key in PRD_SECTION_KEYS},
            "requirements": requirements,
            "readiness": {
                "ready": readiness.ready,
                "requirement_count": readiness.requirement_count,
                "launch_blocking_count": readiness.launch_blocking_count,
                "unverified": [
                    {"key": requirement.key, "reasons": reasons}
                    for requirement, reasons in readiness.unverified
                ],
            },
        }

    @extend_schema(methods=["GET"], responses={200: PrdSerializer, 404: _NOT_FOUND})
    @extend_schema(
        methods=["PUT"],
        request=PrdSaveSerializer,
        responses={200: PrdSerializer, 400: _INVALID, 404: _NOT_FOUND},
        description="Save the given sections (the others keep their text) as the PRD's next "
        "version, with a change summary.",
    )
    @action(detail=True, methods=["get", "put"])
    def prd(self, request, *args, **kwargs):
        """The use case's current AI PRD: sections, requirements and readiness."""
        use_case = self.get_object()
        if request.method == "PUT":
            payload = PrdSaveSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            services.prd_save(actor=self.actor, use_case=use_case, **payload.validated_data)
        return Response(PrdSerializer(self._prd_document(use_case)).data)

    @extend_schema(responses={200: PrdVersionSummarySerializer(many=True), 404: _NOT_FOUND})
    @action(detail=True, methods=["get"], url_path="prd/versions")
    def prd_versions(self, request, *args, **kwargs):
        """The PRD's saved versions, newest first."""
        use_case = self.get_object()
        prd = selectors.prd_of(use_case=use_case)
        versions = (
            selectors.prd_versions(prd=prd).defer("content")
            if prd is not None
            else PrdVersion.objects.none()
        )
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(PrdVersionSummarySerializer(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: PrdVersionSerializer, 404: _NOT_FOUND},
    )
    @action(detail=True, methods=["get"], url_path=r"prd/versions/(?P<number>[0-9]+)")
    def prd_version(self, request, *args, number=None, **kwargs):
        """One saved version of the PRD with its content."""
        use_case = self.get_object()
        prd = selectors.prd_of(use_case=use_case)
        version = (
            selectors.prd_versions(prd=prd).filter(number=int(number)).first()
            if prd is not None
            else None
        )
        if version is None:
            raise Http404
        return Response(PrdVersionSerializer(version).data)


class RequirementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Behavioral requirements of the organization's use cases, keyed REQ-<n> per use case."""

    model = Requirement
    serializer_class = RequirementSerializer
    lookup_value_regex = "[0-9]+"
    list_filters: dict = {}

    def scope_queryset(self, queryset):
        queryset = queryset.select_related("use_case", "owner")
        if self.action == "list":
            queryset = queryset.filter(**{
                ("use_case_id" if name == "use_case" else name): value
                for name, value in self.list_filters.items()
            })  # fmt: skip
        return queryset.order_by("use_case__number", "position", "number")

    def _shown(self, requirement: Requirement) -> dict:
        (shown,) = selectors.with_verifications(
            self.request.organization, [self.get_queryset().get(pk=requirement.pk)]
        )
        return RequirementSerializer(shown).data

    @extend_schema(
        parameters=[RequirementFilterSerializer],
        responses={200: RequirementSerializer(many=True), 400: _INVALID},
    )
    def list(self, request, *args, **kwargs):
        filters = RequirementFilterSerializer(data=_query_params(request))
        filters.is_valid(raise_exception=True)
        self.list_filters = {k: v for k, v in filters.validated_data.items() if v != ""}
        page = self.paginate_queryset(self.get_queryset())
        page = selectors.with_verifications(request.organization, page)
        return self.get_paginated_response(RequirementSerializer(page, many=True).data)

    @extend_schema(responses={200: RequirementSerializer, 404: _NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return Response(self._shown(self.get_object()))

    @extend_schema(
        request=RequirementCreateSerializer,
        responses={201: RequirementSerializer, 400: _INVALID},
    )
    def create(self, request, *args, **kwargs):
        payload = RequirementCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        data, use_case = _split(payload.validated_data, "use_case")
        requirement = services.requirement_add(actor=self.actor, use_case=use_case, data=data)
        return Response(self._shown(requirement), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=RequirementUpdateSerializer,
        responses={200: RequirementSerializer, 400: _INVALID, 404: _NOT_FOUND},
    )
    def partial_update(self, request, *args, **kwargs):
        requirement = self.get_object()
        payload = RequirementUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.requirement_update(
            actor=self.actor, requirement=requirement, data=dict(payload.validated_data)
        )
        return Response(self._shown(requirement))

    @extend_schema(responses={204: None, 404: _NOT_FOUND})
    def destroy(self, request, *args, **kwargs):
        """Delete a requirement; its key is never given to another one."""
        services.requirement_delete(actor=self.actor, requirement=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
