"""SMEs and the loop's settings: who knows what (expertise tags), their backup, and the
organization's answer SLA."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import reverse

from context import services
from context.forms import ContextSettingsForm, SmeProfileForm
from context.models import SmeProfile
from context.services.common import settings_of
from context.services.smes import ANSWERING_ROLES
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.models import Membership
from genai_po.roles import Action, role_can


def _may_edit(request, membership) -> bool:
    return (
        membership.user_id == request.user.pk
        or role_can(request.role, Action.EDIT_PRODUCT)
        or role_can(request.role, Action.MANAGE_MEMBERS)
    )


class SmeListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        memberships = list(
            Membership.objects.for_org(org)
            .filter(role__in=ANSWERING_ROLES)
            .select_related("user")
            .order_by("user__full_name", "user__email")
        )
        profiles = {
            p.user_id: p
            for p in SmeProfile.objects.for_org(org)
            .select_related("backup")
            .prefetch_related("expertise__tag")
        }
        rows = [(m, profiles.get(m.user_id), _may_edit(request, m)) for m in memberships]
        return render_page(
            request,
            "context/smes.html",
            {
                "rows": rows,
                "settings": settings_of(org),
                "settings_form": ContextSettingsForm(
                    initial={"sla_business_days": settings_of(org).sla_business_days}
                ),
                "can_edit_settings": role_can(request.role, Action.EDIT_PRODUCT),
            },
        )


class SmeEditView(OrgView):
    permission = {"GET": Action.VIEW, "POST": Action.VIEW}  # own profile, or a manager's
    scoped_objects = {"membership": Scoped(Membership)}

    def _check(self, request, membership):
        if not _may_edit(request, membership):
            raise PermissionDenied("You can change your own expertise only.")

    def get(self, request, membership):
        self._check(request, membership)
        profile = (
            SmeProfile.objects.for_org(request.organization).filter(user=membership.user).first()
        )
        initial = {"available": True}
        if profile:
            initial = {
                "tags": ", ".join(e.tag.name for e in profile.expertise.select_related("tag")),
                "backup": profile.backup_id,
                "available": profile.available,
            }
        form = SmeProfileForm(organization=request.organization, initial=initial)
        return render_page(request, "context/sme_form.html", {"form": form, "member": membership})

    def post(self, request, membership):
        self._check(request, membership)
        form = SmeProfileForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                services.sme_profile_set(
                    actor=request.actor,
                    user=membership.user,
                    tags=form.cleaned_data["tags"],
                    backup=form.cleaned_data["backup"],
                    available=form.cleaned_data["available"],
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"Expertise of {membership.user.display_name} saved.")
                return redirect("sme_list", request.organization.slug)
        return render_page(
            request, "context/sme_form.html", {"form": form, "member": membership}, status=400
        )


class ContextSettingsView(OrgView):
    """The SLA form lives on the SMEs page; a GET goes there."""

    permission = {"GET": Action.VIEW, "POST": Action.EDIT_PRODUCT}

    def get(self, request):
        return redirect(reverse("sme_list", args=[request.organization.slug]) + "#sla")

    def post(self, request):
        form = ContextSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.context_settings_update(
                    actor=request.actor, sla_business_days=form.cleaned_data["sla_business_days"]
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, "SLA saved: it applies to questions routed from now on.")
        else:
            messages.error(request, "Give 1 to 60 business days.")
        return redirect("sme_list", request.organization.slug)
