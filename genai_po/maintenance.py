"""Operator maintenance that no page or API offers: deleting a whole organization.

An organization's audit trail is append-only (on PostgreSQL a trigger refuses UPDATE and
DELETE of its rows), so deleting a tenant is this one explicit path: the transaction
says it purges, then the organization and everything it owns go, its trail included.
"""

from django.db import connection, transaction

from genai_po.models import Organization


def organization_purge(*, organization: Organization) -> None:
    """Delete the organization with all of its data, its audit trail included."""
    with transaction.atomic():
        _audit_purge_flag("on")
        Organization.objects.filter(pk=organization.pk).delete()
        # SET LOCAL lasts until the end of the outermost transaction: switch it off again
        # for whatever the caller does next in it.
        _audit_purge_flag("off")


def _audit_purge_flag(value: str) -> None:
    """Read by the append-only trigger (genai_po migration 0003)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('genai_po.audit_purge', %s, true)", [value])
