from django.apps import AppConfig


class GenaiPoConfig(AppConfig):
    name = "genai_po"
    verbose_name = "Workspace"
