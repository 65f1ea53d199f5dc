from django.urls import path

from evals.views import cases, home, plans, runs, targets

target = "targets/<int:target>/"
plan = "plans/<int:plan>/"
case = plan + "cases/<int:case>/"
run = "runs/<int:run>/"
run_case = run + "cases/<int:case>/"

urlpatterns = [
    path("", home.EvalsHomeView.as_view(), name="evals_home"),
    # Targets and what they may reach
    path("targets/", targets.TargetListView.as_view(), name="target_list"),
    path("targets/new/", targets.TargetCreateView.as_view(), name="target_create"),
    path(target, targets.TargetEditView.as_view(), name="target_edit"),
    path(target + "test/", targets.TargetTestView.as_view(), name="target_test"),
    path(target + "archive/", targets.TargetArchiveView.as_view(), name="target_archive"),
    path("egress/", targets.EgressSettingsView.as_view(), name="egress_settings"),
    # Plans and their versioned cases
    path("plans/new/", plans.PlanCreateView.as_view(), name="plan_create"),
    path(plan, plans.PlanDetailView.as_view(), name="plan_detail"),
    path(plan + "edit/", plans.PlanEditView.as_view(), name="plan_edit"),
    path(plan + "archive/", plans.PlanArchiveView.as_view(), name="plan_archive"),
    path(plan + "versions/", plans.CaseVersionsView.as_view(), name="case_versions"),
    path(plan + "cases/", cases.CaseAddView.as_view(), name="case_add"),
    path(case, cases.CaseEditView.as_view(), name="case_edit"),
    path(case + "delete/", cases.CaseDeleteView.as_view(), name="case_delete"),
    path(plan + "import/", cases.CaseImportView.as_view(), name="case_import"),
    path(plan + "export.csv", cases.CaseExportView.as_view(fmt="csv"), name="case_export_csv"),
    path(
        plan + "export.jsonl", cases.CaseExportView.as_view(fmt="jsonl"), name="case_export_jsonl"
    ),  # fmt: skip
    # Runs and results
    path(plan + "runs/", runs.RunStartView.as_view(), name="run_start"),
    path(run, runs.RunDetailView.as_view(), name="run_detail"),
    path(run + "progress/", runs.RunProgressView.as_view(), name="run_progress"),
    path(run + "cancel/", runs.RunCancelView.as_view(), name="run_cancel"),
    path(run + "baseline/", runs.RunBaselineView.as_view(), name="run_baseline"),
    path(run + "junit.xml", runs.RunJunitView.as_view(), name="run_junit"),
    path(run_case, runs.RunCaseView.as_view(), name="run_case"),
    path(run_case + "triage/", runs.RunTriageView.as_view(), name="run_triage"),
]
