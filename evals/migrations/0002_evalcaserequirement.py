"""Eval cases verify requirements through a link model of their own (with its organization),
which the PRD reads through evals' verification provider.

The old automatic many-to-many rows are copied, and so are the RequirementVerification
rows the evals app used to write ("<plan id>:<case number>" strings): each becomes a link
of the case's current revision. usecases 0003 then drops those rows and columns.
"""

import django.db.models.deletion
from django.db import migrations, models


def copy_links(apps, schema_editor):
    EvalCase = apps.get_model("evals", "EvalCase")
    Link = apps.get_model("evals", "EvalCaseRequirement")
    Verification = apps.get_model("usecases", "RequirementVerification")
    Old = EvalCase.requirements.through
    wanted = set(
        Old.objects.values_list("evalcase_id", "requirement_id", "evalcase__organization_id")
    )
    for row in Verification.objects.filter(target_type="evals.evalcase").values(
        "requirement_id", "target_id", "organization_id"
    ):
        plan_id, _, number = row["target_id"].partition(":")
        if not ((plan_id.isascii() and plan_id.isdigit()) and (number.isascii() and number.isdigit())):
            continue
        case_id = (
            EvalCase.objects.filter(
                organization_id=row["organization_id"], plan_id=int(plan_id),
                number=int(number), version_removed__isnull=True,
            )  # fmt: skip
            .values_list("pk", flat=True)
            .first()
        )
        if case_id is not None:
            wanted.add((case_id, row["requirement_id"], row["organization_id"]))
    Link.objects.bulk_create(
        [
            Link(case_id=case_id, requirement_id=requirement_id, organization_id=org_id)
            for case_id, requirement_id, org_id in sorted(wanted)
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


def copy_links_back(apps, schema_editor):
    EvalCase = apps.get_model("evals", "EvalCase")
    Link = apps.get_model("evals", "EvalCaseRequirement")
    Old = EvalCase.requirements.through
    Old.objects.bulk_create(
        [
            Old(evalcase_id=case_id, requirement_id=requirement_id)
            for case_id, requirement_id in Link.objects.values_list("case_id", "requirement_id")
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("evals", "0001_initial"),
        ("genai_po", "0001_initial"),
        ("usecases", "0002_usecase_nulls_last"),
    ]
    run_before = [("usecases", "0003_human_reviews_only")]

    operations = [
        migrations.CreateModel(
            name="EvalCaseRequirement",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("case", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="requirement_links", to="evals.evalcase")),
                ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="genai_po.organization")),
                ("requirement", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="eval_case_links", to="usecases.requirement")),
            ],
            options={
                "indexes": [models.Index(fields=["organization", "requirement"], name="evalcasereq_requirement")],
                "constraints": [models.UniqueConstraint(fields=("case", "requirement"), name="evalcaserequirement_unique")],
            },
        ),
        migrations.RunPython(copy_links, copy_links_back),
        migrations.RemoveField(model_name="evalcase", name="requirements"),
        migrations.AddField(
            model_name="evalcase",
            name="requirements",
            field=models.ManyToManyField(blank=True, related_name="eval_case_rows", through="evals.EvalCaseRequirement", to="usecases.requirement"),
        ),
    ]
