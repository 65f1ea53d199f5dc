"""The lifecycle view of a use case: each stage with the artifacts it produced and what
is missing (usecases.lifecycle, filled by every area)."""

from django.shortcuts import render

from genai_po.base_views import OrgView
from genai_po.roles import Action, role_can
from usecases import lifecycle, selectors
from usecases.views.briefs import USE_CASE


class LifecycleView(OrgView):
    permission = Action.VIEW
    scoped_objects = USE_CASE

    def get(self, request, use_case):
        readiness = selectors.readiness_of(use_case=use_case)
        stages = lifecycle.lifecycle_of(use_case, readiness)
        done = [s for s in stages if s.state == lifecycle.PRODUCED]
        return render(
            request,
            "usecases/lifecycle.html",
            {
                "use_case": use_case,
                "stages": stages,
                "produced_count": len(done),
                "missing_count": sum(len(s.missing) for s in stages),
                "current": next(s for s in stages if s.current),
                "next_stage": next(
                    (
                        s.stage
                        for s, before in zip(stages[1:], stages, strict=False)
                        if before.current
                    ),
                    "",
                ),
                "can_edit": role_can(request.role, Action.EDIT_PRODUCT),
            },
        )
