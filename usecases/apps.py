from django.apps import AppConfig


def _no_context(request) -> dict:
    return {}


class UsecasesConfig(AppConfig):
    name = "usecases"

    def ready(self) -> None:
        from genai_po.registry import HOME_PANELS, Panel, register_demo_seeder
        from usecases import backlog, gates, verification

        gates.register_own_checks()
        verification.register_verification_provider(verification.HumanReviews())
        HOME_PANELS.register(Panel("usecases", "usecases/panels/home.html", _no_context))
        register_demo_seeder("usecases.demo.seed_use_cases")
        backlog.register_backlog_source(
            backlog.BacklogSource(
                kind="feature",
                label="Feature",
                entries=backlog.feature_entries,
                description="Backlog items of our own: value, effort, owner and due date.",
            )
        )
