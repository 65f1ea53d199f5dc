"""The SME's day: their inbox (overdue first), answering a question next to its evidence,
revising an answer, and reviewing someone else's."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect

from context import selectors, services
from context.forms import AnswerForm, ReviewForm
from context.markdown import render_markdown
from context.models import Answer, AnswerStatus, ContextGap
from genai_po.base_views import OrgView, Scoped
from genai_po.forms import errors_into_form
from genai_po.htmx import render_page
from genai_po.roles import Action

ANSWER = {"GET": Action.ANSWER_SME, "POST": Action.ANSWER_SME}
GAP = {"gap": Scoped(ContextGap, "number")}


class InboxView(OrgView):
    permission = Action.ANSWER_SME

    def get(self, request):
        org = request.organization
        page = Paginator(selectors.inbox_of(org, request.user), 100).get_page(
            request.GET.get("page")
        )
        for gap in page:
            gap.sla = selectors.sla_state(gap)
        returned = list(
            Answer.objects.for_org(org)
            .filter(author=request.user, status=AnswerStatus.CHANGES_REQUESTED)
            .select_related("gap", "knowledge")
            .prefetch_related("reviews")
        )
        mine_in_review = list(
            Answer.objects.for_org(org)
            .filter(author=request.user, status=AnswerStatus.IN_REVIEW)
            .select_related("gap", "knowledge")
            .order_by("-created_at")[:50]
        )
        return render_page(
            request,
            "context/inbox.html",
            {
                "page": page,
                "query": "",
                "returned": returned,
                "mine_in_review": mine_in_review,
                "reviews": list(selectors.reviews_waiting(org, request.user)[:100]),
            },
        )


def _answer_context(request, gap, form, answer=None, knowledge=None) -> dict:
    return {
        "gap": gap,
        "form": form,
        "answer": answer,
        "knowledge": knowledge,
        "evidence": selectors.evidence_of(gap) if gap else [],
        "suggestions": selectors.suggestions_for(
            request.organization, gap.question, exclude_gap=gap
        )
        if gap
        else None,
    }


def _links(form) -> dict:
    return {
        "citations": list(form.cleaned_data["citations"]),
        "use_cases": list(form.cleaned_data["use_cases"]) or None,
    }


class GapAnswerView(OrgView):
    permission = ANSWER
    scoped_objects = GAP

    def get(self, request, gap):
        if not services.may_answer(request.actor, gap):
            raise PermissionDenied("This question is assigned to someone else.")
        initial = {
            "question": gap.question,
            "title": gap.question[:120],
            "use_cases": [link.use_case_id for link in gap.use_case_links.all()],
        }
        form = AnswerForm(organization=request.organization, initial=initial)
        return render_page(request, "context/answer_form.html", _answer_context(request, gap, form))

    def post(self, request, gap):
        form = AnswerForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                services.answer_submit(
                    actor=request.actor, gap=gap, data=form.service_data(), **_links(form)
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, f"Your answer to {gap.key} is with a reviewer.")
                return redirect("inbox", request.organization.slug)
        return render_page(
            request, "context/answer_form.html", _answer_context(request, gap, form), status=400
        )


class AnswerDetailView(OrgView):
    """An answer, rendered, with the gap's evidence and the review form for a second
    person."""

    permission = {"GET": Action.VIEW, "POST": Action.ANSWER_SME}
    scoped_objects = {"answer": Answer}

    def _context(self, request, answer, form) -> dict:
        gap = answer.gap
        return {
            "answer": answer,
            "gap": gap,
            "form": form,
            "body_html": render_markdown(answer.body),
            "citations": [link.source for link in answer.citation_links.select_related("source")],
            "reviews": list(answer.reviews.all()),
            "evidence": selectors.evidence_of(gap) if gap else [],
            "can_review": answer.status == AnswerStatus.IN_REVIEW
            and services.may_review(request.actor, answer),
            "own": answer.author_id == request.user.pk,
        }

    def get(self, request, answer):
        return render_page(
            request, "context/answer_detail.html", self._context(request, answer, ReviewForm())
        )

    def post(self, request, answer):
        form = ReviewForm(request.POST)
        if form.is_valid():
            try:
                services.answer_review(
                    actor=request.actor,
                    answer=answer,
                    decision=form.cleaned_data["decision"],
                    comment=form.cleaned_data["comment"],
                    review_by=form.cleaned_data["review_by"],
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                answer.refresh_from_db()
                messages.success(
                    request,
                    {
                        AnswerStatus.APPROVED: "Approved and published: the AI can retrieve it now"
                        + ("; the gap's cases run again." if answer.gap_id else "."),
                        AnswerStatus.CHANGES_REQUESTED: "Sent back to its author with your "
                        "comment.",
                        AnswerStatus.REJECTED: "Rejected: the question goes back to its SME.",
                    }[answer.status],
                )
                if answer.gap_id:
                    return redirect("gap_detail", request.organization.slug, answer.gap.number)
                return redirect("answer_detail", request.organization.slug, answer.pk)
        return render_page(
            request, "context/answer_detail.html", self._context(request, answer, form), status=400
        )


class AnswerReviseView(OrgView):
    permission = ANSWER
    scoped_objects = {"answer": Answer}

    def _own(self, request, answer) -> None:
        if answer.author_id != request.user.pk:
            raise PermissionDenied("Only the author revises an answer.")

    def get(self, request, answer):
        self._own(request, answer)
        form = AnswerForm(
            organization=request.organization,
            initial={
                "title": answer.title,
                "question": answer.question,
                "body": answer.body,
                "scope": answer.scope,
                "confidence": answer.confidence,
                "citations": [link.source_id for link in answer.citation_links.all()],
                "use_cases": [link.use_case_id for link in answer.use_case_links.all()],
            },
        )
        return render_page(
            request,
            "context/answer_form.html",
            _answer_context(request, answer.gap, form, answer=answer),
        )

    def post(self, request, answer):
        self._own(request, answer)
        form = AnswerForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                services.answer_revise(
                    actor=request.actor, answer=answer, data=form.service_data(), **_links(form)
                )
            except ValidationError as exc:
                errors_into_form(form, exc)
            else:
                messages.success(request, "Revised: back with a reviewer.")
                return redirect("inbox", request.organization.slug)
        return render_page(
            request,
            "context/answer_form.html",
            _answer_context(request, answer.gap, form, answer=answer),
            status=400,
        )
