"""Pages of accounts, organizations, members and API tokens."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_POST

from genai_po import selectors, services, throttle
from genai_po.base_views import OrgView
from genai_po.forms import (
    ApiTokenForm,
    InvitationForm,
    OrganizationForm,
    RoleForm,
    SignInForm,
    SignUpForm,
    errors_into_form,
)
from genai_po.middleware import SIGNED_IN_AT
from genai_po.models import ApiToken, Invitation, Membership, User
from genai_po.registry import HOME_FOCUS, HOME_PANELS, attention_for, attention_sources, role_home
from genai_po.roles import Action, Role, role_can

# --- Accounts


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        self.request.session[SIGNED_IN_AT] = int(time.time())
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password from the emailed link also lifts the sign-in locks."""

    template_name = "accounts/password_reset_confirm.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        throttle.signin_unlock(email=form.user.email)
        return response


@require_http_methods(["GET", "POST"])
def sign_up(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = User.objects.create_user(
            form.cleaned_data["email"],
            form.cleaned_data["password1"],
            full_name=form.cleaned_data["full_name"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session[SIGNED_IN_AT] = int(time.time())
        next_url = request.GET.get("next", "")
        if next_url.startswith("/invitations/"):
            messages.success(request, "Welcome! Accept the invitation below.")
            return redirect(next_url)
        messages.success(request, "Welcome! Create an organization or accept an invitation.")
        return redirect("org_create")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def account_security(request):
    """Password change link and "sign out everywhere"."""
    if request.method == "POST":
        services.user_sessions_end_all(user=request.user)
        logout(request)
        messages.success(request, "You have been signed out of every session, this one included.")
        return redirect("login")
    return render(
        request,
        "accounts/security.html",
        {
            "idle_minutes": settings.SESSION_IDLE_TIMEOUT // 60,
            "absolute_hours": settings.SESSION_ABSOLUTE_LIFETIME // 3600,
        },
    )


# --- Organizations


@login_required
def home(request):
    """Where a signed-in user lands: the organization they last worked in."""
    memberships = selectors.memberships_of_user(user=request.user)
    if not memberships:
        return redirect("org_create")
    by_id = {m.organization_id: m for m in memberships}
    chosen = by_id.get(request.user.last_organization_id) or memberships[0]
    return redirect("org_home", org_slug=chosen.organization.slug)


@login_required
def org_list(request):
    memberships = selectors.memberships_of_user(user=request.user)
    return render(request, "genai_po/org_list.html", {"memberships": memberships})


@login_required
@require_http_methods(["GET", "POST"])
def org_create(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(
                user=request.user, name=form.cleaned_data["name"], request=request
            )
        except ValidationError as exc:
            errors_into_form(form, exc)
        else:
            messages.success(request, f"{org.name} is ready. Invite your team from Members.")
            return redirect("org_home", org_slug=org.slug)
    return render(request, "genai_po/org_create.html", {"form": form})


class OrgHomeView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        services.user_switch_organization(user=request.user, organization=request.organization)
        if home := role_home(request.role):  # e.g. an SME starts at their inbox
            return redirect(home, request.organization.slug)
        sources = attention_sources(request.role)
        return render(
            request,
            "genai_po/org_home.html",
            {
                "member_count": Membership.objects.for_org(request.organization).count(),
                "attention_checked": [s.label for s in sources],
                "attention": attention_for(request) if sources else [],
                "focus": HOME_FOCUS.render(request),
                "panels": HOME_PANELS.render(request),
            },
        )


class OrgSettingsView(OrgView):
    permission = {"GET": Action.VIEW, "POST": Action.MANAGE_ORG}

    def get(self, request):
        form = OrganizationForm(initial={"name": request.organization.name})
        return self._render(request, form)

    def post(self, request):
        form = OrganizationForm(request.POST)
        if form.is_valid():
            try:
                services.organization_update(
                    actor=request.actor,
                    organization=request.organization,
                    name=form.cleaned_data["name"],
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, "Organization renamed.")
                return redirect("org_settings", org_slug=request.organization.slug)
        return self._render(request, form, status=400)

    def _render(self, request, form, status=200):
        return render(
            request,
            "genai_po/org_settings.html",
            {
                "form": form,
                "can_manage": role_can(request.role, Action.MANAGE_ORG),
            },
            status=status,
        )


class LeaveOrgView(OrgView):
    permission = {"POST": Action.VIEW}

    def post(self, request):
        try:
            services.membership_remove(actor=request.actor, membership=request.membership)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("members", org_slug=request.organization.slug)
        messages.success(request, f"You left {request.organization.name}.")
        return redirect("home")


# --- Members and invitations


class MembersView(OrgView):
    permission = {"GET": Action.VIEW, "POST": Action.MANAGE_MEMBERS}

    def get(self, request):
        return self._render(request, InvitationForm(inviter_role=request.role))

    def post(self, request):
        form = InvitationForm(request.POST, inviter_role=request.role)
        if form.is_valid():
            try:
                invitation = services.invitation_create(
                    actor=request.actor,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(
                    request,
                    f"Invitation sent to {invitation.email} as {invitation.get_role_display()}; "
                    f"the link works once and expires on {invitation.expires_at:%Y-%m-%d}.",
                )
                return redirect("members", org_slug=request.organization.slug)
        return self._render(request, form, status=400)

    def _render(self, request, form, status=200):
        org = request.organization
        page = Paginator(selectors.members_of_org(organization=org), 50).get_page(
            request.GET.get("page")
        )
        can_manage = role_can(request.role, Action.MANAGE_MEMBERS)
        editable_ids = selectors.members_editable_by(
            organization=org, members=page.object_list, actor=request.actor
        )
        return render(
            request,
            "genai_po/members.html",
            {
                "editable_ids": editable_ids,
                "page": page,
                "invite_form": form,
                "can_manage": can_manage,
                "can_manage_owners": role_can(request.role, Action.MANAGE_OWNERS),
                "role_choices": form.fields["role"].choices,
                "invitations": selectors.invitations_pending(organization=org)
                if can_manage
                else [],
            },
            status=status,
        )


class MemberRoleView(OrgView):
    permission = {"POST": Action.MANAGE_MEMBERS}
    scoped_objects = {"membership": Membership}

    def post(self, request, membership: Membership):
        form = RoleForm(request.POST, actor_role=request.role)
        if not form.is_valid():
            messages.error(request, "Choose a role you are allowed to give.")
        else:
            try:
                services.membership_role_change(
                    actor=request.actor, membership=membership, role=form.cleaned_data["role"]
                )
                messages.success(
                    request, f"{membership.user.email} is now {Role(membership.role).label}."
                )
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, _message_of(exc))
        return redirect("members", org_slug=request.organization.slug)


class MemberRemoveView(OrgView):
    permission = {"POST": Action.MANAGE_MEMBERS}
    scoped_objects = {"membership": Membership}

    def post(self, request, membership: Membership):
        email = membership.user.email
        try:
            services.membership_remove(actor=request.actor, membership=membership)
            messages.success(request, f"{email} was removed from the organization.")
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, _message_of(exc))
        return redirect("members", org_slug=request.organization.slug)


class InvitationRevokeView(OrgView):
    permission = {"POST": Action.MANAGE_MEMBERS}
    scoped_objects = {"invitation": Invitation}

    def post(self, request, invitation: Invitation):
        try:
            services.invitation_revoke(actor=request.actor, invitation=invitation)
            messages.success(request, f"The invitation to {invitation.email} was revoked.")
        except ValidationError as exc:
            messages.error(request, _message_of(exc))
        return redirect("members", org_slug=request.organization.slug)


def _message_of(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You are not allowed to do this."


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    """The page behind an invitation link: who invites, to what, and a button to join."""
    try:
        invitation = services.invitation_from_link(token)
    except ValidationError as exc:
        return render(request, "genai_po/invitation.html", {"error": _message_of(exc)}, status=404)
    if not request.user.is_authenticated:
        return render(
            request,
            "genai_po/invitation.html",
            {
                "invitation": invitation,
                "login_url": f"{reverse('login')}?next={request.path}",
                "signup_url": f"{reverse('signup')}?next={request.path}",
            },
        )
    if request.method == "POST":
        try:
            membership = services.invitation_accept(user=request.user, token=token, request=request)
        except ValidationError as exc:
            return render(
                request,
                "genai_po/invitation.html",
                {"invitation": invitation, "error": _message_of(exc)},
                status=400,
            )
        messages.success(request, f"Welcome to {membership.organization.name}.")
        return redirect("org_home", org_slug=membership.organization.slug)
    return render(request, "genai_po/invitation.html", {"invitation": invitation})


# --- API tokens


class ApiTokensView(OrgView):
    permission = {"GET": Action.MANAGE_TOKENS, "POST": Action.MANAGE_TOKENS}

    def get(self, request):
        return self._render(request, ApiTokenForm())

    def post(self, request):
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                token, raw = services.api_token_create(
                    actor=request.actor,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.cleaned_data["expires_in"],
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                # Shown once, in this response only; never stored, logged or cached.
                response = self._render(request, ApiTokenForm(), new_token=raw, new_name=token.name)
                patch_cache_control(response, no_store=True, private=True)
                return response
        return self._render(request, form, status=400)

    def _render(self, request, form, status=200, **extra):
        tokens = ApiToken.objects.for_org(request.organization).select_related("created_by")
        page = Paginator(tokens, 50).get_page(request.GET.get("page"))
        return render(
            request, "genai_po/tokens.html", {"form": form, "page": page, **extra}, status=status
        )


class ApiTokenRevokeView(OrgView):
    permission = {"POST": Action.MANAGE_TOKENS}
    scoped_objects = {"token": ApiToken}

    def post(self, request, token: ApiToken):
        try:
            services.api_token_revoke(actor=request.actor, token=token)
            messages.success(request, f"Token {token.name} was revoked; it stops working now.")
        except ValidationError as exc:
            messages.error(request, _message_of(exc))
        return redirect("api_tokens", org_slug=request.organization.slug)


@require_POST
def sign_out(request):
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("login")
