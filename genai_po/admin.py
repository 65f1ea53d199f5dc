"""Django admin for staff: staff see every organization, so queries cross orgs explicitly."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from genai_po.models import ApiToken, AuditEvent, Invitation, Membership, Organization, User


class CrossOrgAdmin(admin.ModelAdmin):
    """Admin of an org-scoped model: staff work across organizations by design."""

    def get_queryset(self, request):
        return super().get_queryset(request).across_orgs()


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    filter_horizontal: list[str] = []
    list_filter = ["is_staff", "is_active"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]

    def has_delete_permission(self, request, obj=None):
        # An organization carries an append-only audit trail: see `purge_organization`.
        return False


@admin.register(Membership)
class MembershipAdmin(CrossOrgAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__slug"]


@admin.register(Invitation)
class InvitationAdmin(CrossOrgAdmin):
    list_display = ["email", "organization", "role", "created_at", "expires_at", "accepted_at"]
    exclude = ["nonce"]


@admin.register(ApiToken)
class ApiTokenAdmin(CrossOrgAdmin):
    list_display = ["name", "prefix", "organization", "created_at", "expires_at", "revoked_at"]
    readonly_fields = ["prefix", "token_hash", "last_used_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(CrossOrgAdmin):
    """Read-only: the audit trail is append-only, even for staff."""

    list_display = ["organization", "seq", "created_at", "actor_label", "action", "object_type"]
    list_filter = ["action"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
