"""Panels of the use-case page that other areas contribute (registered in their
`AppConfig.ready()`): each gets `(request, use_case=…)` and gives its context, or None."""

from genai_po.registry import PanelRegistry

USE_CASE_PANELS = PanelRegistry("use case")
