from django.apps import AppConfig


def _no_context(request) -> dict:
    return {}


def _not_built_yet(use_case, readiness):
    from usecases.gates import UNAVAILABLE, Check

    return Check(
        "A release is approved",
        UNAVAILABLE,
        "Releases and sign-offs arrive with the governance area, not built yet.",
    )


class GovernanceConfig(AppConfig):
    name = "governance"

    def ready(self) -> None:
        from genai_po.registry import HOME_PANELS, Panel
        from usecases.gates import register_gate_check
        from usecases.models import Stage

        HOME_PANELS.register(Panel("governance", "governance/panels/home.html", _no_context))
        # Until this area is built, its gate check says so (and counts as not met).
        register_gate_check(
            stage=Stage.DEPLOY, key="governance.release_approved", evaluate=_not_built_yet
        )
