"""Governance: releases, checklists, sign-offs and incidents come here (not built yet).

The audit trail is platform code (genai_po.models.AuditEvent, genai_po.audit); this app
only shows its pages.
"""
