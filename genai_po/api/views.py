"""API of the tenancy core: who am I, members, and the audit trail."""

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.response import Response
from rest_framework.views import APIView

from genai_po import services
from genai_po.api.base import OrgScopedViewSet
from genai_po.api.serializers import (
    AuditEventSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    MeSerializer,
)
from genai_po.models import AuditEvent, Membership
from genai_po.roles import Action


class MeView(APIView):
    """The token's organization and scopes. Any valid token may ask."""

    actions = {"GET": None}

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        token = request.auth
        return Response(MeSerializer({"organization": token.organization, "token": token}).data)


class MemberViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrgScopedViewSet
):
    """Members of the token's organization. Changing roles and removing need `admin`."""

    model = Membership
    serializer_class = MemberSerializer
    actions = {"partial_update": Action.MANAGE_MEMBERS, "destroy": Action.MANAGE_MEMBERS}
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def scope_queryset(self, queryset):
        queryset = queryset.select_related("user").order_by("user__email")
        role = self.request.query_params.get("role")
        return queryset.filter(role=role) if role else queryset

    @extend_schema(
        parameters=[OpenApiParameter("role", str, description="Only members with this role")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=MemberRoleSerializer, responses=MemberSerializer)
    def partial_update(self, request, *args, **kwargs):
        membership = self.get_object()
        payload = MemberRoleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = services.membership_role_change(
            actor=self.actor, membership=membership, role=payload.validated_data["role"]
        )
        return Response(MemberSerializer(membership).data)

    def perform_destroy(self, instance):
        services.membership_remove(actor=self.actor, membership=instance)


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The organization's audit trail, newest first. Needs the `admin` scope."""

    model = AuditEvent
    serializer_class = AuditEventSerializer
    actions = {"list": Action.VIEW_AUDIT, "retrieve": Action.VIEW_AUDIT}

    def scope_queryset(self, queryset):
        params = self.request.query_params
        queryset = queryset.order_by("-seq")
        filters = Q()
        if params.get("action"):
            filters &= Q(action=params["action"])
        if params.get("object_type"):
            filters &= Q(object_type=params["object_type"])
        return queryset.filter(filters)

    @extend_schema(
        parameters=[
            OpenApiParameter("action", str, description="Only events of this action"),
            OpenApiParameter("object_type", str, description="Only events on this object type"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
