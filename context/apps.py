from django.apps import AppConfig


def _no_context(request) -> dict:
    return {}


class ContextConfig(AppConfig):
    name = "context"

    def ready(self) -> None:
        from genai_po.registry import HOME_PANELS, Panel

        HOME_PANELS.register(Panel("context", "context/panels/home.html", _no_context))
