"""The knowledge base: published items with full-text search, an item's versions, writing
knowledge directly (reviewed like an answer), a new version, and retiring."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect

from context import selectors, services
from context.forms import AnswerForm, RetireForm
from context.markdown import render_markdown
from context.models import Answer, AnswerStatus, KnowledgeItem, KnowledgeStatus
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action, role_can

ANSWER = {"GET": Action.ANSWER_SME, "POST": Action.ANSWER_SME}
ITEM = {"item": Scoped(KnowledgeItem, "number")}


class KnowledgeListView(OrgView):
    permission = Action.VIEW

    def get(self, request):
        org = request.organization
        q = request.GET.get("q", "").strip()[:200]
        status = request.GET.get("status", KnowledgeStatus.PUBLISHED)
        if status not in KnowledgeStatus.values:
            status = KnowledgeStatus.PUBLISHED
        hits = None
        page = None
        if q:
            hits = selectors.knowledge_search(org, q, limit=50)
        else:
            page = Paginator(selectors.knowledge_of(org, status=status), 50).get_page(
                request.GET.get("page")
            )
        return render_page(
            request,
            "context/knowledge/list.html",
            {
                "q": q,
                "hits": hits,
                "page": page,
                "status": status,
                "query": f"status={status}",
                "statuses": KnowledgeStatus.choices,
                "can_write": role_can(request.role, Action.ANSWER_SME),
                "proposals": list(
                    Answer.objects.for_org(org)
                    .filter(gap__isnull=True, status=AnswerStatus.IN_REVIEW)
                    .order_by("-created_at")[:20]
                ),
            },
            partial="results",
        )


class KnowledgeDetailView(OrgView):
    permission = Action.VIEW
    scoped_objects = ITEM

    def get(self, request, item):
        versions = list(item.versions.prefetch_related("citation_links__source"))
        return render_page(
            request,
            "context/knowledge/detail.html",
            {
                "item": item,
                "body_html": render_markdown(item.body),
                "versions": versions,
                "current": versions[0] if versions else None,
                "use_cases": [
                    link.use_case for link in item.use_case_links.select_related("use_case")
                ],
                "gaps": list(item.gaps.order_by("number")),
                "pending": item.proposals.filter(status=AnswerStatus.IN_REVIEW).first(),
                "can_write": role_can(request.role, Action.ANSWER_SME),
                "retire_form": RetireForm(),
            },
        )


class KnowledgeWriteView(OrgView):
    """New knowledge written directly by an SME, or a new version of an item (`item`)."""

    permission = ANSWER

    def _render(self, request, form, item, status=200):
        return render_page(
            request,
            "context/answer_form.html",
            {
                "gap": None,
                "form": form,
                "answer": None,
                "knowledge": item,
                "evidence": [],
                "suggestions": None,
            },
            status=status,
        )

    def get(self, request, **kwargs):
        item = kwargs.get("item")
        initial = {}
        if item is not None:
            initial = {
                "title": item.title,
                "question": item.question,
                "body": item.body,
                "scope": item.scope,
                "citations": [c.source_id for c in item.current.citation_links.all()]
                if item.current
                else [],
                "use_cases": [link.use_case_id for link in item.use_case_links.all()],
            }
        return self._render(
            request, AnswerForm(organization=request.organization, initial=initial), item
        )

    def post(self, request, **kwargs):
        item = kwargs.get("item")
        form = AnswerForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                answer = services.answer_submit(
                    actor=request.actor,
                    knowledge=item,
                    data=form.service_data(),
                    citations=list(form.cleaned_data["citations"]),
                    use_cases=list(form.cleaned_data["use_cases"]),
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(
                    request, "Sent to review: a second person approves it before the AI can use it."
                )
                return redirect("answer_detail", request.organization.slug, answer.pk)
        return self._render(request, form, item, status=400)


class KnowledgeReviseView(KnowledgeWriteView):
    scoped_objects = ITEM


class KnowledgeRetireView(OrgView):
    permission = {"POST": Action.ANSWER_SME}
    scoped_objects = ITEM

    def post(self, request, item):
        form = RetireForm(request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        try:
            item = services.knowledge_retire(actor=request.actor, item=item, reason=reason)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"{item.key} is retired: the AI no longer retrieves it, and the gaps it "
                "answered are open again.",
            )
        return redirect("knowledge_detail", request.organization.slug, item.number)
