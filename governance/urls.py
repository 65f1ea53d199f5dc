from django.urls import path

from governance import views

urlpatterns = [
    path("", views.GovernanceHomeView.as_view(), name="governance_home"),
    path("audit/", views.AuditListView.as_view(), name="audit"),
    path("audit/export.csv", views.AuditExportView.as_view(), name="audit_export"),
]
