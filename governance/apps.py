from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"

    def ready(self) -> None:
        """Plug the governance area into the others, through their registries."""
        from genai_po.registry import (
            HOME_PANELS,
            AttentionSource,
            Panel,
            register_attention_source,
            register_demo_seeder,
            register_periodic_task,
            register_role_home,
        )
        from genai_po.roles import PERMISSIONS, Action, Role
        from governance import attention, backlog, lifecycle, panels
        from usecases.backlog import BacklogSource, register_backlog_source
        from usecases.gates import register_gate_check
        from usecases.lifecycle import register_stage_artifact
        from usecases.models import Stage
        from usecases.panels import USE_CASE_PANELS

        HOME_PANELS.register(Panel("governance", "governance/panels/home.html", panels.home_panel))
        USE_CASE_PANELS.register(
            Panel("governance.releases", "governance/panels/use_case.html", panels.use_case_panel)
        )
        register_gate_check(
            stage=Stage.DEPLOY,
            key="governance.release_approved",
            evaluate=panels.release_gate_check,
        )
        register_role_home(Role.REVIEWER, "review_list")
        register_stage_artifact(
            stage=Stage.DEPLOY, key="governance.release", describe=lifecycle.release_artifact
        )
        register_stage_artifact(
            stage=Stage.DEPLOY, key="governance.oversight", describe=lifecycle.oversight_artifact
        )
        product = PERMISSIONS[Action.EDIT_PRODUCT]
        register_attention_source(
            AttentionSource(
                "governance.blocked",
                "Blocked releases",
                product,
                attention.blocked_releases,
                attention.releases_url,
                position=10,
                hint="Each opens where its first blocker is resolved.",
            )
        )
        register_attention_source(
            AttentionSource(
                "governance.reports_due",
                "Incident reports near their deadline",
                product,
                attention.reports_due,
                attention.incidents_url,
                position=60,
                hint="Serious incidents whose Article 73 report is due within 7 days.",
            )
        )
        register_periodic_task(
            "governance-incident-deadlines",
            "governance.tasks.incident_deadline_reminders",
            60 * 60,
        )
        register_demo_seeder("governance.demo.seed_governance")
        register_backlog_source(
            BacklogSource(
                kind="governance",
                label="Governance",
                entries=backlog.governance_entries,
                description="What draft and in-review releases wait for: manual checklist "
                "items not met, sign-offs not given, waivers expiring within 14 days.",
            )
        )
        register_backlog_source(
            BacklogSource(
                kind="incident_follow_up",
                label="Incident follow-ups",
                entries=backlog.incident_follow_up_entries,
                description="Open follow-up actions of incidents, by severity and due date.",
            )
        )
