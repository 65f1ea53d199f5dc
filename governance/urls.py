"""Governance pages under /o/<org_slug>/governance/. `<int:release>` is the REL number,
`<int:use_case>` the UC number."""

from django.urls import path

from governance.views import (
    audit,
    capability,
    hitl,
    home,
    incidents,
    releases,
    reviews,
    templates,
)

rel = "releases/<int:release>/"
item = rel + "items/<slug:item_key>/"
inc = "incidents/<int:incident>/"

urlpatterns = [
    path("", home.GovernanceHomeView.as_view(), name="governance_home"),
    path("settings/", home.GovernanceSettingsView.as_view(), name="governance_settings"),
    path("templates/", templates.TemplateListView.as_view(), name="checklist_templates"),
    path("templates/new/", templates.TemplateNewView.as_view(), name="checklist_template_new"),
    path(
        "templates/<int:template>/",
        templates.TemplateEditView.as_view(),
        name="checklist_template",
    ),
    path(
        "templates/<int:template>/delete/",
        templates.TemplateDeleteView.as_view(),
        name="checklist_template_delete",
    ),
    path("audit/", audit.AuditListView.as_view(), name="audit"),
    path("audit/export.csv", audit.AuditExportView.as_view(), name="audit_export"),
    path("audit/verify/", audit.ChainVerifyView.as_view(), name="audit_verify"),
    path(
        "audit/use-cases/<int:use_case>/",
        audit.UseCaseAuditView.as_view(),
        name="use_case_audit",
    ),
    path(
        "audit/use-cases/<int:use_case>/export.csv",
        audit.UseCaseAuditView.as_view(export=True),
        name="use_case_audit_export",
    ),
    path(rel + "audit/", audit.ReleaseAuditView.as_view(), name="release_audit"),
    path(
        rel + "audit/export.csv",
        audit.ReleaseAuditView.as_view(export=True),
        name="release_audit_export",
    ),
    path("hitl/<int:use_case>/", hitl.HitlPolicyView.as_view(), name="hitl_policy"),
    path("releases/", releases.ReleaseListView.as_view(), name="release_list"),
    path("releases/new/", releases.ReleaseCreateView.as_view(), name="release_create"),
    path(rel, releases.ReleaseDetailView.as_view(), name="release_detail"),
    path(rel + "edit/", releases.ReleaseEditView.as_view(), name="release_edit"),
    path(
        rel + "submit/",
        releases.ReleaseActionView.as_view(action="submit"),
        name="release_submit",
    ),
    path(
        rel + "refresh/",
        releases.ReleaseActionView.as_view(action="refresh"),
        name="release_refresh",
    ),
    path(rel + "stage/", releases.ReleaseStageView.as_view(), name="release_stage"),
    path(rel + "reviewers/", releases.ReleaseAssignView.as_view(), name="release_assign"),
    path(item, releases.ItemUpdateView.as_view(), name="checklist_item"),
    path(item + "waiver/", releases.WaiverRequestView.as_view(), name="waiver_request"),
    path(
        "waivers/<int:waiver>/approve/",
        releases.WaiverDecideView.as_view(approve=True),
        name="waiver_approve",
    ),
    path(
        "waivers/<int:waiver>/reject/",
        releases.WaiverDecideView.as_view(approve=False),
        name="waiver_reject",
    ),
    path("waivers/<int:waiver>/revoke/", releases.WaiverRevokeView.as_view(), name="waiver_revoke"),
    path("evidence/<int:evidence>/", releases.EvidenceDownloadView.as_view(), name="evidence"),
    path(rel + "capability-card/", capability.CapabilityCardView.as_view(), name="capability_card"),
    path(
        rel + "capability-card.md",
        capability.CapabilityCardMarkdownView.as_view(),
        name="capability_card_md",
    ),
    path("incidents/", incidents.IncidentListView.as_view(), name="incident_list"),
    path("incidents/new/", incidents.IncidentCreateView.as_view(), name="incident_create"),
    path(inc, incidents.IncidentDetailView.as_view(), name="incident_detail"),
    path(inc + "edit/", incidents.IncidentEditView.as_view(), name="incident_edit"),
    path(inc + "status/", incidents.IncidentStatusView.as_view(), name="incident_status"),
    path(inc + "reports/", incidents.IncidentReportView.as_view(), name="incident_report"),
    path(inc + "follow-ups/", incidents.FollowUpAddView.as_view(), name="follow_up_add"),
    path(
        inc + "follow-ups/<int:follow_up>/",
        incidents.FollowUpUpdateView.as_view(),
        name="follow_up_update",
    ),
    path(inc + "regression-case/", incidents.RegressionCaseView.as_view(), name="incident_case"),
    path(inc + "gap/", incidents.IncidentGapView.as_view(), name="incident_gap"),
    path(inc + "gaps/", incidents.IncidentGapLinkView.as_view(), name="incident_gaps"),
    path("reviews/", reviews.ReviewListView.as_view(), name="review_list"),
    path(rel + "review/", reviews.ReviewDetailView.as_view(), name="release_review"),
]
