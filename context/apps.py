import os

from django.apps import AppConfig


class ContextConfig(AppConfig):
    name = "context"

    def ready(self) -> None:
        """Plug the context area into the others, through their registries."""
        from context import attention, backlog, lifecycle, panels
        from context.selectors import agent_items
        from context.services import on_run_finished
        from context.triage import on_context_gap_triage
        from evals.agent_knowledge import register_published_knowledge
        from evals.models import TriageCategory
        from evals.run_events import register_run_finished_handler
        from evals.triage import register_triage_handler
        from genai_po.registry import (
            HOME_PANELS,
            AttentionSource,
            Panel,
            register_attention_source,
            register_demo_seeder,
            register_embedded_process,
            register_periodic_task,
            register_role_home,
        )
        from genai_po.roles import PERMISSIONS, Action, Role
        from usecases.backlog import BacklogSource, register_backlog_source
        from usecases.lifecycle import register_stage_artifact
        from usecases.models import Stage
        from usecases.panels import USE_CASE_PANELS

        register_triage_handler(
            category=TriageCategory.CONTEXT_GAP, key="context.gap", handler=on_context_gap_triage
        )
        register_run_finished_handler(key="context.verification", handler=on_run_finished)
        USE_CASE_PANELS.register(
            Panel("context.loop", "context/panels/use_case.html", panels.use_case_panel)
        )
        HOME_PANELS.register(Panel("context", "context/panels/home.html", panels.home_panel))
        register_periodic_task(
            "context-sources-freshness", "context.tasks.sources_freshness", 24 * 60 * 60
        )
        register_periodic_task("context-gaps-sla", "context.tasks.gaps_sla_check", 60 * 60)
        # Acme's policies are published knowledge before evals' step runs the baseline
        # (the reference agent answers from them); the loop itself comes after.
        register_demo_seeder("context.demo.seed_knowledge_base", before="evals.demo.seed_evals")
        register_demo_seeder("context.demo.seed_context")
        register_published_knowledge(agent_items)
        register_role_home(Role.SME, "inbox")
        register_stage_artifact(
            stage=Stage.EVALUATE, key="context.inventory", describe=lifecycle.inventory_artifact
        )
        register_stage_artifact(
            stage=Stage.IMPROVE, key="context.knowledge", describe=lifecycle.knowledge_loop_artifact
        )
        product = PERMISSIONS[Action.EDIT_PRODUCT]
        register_attention_source(
            AttentionSource(
                "context.overdue",
                "Overdue SME questions",
                product,
                attention.overdue_questions,
                attention.gaps_url,
                position=30,
                hint="Past their answer time: nudge the SME or route to the backup.",
            )
        )
        register_attention_source(
            AttentionSource(
                "context.stale",
                "Stale sources",
                product,
                attention.stale_sources,
                attention.sources_url,
                position=50,
                hint="Past their review date: verify them or retire them.",
            )
        )
        register_backlog_source(
            BacklogSource(
                kind=backlog.KIND,
                label="Context gaps",
                entries=backlog.context_gap_entries,
                description="Open context gaps: knowledge the AI lacked, by severity and SLA.",
            )
        )
        # Published knowledge as an MCP tool, beside the web app (embedded mode).
        mcp_port = os.environ.get("GENAI_PO_MCP_PORT", "8001")
        register_embedded_process(
            "mcp",
            lambda python: [python, "manage.py", "serve_mcp", "--port", mcp_port],
            banner=f"MCP tool search_knowledge (streamable HTTP): http://127.0.0.1:{mcp_port}/mcp",
        )
