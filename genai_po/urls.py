"""Browser pages live under /o/<org_slug>/…; machines use /api/v1/.

The root URLconf is the one place of the core that names the areas: it mounts each one's
pages and API.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from genai_po import views
from genai_po.api.errors import api_not_found

org_patterns = [
    path("", views.OrgHomeView.as_view(), name="org_home"),
    path("use-cases/", include("usecases.urls")),
    path("evals/", include("evals.urls")),
    path("context/", include("context.urls")),
    path("governance/", include("governance.urls")),
    path("metrics/", include("metrics.urls")),
    path("backlog/", include("usecases.backlog_urls")),
    path("settings/", views.OrgSettingsView.as_view(), name="org_settings"),
    path("settings/members/", views.MembersView.as_view(), name="members"),
    path(
        "settings/members/<int:membership>/role/",
        views.MemberRoleView.as_view(),
        name="member_role",
    ),
    path(
        "settings/members/<int:membership>/remove/",
        views.MemberRemoveView.as_view(),
        name="member_remove",
    ),
    path(
        "settings/invitations/<int:invitation>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path("settings/tokens/", views.ApiTokensView.as_view(), name="api_tokens"),
    path(
        "settings/tokens/<int:token>/revoke/",
        views.ApiTokenRevokeView.as_view(),
        name="api_token_revoke",
    ),
    path("leave/", views.LeaveOrgView.as_view(), name="org_leave"),
]

account_patterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("signup/", views.sign_up, name="signup"),
    path("security/", views.account_security, name="account_security"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(template_name="accounts/password_change.html"),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/email/password_reset.txt",
            subject_template_name="accounts/email/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]

api_patterns = [
    path("", include("genai_po.api.urls")),
    path("", include("usecases.api.urls")),
    path("", include("evals.api.urls")),
    path("", include("context.api.urls")),
    path("", include("governance.api.urls")),
    path("", include("metrics.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^.*$", api_not_found, name="api-not-found"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include(account_patterns)),
    path("orgs/", views.org_list, name="org_list"),
    path("orgs/new/", views.org_create, name="org_create"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("o/<slug:org_slug>/", include(org_patterns)),
    path("api/v1/", include(api_patterns)),
    # OpenTelemetry exporters post to <endpoint>/v1/traces (OTLP/HTTP's default path).
    path("otel/v1/", include("metrics.otlp_urls")),
    path("admin/", admin.site.urls),
]

handler400 = "genai_po.errors.bad_request"
handler403 = "genai_po.errors.permission_denied"
handler404 = "genai_po.errors.page_not_found"
handler500 = "genai_po.errors.server_error"
