from django.contrib import admin

from genai_po.admin import CrossOrgAdmin
from governance.models import AuditEvent


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
