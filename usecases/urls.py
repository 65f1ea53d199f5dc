"""Use-case pages under /o/<org_slug>/use-cases/. `<int:use_case>` is the UC number."""

from django.urls import path

from usecases.views import backlog, briefs, lifecycle, portfolio, prd

uc = "<int:use_case>/"
req = uc + "requirements/<int:requirement>/"

urlpatterns = [
    path("", briefs.UseCaseListView.as_view(), name="usecases_home"),
    path("new/", briefs.UseCaseCreateView.as_view(), name="usecase_create"),
    path("portfolio/", portfolio.PortfolioView.as_view(), name="portfolio"),
    path("portfolio.csv", portfolio.PortfolioExportView.as_view(), name="portfolio_export"),
    path("weights/", portfolio.WeightsView.as_view(), name="priority_weights"),
    path("prd-template/", prd.PrdTemplateView.as_view(), name="prd_template"),
    path(uc, briefs.UseCaseDetailView.as_view(), name="usecase_detail"),
    path(uc + "edit/", briefs.UseCaseEditView.as_view(), name="usecase_edit"),
    path(uc + "archive/", briefs.UseCaseArchiveView.as_view(), name="usecase_archive"),
    path(uc + "stage/", briefs.UseCaseStageView.as_view(), name="usecase_stage"),
    path(uc + "scores/", briefs.UseCaseScoresView.as_view(), name="usecase_scores"),
    path(uc + "lifecycle/", lifecycle.LifecycleView.as_view(), name="usecase_lifecycle"),
    path(uc + "prd/", prd.PrdView.as_view(), name="prd"),
    path(uc + "prd/versions/", prd.PrdVersionsView.as_view(), name="prd_versions"),
    path(uc + "prd/export.md", prd.PrdMarkdownView.as_view(), name="prd_markdown"),
    path(uc + "prd/print/", prd.PrdPrintView.as_view(), name="prd_print"),
    path(uc + "requirements/", prd.RequirementAddView.as_view(), name="requirement_add"),
    path(uc + "requirements/order/", prd.RequirementReorderView.as_view(),
         name="requirement_reorder"),
    path(req, prd.RequirementEditView.as_view(), name="requirement_edit"),
    path(req + "delete/", prd.RequirementDeleteView.as_view(), name="requirement_delete"),
    path(req + "verifications/", prd.VerificationAddView.as_view(), name="verification_add"),
    path(uc + "verifications/<int:verification>/delete/", prd.VerificationDeleteView.as_view(),
         name="verification_delete"),
    path(uc + "traceability/", prd.TraceabilityView.as_view(), name="traceability"),
    path(uc + "backlog/", backlog.UseCaseBacklogView.as_view(), name="usecase_backlog"),
    path(uc + "backlog.csv", backlog.UseCaseBacklogCsvView.as_view(),
         name="usecase_backlog_csv"),
]  # fmt: skip
