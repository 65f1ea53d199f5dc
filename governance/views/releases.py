"""Releases and their checklists: the product owner's side (bundle, evidence, waivers,
reviewers, rollout). The reviewer's side is in `reviews`."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from genai_po import inputs
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can
from governance import gate as release_gate
from governance import selectors
from governance.forms import AssignForm, ItemForm, ReleaseForm, StageForm, WaiverForm
from governance.models import (
    ROLLOUT_ORDER,
    ChecklistItem,
    EvidenceFile,
    ItemKind,
    Release,
    ReleaseStatus,
    RolloutStage,
    Waiver,
)
from governance.services import checklist, releases
from governance.services.hitl import current_policy
from governance.services.releases import SIGNER_ROLES
from governance.templates import template_for
from usecases.models import UseCase

EDIT = {"GET": Action.EDIT_PRODUCT, "POST": Action.EDIT_PRODUCT}
RELEASE = {"release": Scoped(Release, "number")}
ITEM = {**RELEASE, "item_key": Scoped(ChecklistItem, "key", parent="release")}


class ReleaseListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        params = request.GET
        use_case = None
        if number := inputs.id_or_none(params.get("use_case", "")):
            use_case = UseCase.objects.for_org(org).filter(number=number).first()
        status = params.get("status", "")
        status = status if status in ReleaseStatus.values else ""
        rows = selectors.releases_of(org, use_case=use_case, status=status)
        page = Paginator(rows, 25).get_page(params.get("page"))
        query = params.copy()
        query.pop("page", None)
        return render_page(
            request,
            "governance/releases/list.html",
            {
                "page": page,
                "query": query.urlencode(),
                "use_case": use_case,
                "status": status,
                "use_cases": UseCase.objects.for_org(org)
                .filter(archived_at__isnull=True)
                .order_by("number"),
                "status_choices": ReleaseStatus.choices,
                "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
            },
        )


class ReleaseCreateView(OrgView):
    permission = EDIT

    def _form(self, request, data=None):
        initial = {"owner": request.user.pk, "environment": "production"}
        if number := inputs.id_or_none(request.GET.get("use_case", "")):
            uc = UseCase.objects.for_org(request.organization).filter(number=number).first()
            if uc is not None:
                initial.update(use_case=uc.pk, risk_tier=uc.risk_tier)
                run = releases.latest_proving_run(uc)
                if run is not None:
                    initial["eval_run"] = run.pk
        initial["reviewer_roles"] = list(template_for(request.organization).reviewer_roles)
        return ReleaseForm(data, organization=request.organization, initial=initial)

    def get(self, request):
        return render_page(
            request, "governance/releases/form.html", {"form": self._form(request), "release": None}
        )

    def post(self, request):
        form = self._form(request, request.POST)
        if form.is_valid():
            template = form.cleaned_data.get("template")
            try:
                release = releases.release_create(
                    actor=request.actor,
                    use_case=form.cleaned_data["use_case"],
                    data=form.service_data(),
                    template_id=template.pk if template else None,
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(
                    request,
                    f"{release.key} created as a draft with its checklist. Attach the evidence "
                    "of the manual items, then submit it for review.",
                )
                return redirect("release_detail", request.organization.slug, release.number)
        return render_page(
            request, "governance/releases/form.html", {"form": form, "release": None}, status=400
        )


class ReleaseEditView(OrgView):
    permission = EDIT
    scoped_objects = RELEASE

    def _initial(self, release):
        return {
            "name": release.name,
            "model": release.model,
            "prompt_version": release.prompt_version,
            "config_hash": release.config_hash,
            "eval_run": release.eval_run_id,
            "change_type": release.change_type,
            "risk_tier": release.risk_tier,
            "environment": release.environment,
            "owner": release.owner_id,
            "target_date": release.target_date,
            "reviewer_roles": release.reviewer_roles,
            "notes": release.notes,
        }

    def get(self, request, release):
        form = ReleaseForm(
            organization=request.organization, release=release, initial=self._initial(release)
        )
        return render_page(
            request, "governance/releases/form.html", {"form": form, "release": release}
        )

    def post(self, request, release):
        form = ReleaseForm(request.POST, organization=request.organization, release=release)
        if form.is_valid():
            try:
                releases.release_update(
                    actor=request.actor, release=release, data=form.service_data()
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"{release.key} saved.")
                return redirect("release_detail", request.organization.slug, release.number)
        return render_page(
            request,
            "governance/releases/form.html",
            {"form": form, "release": release},
            status=400,
        )


def _detail_url(request, release) -> str:
    return reverse("release_detail", args=[request.organization.slug, release.number])


def detail_context(request, release, gate=None) -> dict:
    """What the checklist page shows (also after an htmx change)."""
    org = request.organization
    gate = gate or release_gate.evaluate(release)
    can_edit = role_can(request.role, Action.EDIT_PRODUCT)
    open_checklist = release.status not in (ReleaseStatus.RELEASED, ReleaseStatus.ROLLED_BACK)
    wider = []
    if release.rollout_stage in ROLLOUT_ORDER:
        here = ROLLOUT_ORDER.index(release.rollout_stage)
        wider = [(s.value, s.label) for s in ROLLOUT_ORDER[here + 1 :]]
        narrower = [(s.value, s.label) for s in ROLLOUT_ORDER[:here]]
    else:
        narrower = []
    categories: list[tuple[str, list]] = []
    for state in gate.items:
        if not categories or categories[-1][0] != state.item.category:
            categories.append((state.item.category, []))
        categories[-1][1].append(state)
    return {
        "release": release,
        "gate": gate,
        "categories": categories,
        "policy": release.hitl_policy,
        "current_policy": current_policy(release.use_case),
        "can_edit": can_edit,
        "can_sign": role_can(request.role, Action.SIGN_OFF),
        "editable": can_edit and release.status in releases.EDITABLE,
        "open_checklist": open_checklist,
        "wider_stages": wider,
        "narrower_stages": narrower,
        "item_form": ItemForm(),
        "waiver_form": WaiverForm(),
        "assign_form": AssignForm(organization=org, roles=SIGNER_ROLES),
        "signers": selectors.signers_of(org),
        "now": timezone.now(),
        "max_waiver_days": checklist.MAX_WAIVER_DAYS,
        "failed": None,
    }


def _refused(request, release, *, kind: str, item, errors: list[str]):
    """The checklist again, status 400, with the form that failed open, its input kept and
    its errors beside it (not a redirect that loses what was typed)."""
    context = detail_context(request, release)
    context["failed"] = {
        f"{kind}_key": item.key,
        "data": request.POST,
        "errors": errors,
    }
    return render_page(request, "governance/releases/detail.html", context, status=400)


class ReleaseDetailView(OrgView):
    permission = Action.VIEW
    scoped_objects = RELEASE

    def get(self, request, release):
        return render_page(
            request, "governance/releases/detail.html", detail_context(request, release)
        )


class ReleaseActionView(OrgView):
    """Submit for review, refresh the bundle."""

    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = RELEASE
    action = ""

    def post(self, request, release):
        try:
            if self.action == "submit":
                releases.release_submit(actor=request.actor, release=release)
                messages.success(
                    request,
                    f"{release.key} is in review. Its reviewers see it on their page; the "
                    "capability card was generated for them to approve with it.",
                )
            elif self.action == "refresh":
                releases.release_refresh_bundle(actor=request.actor, release=release)
                messages.success(
                    request, "The bundle now holds today's knowledge, HITL policy and latest run."
                )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("release_detail", request.organization.slug, release.number)


class ReleaseStageView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = RELEASE

    def post(self, request, release):
        form = StageForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a rollout stage.")
        else:
            try:
                releases.release_set_stage(
                    actor=request.actor, release=release, stage=form.cleaned_data["stage"]
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                stage = form.cleaned_data["stage"]
                label = RolloutStage(stage).label.lower()
                messages.success(
                    request,
                    f"{release.key} is rolled back."
                    if stage == RolloutStage.ROLLED_BACK
                    else f"{release.key} is now in {label}.",
                )
        return redirect("release_detail", request.organization.slug, release.number)


class ReleaseAssignView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = RELEASE

    def post(self, request, release):
        form = AssignForm(request.POST, organization=request.organization, roles=SIGNER_ROLES)
        if not form.is_valid():
            messages.error(request, "Choose a reviewer role and a person who signs off.")
        else:
            try:
                releases.release_assign_reviewer(
                    actor=request.actor,
                    release=release,
                    reviewer_role=form.cleaned_data["reviewer_role"],
                    user=form.cleaned_data["user"],
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, "Reviewer saved.")
        return redirect(_detail_url(request, release) + "#sign-offs")


class ItemUpdateView(OrgView):
    """A manual item's status, evidence (a link or a file, hashed) and attestation."""

    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = ITEM

    def post(self, request, release, item_key):
        item = item_key
        form = ItemForm(request.POST, request.FILES)
        anchor = f"#item-{item.key}"
        if item.kind == ItemKind.AUTOMATIC:
            messages.error(request, "This item is computed from evidence, never ticked by hand.")
            return redirect(_detail_url(request, release) + anchor)
        if not form.is_valid():
            errors = [str(e) for errors in form.errors.values() for e in errors]
            return _refused(request, release, kind="item", item=item, errors=errors)
        data = form.cleaned_data
        try:
            # One transaction: a refused update keeps no file of its own.
            with transaction.atomic():
                stored = None
                if upload := data.get("evidence_file"):
                    if upload.size > checklist.MAX_EVIDENCE_BYTES:
                        raise ValidationError({"evidence_file": "Attach a file of at most 10 MB."})
                    stored = checklist.evidence_store(
                        actor=request.actor,
                        organization_id=request.organization.pk,
                        name=upload.name,
                        content_type=upload.content_type,
                        data=upload.read(),
                    )
                checklist.item_update(
                    actor=request.actor,
                    item=item,
                    status=data["status"],
                    attestation=data["attestation"],
                    evidence_url=data["evidence_url"],
                    evidence_file=stored,
                )
        except ValidationError as exc:
            return _refused(request, release, kind="item", item=item, errors=exc.messages)
        messages.success(request, f"“{item.text[:120]}” saved.")
        return redirect(_detail_url(request, release) + anchor)


