from django.urls import path

from metrics.views import alerts, dashboards, interactions

urlpatterns = [
    path("", dashboards.PortfolioDashboardView.as_view(), name="metrics_home"),
    path("definitions/", dashboards.DefinitionsView.as_view(), name="metrics_definitions"),
    path("assumptions/", alerts.AssumptionsView.as_view(), name="metrics_assumptions"),
    path(
        "chart.csv",
        dashboards.PortfolioChartCsvView.as_view(),
        name="metrics_portfolio_csv",
    ),
    path(
        "use-cases/<int:use_case>/",
        dashboards.UseCaseDashboardView.as_view(),
        name="metrics_use_case",
    ),
    path(
        "use-cases/<int:use_case>/chart.csv",
        dashboards.UseCaseChartCsvView.as_view(),
        name="metrics_use_case_csv",
    ),
    path("alerts/", alerts.AlertListView.as_view(), name="alert_list"),
    path("alerts/rules/<int:rule>/", alerts.AlertRuleView.as_view(), name="alert_rule"),
    path(
        "alerts/<int:alert>/acknowledge/",
        alerts.AlertAcknowledgeView.as_view(),
        name="alert_acknowledge",
    ),
    path("interactions/", interactions.InteractionListView.as_view(), name="interaction_list"),
    path(
        "interactions/<int:event>/",
        interactions.InteractionDetailView.as_view(),
        name="interaction_detail",
    ),
]
