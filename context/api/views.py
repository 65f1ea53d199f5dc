"""REST API of the context area: sources, gaps (route, status, answers), knowledge, and
the knowledge search the AI system itself calls.

Thin: parse with a serializer, write through `context.services`, shape the answer.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from context import selectors, services
from context.api.serializers import (
    AnswerSerializer,
    AnswerWriteSerializer,
    GapListFilterSerializer,
    GapRouteSerializer,
    GapSerializer,
    GapStatusSerializer,
    GapWriteSerializer,
    KnowledgeHitSerializer,
    KnowledgeSearchParamsSerializer,
    KnowledgeSerializer,
    SourceListFilterSerializer,
    SourceSerializer,
    SourceWriteSerializer,
    knowledge_hit_data,
)
from context.models import (
    ContextGap,
    ContextSource,
    KnowledgeCitation,
    KnowledgeItem,
    KnowledgeStatus,
    KnowledgeUseCase,
)
from genai_po.api.base import OrgScopedViewSet
from genai_po.api.errors import drf_validation_error as _invalid
from genai_po.api.throttling import KnowledgeSearchThrottle
from genai_po.inputs import digits_only
from genai_po.models import Membership, User
from genai_po.roles import Action
from usecases.models import Requirement, UseCase


def _query(request) -> dict:
    return {key: request.query_params.get(key) for key in request.query_params}


def _filters(serializer_class, request) -> dict:
    """A list's query parameters, checked by its filter serializer (400 otherwise)."""
    filters = serializer_class(data=_query(request))
    filters.is_valid(raise_exception=True)
    return dict(filters.validated_data)


def _members(organization, ids, field: str) -> list:
    ids = set(ids)
    users = list(
        User.objects.filter(
            pk__in=Membership.objects.for_org(organization)
            .filter(user_id__in=ids)
            .values("user_id")
        )
    )
    if len(users) != len(ids):
        raise exceptions.ValidationError({field: ["Choose members of this organization."]})
    return users


def _member(organization, user_id, field: str):
    return _members(organization, [user_id], field)[0] if user_id else None


def _rows(model, organization, ids, field: str) -> list:
    ids = set(ids)
    rows = list(model.objects.for_org(organization).filter(pk__in=ids))
    if len(rows) != len(ids):
        raise exceptions.ValidationError({field: ["Choose rows of this organization."]})
    return rows


class SourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The context inventory. Reading needs `read`; adding and changing need `write`;
    `verify` (the source was checked today) too."""

    model = ContextSource
    serializer_class = SourceSerializer
    lookup_value_regex = "[0-9]+"
    actions = {"verify": Action.ANSWER_SME}
    filters: dict = {}

    def scope_queryset(self, queryset):
        f = self.filters
        return selectors.sources_of(
            self.request.organization,
            rows=queryset,
            use_case=f.get("use_case"),
            freshness=f.get("freshness", ""),
            approval=f.get("approval_status", ""),
            source_type=f.get("source_type", ""),
        ).order_by("name", "pk")

    @extend_schema(parameters=[SourceListFilterSerializer])
    def list(self, request, *args, **kwargs):
        self.filters = _filters(SourceListFilterSerializer, request)
        return super().list(request, *args, **kwargs)

    def _write(self, payload: dict) -> tuple[dict, dict]:
        org = self.request.organization
        data = {
            k: v for k, v in payload.items() if k not in ("use_cases", "smes", "approval_status")
        }
        for field in ("owner", "steward"):
            if field in data:
                data[field] = _member(org, data[field], field)
        links = {}
        if "use_cases" in payload:
            links["use_cases"] = _rows(UseCase, org, payload["use_cases"], "use_cases")
        if "smes" in payload:
            links["smes"] = _members(org, payload["smes"], "smes")
        return data, links

    @extend_schema(request=SourceWriteSerializer, responses={201: SourceSerializer})
    def create(self, request, *args, **kwargs):
        payload = SourceWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data, links = self._write(payload.validated_data)
        try:
            source = services.source_create(actor=self.actor, data=data, **links)
            if payload.validated_data.get("approval_status"):
                source = services.source_set_approval(
                    actor=self.actor,
                    source=source,
                    status=payload.validated_data["approval_status"],
                )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(SourceSerializer(source).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SourceWriteSerializer(partial=True), responses={200: SourceSerializer})
    def partial_update(self, request, *args, **kwargs):
        source = self.get_object()
        payload = SourceWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data, links = self._write(payload.validated_data)
        try:
            if data or links:
                source = services.source_update(actor=self.actor, source=source, data=data, **links)
            if payload.validated_data.get("approval_status"):
                source = services.source_set_approval(
                    actor=self.actor,
                    source=source,
                    status=payload.validated_data["approval_status"],
                )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(SourceSerializer(self.get_object()).data)

    @extend_schema(request=None, responses={200: SourceSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request, *args, **kwargs):
        source = services.source_mark_verified(actor=self.actor, source=self.get_object())
        return Response(SourceSerializer(source).data)


class GapViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Context gaps, addressed by number (GAP-n). Reading needs `read`; recording,
    editing, routing and status changes need `write`; answering needs `write` too."""

    model = ContextGap
    serializer_class = GapSerializer
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"
    actions = {"answers": Action.ANSWER_SME, "create": Action.ANSWER_SME}
    filters: dict = {}

    def scope_queryset(self, queryset):
        f = self.filters
        status_ = f.get("status", "")
        return (
            selectors.gaps_of(
                self.request.organization,
                rows=queryset,
                status="" if status_ == "open" else status_,
                open_only=status_ == "open",
                use_case=f.get("use_case"),
                assigned_to=f.get("assigned_to"),
            )
            .select_related("backup", "duplicate_of")
            .prefetch_related("tag_links__tag", "use_case_links__use_case")
            .order_by("-impact", "-number")
        )

    @extend_schema(parameters=[GapListFilterSerializer])
    def list(self, request, *args, **kwargs):
        self.filters = _filters(GapListFilterSerializer, request)
        return super().list(request, *args, **kwargs)

    def _links(self, payload: dict) -> dict:
        org = self.request.organization
        links = {}
        if "use_cases" in payload:
            links["use_cases"] = _rows(UseCase, org, payload["use_cases"], "use_cases")
        if "requirements" in payload:
            links["requirements"] = _rows(Requirement, org, payload["requirements"], "requirements")
        if "tags" in payload:
            links["tags"] = payload["tags"]
        return links

    @extend_schema(request=GapWriteSerializer, responses={201: GapSerializer})
    def create(self, request, *args, **kwargs):
        payload = GapWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            gap = services.gap_create(
                actor=self.actor,
                question=data["question"],
                detected_by=data.get("detected_by", "manual"),
                severity=data.get("severity", "medium"),
                priority=data.get("priority", ""),
                **self._links(data),
            )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(
            GapSerializer(self.get_queryset().get(pk=gap.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=GapWriteSerializer(partial=True), responses={200: GapSerializer})
    def partial_update(self, request, *args, **kwargs):
        gap = self.get_object()
        payload = GapWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            services.gap_update(
                actor=self.actor,
                gap=gap,
                data={k: data[k] for k in ("question", "severity", "priority") if k in data},
                **self._links(data),
            )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(GapSerializer(self.get_object()).data)

    @extend_schema(request=GapRouteSerializer, responses={200: GapSerializer})
    @action(detail=True, methods=["post"])
    def route(self, request, *args, **kwargs):
        gap = self.get_object()
        payload = GapRouteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        org = request.organization
        try:
            services.gap_route(
                actor=self.actor,
                gap=gap,
                assignee=_member(org, payload.validated_data.get("assignee"), "assignee"),
                backup=_member(org, payload.validated_data.get("backup"), "backup"),
            )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(GapSerializer(self.get_object()).data)

    @extend_schema(request=GapStatusSerializer, responses={200: GapSerializer})
    @action(detail=True, methods=["post"])
    def status(self, request, *args, **kwargs):
        gap = self.get_object()
        payload = GapStatusSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        duplicate_of = None
        if data.get("duplicate_of"):
            duplicate_of = (
                ContextGap.objects.for_org(request.organization)
                .filter(number=data["duplicate_of"])
                .first()
            )
            if duplicate_of is None:
                raise exceptions.ValidationError({"duplicate_of": ["No such gap."]})
        try:
            services.gap_set_status(
                actor=self.actor,
                gap=gap,
                status=data["status"],
                resolution=data.get("resolution", ""),
                duplicate_of=duplicate_of,
            )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(GapSerializer(self.get_object()).data)

    @extend_schema(request=AnswerWriteSerializer, responses={201: AnswerSerializer})
    @action(detail=True, methods=["post"])
    def answers(self, request, *args, **kwargs):
        """Send an answer to review (a person reviews it in the app)."""
        gap = self.get_object()
        payload = AnswerWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        citations = _rows(
            ContextSource, request.organization, data.pop("citations", []), "citations"
        )
        data.setdefault("confidence", "high")
        try:
            answer = services.answer_submit(
                actor=self.actor, gap=gap, data=data, citations=citations
            )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(AnswerSerializer(answer).data, status=status.HTTP_201_CREATED)


def _knowledge_rows(organization):
    return (
        KnowledgeItem.objects.for_org(organization)
        .select_related("current")
        .prefetch_related(
            Prefetch(
                "use_case_links",
                KnowledgeUseCase.objects.for_org(organization).select_related("use_case"),
            ),
            Prefetch(
                "current__citation_links",
                KnowledgeCitation.objects.for_org(organization).select_related("source"),
            ),
        )
    )


class KnowledgeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Knowledge items, addressed by number (KB-n): published by default,
    `?status=retired` for the others. Needs `read`."""

    model = KnowledgeItem
    serializer_class = KnowledgeSerializer
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"

    def scope_queryset(self, queryset):
        status_ = self.request.query_params.get("status", KnowledgeStatus.PUBLISHED)
        if self.action == "list":
            if status_ not in KnowledgeStatus.values:
                raise exceptions.ValidationError({"status": ["Use published or retired."]})
            queryset = queryset.filter(status=status_)
        return (
            _knowledge_rows(self.request.organization)
            .filter(pk__in=queryset.values("pk"))
            .order_by("-published_at", "-pk")
        )


class KnowledgeSearchView(APIView):
    """Ranked published knowledge for a question: what the AI system retrieves.

    `GET /api/v1/knowledge/search?q=…&use_case=UC-3&limit=10` with a `knowledge:read`
    (or `read`) token. Only the token's organization's published items; best first,
    `score` in (0, 1]. A use case narrows to its items and those for every use case.
    """

    actions = {"GET": Action.SEARCH_KNOWLEDGE}
    throttle_classes = [KnowledgeSearchThrottle]

    @extend_schema(
        parameters=[KnowledgeSearchParamsSerializer],
        responses={200: KnowledgeHitSerializer(many=True)},
    )
    def get(self, request):
        organization = request.auth.organization
        params = KnowledgeSearchParamsSerializer(data=_query(request))
        params.is_valid(raise_exception=True)
        use_case_id = None
        if ref := params.validated_data.get("use_case"):
            try:
                use_case_id = use_case_id_of(organization, ref)
            except LookupError as exc:
                raise exceptions.ValidationError({"use_case": [str(exc)]}) from exc
        hits = selectors.knowledge_search(
            organization,
            params.validated_data["q"],
            use_case_id=use_case_id,
            limit=params.validated_data["limit"],
        )
        results = [knowledge_hit_data(hit.item, hit.score) for hit in hits]
        return Response(
            {"query": params.validated_data["q"], "count": len(results), "results": results}
        )


def use_case_id_of(organization, ref: str) -> int:
    """The id of a use case named by its key (UC-3) or id; LookupError if there is none."""
    ref = ref.strip().upper()
    rows = UseCase.objects.for_org(organization)
    if ref.startswith("UC-") and digits_only(ref[3:]) and len(ref) < 15:
        found = rows.filter(number=int(ref[3:])).values_list("pk", flat=True).first()
    elif digits_only(ref) and len(ref) < 19:
        found = rows.filter(pk=int(ref)).values_list("pk", flat=True).first()
    else:
        found = None
    if found is None:
        raise LookupError("No such use case (give UC-<n> or its id).")
    return found