class WaiverRequestView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = ITEM

    def post(self, request, release, item_key):
        item = item_key
        form = WaiverForm(request.POST)
        url = _detail_url(request, release)
        if not form.is_valid():
            errors = [str(e) for errors in form.errors.values() for e in errors]
            return _refused(request, release, kind="waiver", item=item, errors=errors)
        try:
            checklist.waiver_request(
                actor=request.actor,
                item=item,
                justification=form.cleaned_data["justification"],
                expires_at=form.cleaned_data["expires_at"],
            )
        except ValidationError as exc:
            return _refused(request, release, kind="waiver", item=item, errors=exc.messages)
        else:
            messages.success(
                request, "Waiver requested: a reviewer (not you) approves it before it counts."
            )
        return redirect(url + f"#item-{item.key}")


class WaiverDecideView(OrgView):
    permission = {"POST": Action.SIGN_OFF}
    scoped_objects = {"waiver": Waiver}
    approve = True

    def post(self, request, waiver):
        release = waiver.item.release
        try:
            checklist.waiver_decide(actor=request.actor, waiver=waiver, approve=self.approve)
        except (ValidationError, PermissionDenied) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, text)
        else:
            messages.success(request, "Waiver approved." if self.approve else "Waiver rejected.")
        back = request.POST.get("next", "")
        if back == "reviews":
            return redirect("review_list", request.organization.slug)
        return redirect("release_detail", request.organization.slug, release.number)


class WaiverRevokeView(OrgView):
    permission = {"POST": Action.EDIT_PRODUCT}
    scoped_objects = {"waiver": Waiver}

    def post(self, request, waiver):
        try:
            checklist.waiver_revoke(actor=request.actor, waiver=waiver)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Waiver revoked: the item counts on its own again.")
        return redirect("release_detail", request.organization.slug, waiver.item.release.number)


class EvidenceDownloadView(OrgView):
    """An evidence file, to members only, as a download (never rendered inline)."""

    permission = Action.VIEW
    scoped_objects = {"evidence": EvidenceFile}

    def get(self, request, evidence):
        response = HttpResponse(bytes(evidence.data), content_type="application/octet-stream")
        safe = "".join(c for c in evidence.name if c.isalnum() or c in "._- ")[:150] or "evidence"
        response["Content-Disposition"] = f'attachment; filename="{safe}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["X-Evidence-SHA256"] = evidence.sha256
        return response
