"""Expertise tags move from a JSON list on the membership (which `__contains` could not
query on SQLite) to the normalized ExpertiseTag / SmeExpertise tables of this app. Runs
before the core drops the column."""

from django.db import migrations
from django.utils.text import slugify


def copy_tags(apps, schema_editor):
    Membership = apps.get_model("genai_po", "Membership")
    ExpertiseTag = apps.get_model("context", "ExpertiseTag")
    SmeProfile = apps.get_model("context", "SmeProfile")
    SmeExpertise = apps.get_model("context", "SmeExpertise")
    # Historical models carry no scoped manager: the base manager crosses organizations.
    for membership in Membership._base_manager.exclude(expertise_tags=[]).iterator():
        names = []
        for value in membership.expertise_tags or []:
            name = slugify(str(value), allow_unicode=True)[:60]
            if name and name not in names:
                names.append(name)
        if not names:
            continue
        org_id = membership.organization_id
        profile, _ = SmeProfile._base_manager.get_or_create(
            organization_id=org_id, user_id=membership.user_id
        )
        for name in names[:20]:
            tag, _ = ExpertiseTag._base_manager.get_or_create(organization_id=org_id, name=name)
            SmeExpertise._base_manager.get_or_create(
                organization_id=org_id, profile=profile, tag=tag
            )


class Migration(migrations.Migration):
    dependencies = [("context", "0001_initial")]
    run_before = [("genai_po", "0004_membership_tags_move_to_context")]

    operations = [migrations.RunPython(copy_tags, migrations.RunPython.noop)]
