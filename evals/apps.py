import os

from django.apps import AppConfig


class EvalsConfig(AppConfig):
    name = "evals"

    def ready(self) -> None:
        """Plug the evals area into the core and the use-case area (their registries)."""
        from evals import gates, panels
        from evals.verification import EvalCaseVerifications
        from genai_po.registry import (
            HOME_PANELS,
            Panel,
            register_demo_seeder,
            register_embedded_process,
        )
        from usecases.gates import register_gate_check
        from usecases.models import Stage
        from usecases.panels import USE_CASE_PANELS
        from usecases.verification import register_verification_provider

        register_gate_check(
            stage=Stage.EVALUATE, key="evals.plan_exists", evaluate=gates.eval_plan_exists
        )
        register_gate_check(
            stage=Stage.DEPLOY,
            key="evals.latest_run_meets_thresholds",
            evaluate=gates.latest_run_meets_thresholds,
        )
        register_verification_provider(EvalCaseVerifications())
        USE_CASE_PANELS.register(
            Panel("evals.plans", "evals/panels/use_case.html", panels.use_case_panel)
        )
        HOME_PANELS.register(Panel("evals", "evals/panels/home.html", panels.home_panel))
        register_demo_seeder("evals.demo.seed_evals")
        # The reference agent: a deterministic support agent to run evals against, with no
        # internet (labelled as a reference agent, never as a model).
        port = os.environ.get("GENAI_PO_AGENT_PORT", "8100")
        register_embedded_process(
            "agent",
            lambda python: [python, "-m", "evals.reference_agent", "--port", port],
            banner=f"Reference agent (OpenAI-compatible, not a model): http://127.0.0.1:{port}/v1",
        )
