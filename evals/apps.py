import os

from django.apps import AppConfig
from django.conf import settings


class EvalsConfig(AppConfig):
    name = "evals"

    def ready(self) -> None:
        """Plug the evals area into the core and the use-case area (their registries)."""
        from evals import agent_knowledge, attention, backlog, gates, lifecycle, panels
        from evals.verification import EvalCaseVerifications
        from genai_po.registry import (
            HOME_PANELS,
            AttentionSource,
            Panel,
            register_attention_source,
            register_demo_seeder,
            register_embedded_process,
            register_periodic_task,
        )
        from genai_po.roles import PERMISSIONS, Action, Role
        from usecases.backlog import BacklogSource, register_backlog_source
        from usecases.gates import register_gate_check
        from usecases.lifecycle import register_stage_artifact
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
        register_stage_artifact(
            stage=Stage.EVALUATE, key="evals.plans", describe=lifecycle.plans_artifact
        )
        USE_CASE_PANELS.register(
            Panel("evals.plans", "evals/panels/use_case.html", panels.use_case_panel)
        )
        HOME_PANELS.register(Panel("evals", "evals/panels/home.html", panels.home_panel))
        register_attention_source(
            AttentionSource(
                "evals.regressions",
                "Regressions in the latest runs",
                PERMISSIONS[Action.EDIT_PRODUCT] | {Role.ENGINEER},
                attention.regressions,
                attention.evals_url,
                hint="Open the run: its newly failing cases come first; triage each one.",
                position=20,
            )
        )
        for key, label, items, hint in (
            ("evals.failing", "Failing evals", attention.failing,
             "The plan's latest run failed or misses its thresholds."),
            ("evals.running", "Running evals", attention.running, "Queued or running now."),
        ):  # fmt: skip
            register_attention_source(
                AttentionSource(
                    key, label, frozenset({Role.ENGINEER}), items, attention.evals_url, hint=hint
                )  # fmt: skip
            )
        register_demo_seeder("evals.demo.seed_evals")
        register_backlog_source(
            BacklogSource(
                kind=backlog.KIND,
                label="Eval failures",
                entries=backlog.eval_failure_entries,
                description="Failures of each plan's latest finished run that nobody has "
                "triaged yet: one entry per run.",
            )
        )
        register_periodic_task(
            "eval-reap-leases", "evals.tasks.reap_leases", settings.EVAL_REAP_INTERVAL_SECONDS
        )
        register_periodic_task("eval-start-scheduled-runs", "evals.tasks.start_scheduled_runs", 60)
        # The reference agent: a deterministic support agent to run evals against, with no
        # internet (labelled as a reference agent, never as a model).
        # It answers from the organization's published knowledge, through the API.
        port = os.environ.get("GENAI_PO_AGENT_PORT", "8100")
        register_embedded_process(
            "agent",
            lambda python: [
                python, "-m", "evals.reference_agent", "--port", port,
                "--knowledge-url", agent_knowledge.search_url(),
                "--knowledge-token-file", str(agent_knowledge.token_file()),
            ],
            banner=f"Reference agent (OpenAI-compatible, not a model): http://127.0.0.1:{port}/v1"
            " (answers from the published knowledge)",
        )  # fmt: skip
