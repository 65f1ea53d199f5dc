"""The audit trail is platform code now (genai_po 0002 took the model and its table)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("governance", "0002_audit_actor_never_rewritten"),
        ("genai_po", "0002_audit_trail_in_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
