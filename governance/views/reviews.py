"""The reviewer's pages: what waits on them, and the sign-off page of a release (its
evidence, HITL policy and capability card, and the decision)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect

from context.markdown import render_markdown
from genai_po.base_views import OrgView
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action
from governance import gate as release_gate
from governance import selectors
from governance.forms import SignOffForm
from governance.services import signoffs
from governance.views.releases import RELEASE

PAST = {
    "approve": "approved",
    "approve_with_conditions": "approved, with conditions,",
    "reject": "rejected",
}


class ReviewListView(OrgView):
    permission = Action.SIGN_OFF

    def get(self, request):
        org = request.organization
        return render_page(
            request,
            "governance/reviews/list.html",
            {
                "queue": selectors.review_queue(org, request.user),
                "waivers": selectors.waivers_awaiting(org, request.user),
                "decisions": selectors.decisions_of(org, request.user)[:20],
            },
        )


def _review_context(request, release, form=None) -> dict:
    gate = release_gate.evaluate(release)
    roles = [r for r in gate.roles if r.assignee is None or r.assignee.pk == request.user.pk]
    mine = [
        r for r in gate.roles if r.sign_off is not None and r.sign_off.user_id == request.user.pk
    ]
    if mine:  # one person signs for one role
        roles = mine
    if form is None:
        form = SignOffForm(
            initial={"seen_hash": gate.state_hash, "reviewer_role": roles[0].role if roles else ""}
        )
    form.fields["reviewer_role"].choices = [(r.role, r.label) for r in roles]
    return {
        "release": release,
        "gate": gate,
        "form": form,
        "roles": roles,
        "is_owner": release.owner_id == request.user.pk,
        "card_html": render_markdown(release.capability_card) if release.capability_card else "",
        "policy": release.hitl_policy,
    }


class ReviewDetailView(OrgView):
    """A reviewer's sign-off page for one release."""

    permission = {"GET": Action.SIGN_OFF, "POST": Action.SIGN_OFF}
    scoped_objects = RELEASE

    def get(self, request, release):
        return render_page(
            request, "governance/reviews/detail.html", _review_context(request, release)
        )

    def post(self, request, release):
        form = SignOffForm(request.POST)
        _review_context(request, release, form)  # the roles this person may sign
        if form.is_valid():
            data = form.cleaned_data
            try:
                signed = signoffs.sign_off(
                    actor=request.actor,
                    release=release,
                    reviewer_role=data["reviewer_role"],
                    decision=data["decision"],
                    comment=data["comment"],
                    seen_hash=data["seen_hash"],
                )
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(
                    request,
                    f"You {PAST[signed.decision]} {release.key} as "
                    f"{signed.get_reviewer_role_display().lower()}.",
                )
                return redirect("review_list", request.organization.slug)
        context = _review_context(request, release, form)
        return render_page(request, "governance/reviews/detail.html", context, status=400)
