from rest_framework import serializers

from genai_po.models import ApiToken, AuditEvent, Membership, Organization
from genai_po.roles import Role


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name"]


class TokenInfoSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["name", "prefix", "scopes", "created_at", "expires_at", "last_used_at"]


class MeSerializer(serializers.Serializer):
    organization = OrganizationSerializer()
    token = TokenInfoSerializer()


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "created_at"]
        read_only_fields = ["id", "email", "full_name", "created_at"]


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", *AuditEvent.PUBLIC_FIELDS]
