from django.apps import AppConfig


def _no_context(request) -> dict:
    return {}


class UsecasesConfig(AppConfig):
    name = "usecases"

    def ready(self) -> None:
        from genai_po.registry import HOME_FOCUS, HOME_PANELS, Panel, register_demo_seeder
        from genai_po.roles import PERMISSIONS, Action, Role
        from usecases import backlog, gates, home, lifecycle, verification
        from usecases.models import Stage

        gates.register_own_checks()
        for stage, key, describe in (
            (Stage.DISCOVER, "usecases.brief", lifecycle.brief_artifact),
            (Stage.PROTOTYPE, "usecases.prd", lifecycle.prd_artifact),
            (Stage.IMPROVE, "usecases.backlog", lifecycle.backlog_artifact),
        ):
            lifecycle.register_stage_artifact(stage=stage, key=key, describe=describe)
        verification.register_verification_provider(verification.HumanReviews())
        HOME_PANELS.register(Panel("usecases", "usecases/panels/home.html", _no_context))
        HOME_FOCUS.register(
            Panel("usecases.backlog", "usecases/panels/home_backlog.html", home.top_of_backlog,
                  roles=PERMISSIONS[Action.EDIT_PRODUCT])
        )  # fmt: skip
        HOME_FOCUS.register(
            Panel("usecases.portfolio", "usecases/panels/home_portfolio.html",
                  home.portfolio_state, roles=frozenset({Role.VIEWER}))
        )  # fmt: skip
        register_demo_seeder("usecases.demo.seed_use_cases")
        backlog.register_backlog_source(
            backlog.BacklogSource(
                kind="feature",
                label="Feature",
                entries=backlog.feature_entries,
                description="Backlog items of our own: value, effort, owner and due date.",
            )
        )
