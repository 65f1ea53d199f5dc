"""RequirementVerification keeps named human reviews only: eval cases now link to
requirements from the evals app (evals 0002 copied those rows first), monitors will from
metrics."""

from django.db import migrations


def drop_other_kinds(apps, schema_editor):
    Verification = apps.get_model("usecases", "RequirementVerification")
    Verification.objects.exclude(kind="human_review").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("usecases", "0002_usecase_nulls_last"),
    ]

    operations = [
        migrations.RunPython(drop_other_kinds, migrations.RunPython.noop),
        migrations.RemoveField(model_name="requirementverification", name="kind"),
        migrations.RemoveField(model_name="requirementverification", name="target_id"),
        migrations.RemoveField(model_name="requirementverification", name="target_type"),
    ]
