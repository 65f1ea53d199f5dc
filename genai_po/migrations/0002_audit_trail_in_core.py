"""The audit trail moves from governance into the core: same rows, table renamed.

State: genai_po gains AuditEvent here, governance drops it in its 0003. Database: the
table governance_auditevent becomes genai_po_auditevent, its rows untouched.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="genai_po", model="auditevent").exists():
        ContentType.objects.filter(app_label="governance", model="auditevent").update(
            app_label="genai_po"
        )


def _move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="governance", model="auditevent").exists():
        ContentType.objects.filter(app_label="genai_po", model="auditevent").update(
            app_label="governance"
        )


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("genai_po", "0001_initial"),
        ("governance", "0002_audit_actor_never_rewritten"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE governance_auditevent RENAME TO genai_po_auditevent",
                    reverse_sql="ALTER TABLE genai_po_auditevent RENAME TO governance_auditevent",
                ),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("seq", models.PositiveBigIntegerField()),
                        ("created_at", models.DateTimeField()),
                        ("actor_label", models.CharField(max_length=254)),
                        ("actor_role", models.CharField(max_length=20)),
                        ("action", models.CharField(max_length=80)),
                        ("object_type", models.CharField(max_length=80)),
                        ("object_id", models.CharField(max_length=64)),
                        ("before", models.JSONField(blank=True, null=True)),
                        ("after", models.JSONField(blank=True, null=True)),
                        ("request_id", models.CharField(blank=True, max_length=64)),
                        ("ip", models.GenericIPAddressField(blank=True, null=True)),
                        ("prev_hash", models.CharField(max_length=64)),
                        ("hash", models.CharField(max_length=64)),
                        ("actor_token", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="genai_po.apitoken")),
                        ("actor_user", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="genai_po.organization")),
                    ],
                    options={
                        "ordering": ["-seq"],
                        "indexes": [
                            models.Index(fields=["organization", "action"], name="audit_event_action_idx"),
                            models.Index(fields=["organization", "created_at"], name="audit_event_time_idx"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(fields=("organization", "seq"), name="audit_event_unique_seq"),
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(_move_content_type, _move_content_type_back),
    ]
