"""Governance has no models of its own yet; the audit trail's admin lives in genai_po."""
