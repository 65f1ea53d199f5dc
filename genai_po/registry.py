"""Extension points of the core that apps fill in their `AppConfig.ready()`.

The core names no domain app: each area registers what it adds, and the core shows or runs
whatever was registered, in the order of INSTALLED_APPS.

- `HOME_PANELS`: panels of the organization's home page.
- `register_demo_seeder`: a step of `seed_demo`, after the organizations exist.
- `register_embedded_process`: a process `make run` starts beside the web app and worker.

The domain registries live with the page or the object they extend:
`usecases.gates` (lifecycle gate checks), `usecases.verification` (what verifies a
requirement), `usecases.panels` (panels of the use-case page), `evals.triage` (what
happens when a failed case is triaged).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module

from django.template.loader import render_to_string
from django.utils.safestring import SafeString


@dataclass(frozen=True)
class Panel:
    """A part of a page an app contributes: its template and a function giving its context
    (or None when the panel has nothing to show for this request)."""

    key: str
    template: str
    context: Callable[..., dict | None]


class PanelRegistry:
    """The panels of one page, in registration order; a key registered again replaces."""

    def __init__(self, page: str) -> None:
        self.page = page
        self._panels: list[Panel] = []

    def register(self, panel: Panel) -> None:
        self._panels = [p for p in self._panels if p.key != panel.key] + [panel]

    def keys(self) -> list[str]:
        return [p.key for p in self._panels]

    def render(self, request, **kwargs) -> list[SafeString]:
        """Each panel rendered with its own context; panels with nothing to show are left out.

        `kwargs` (the page's objects, e.g. `use_case`) reach the context function and the
        template.
        """
        html = []
        for panel in self._panels:
            context = panel.context(request, **kwargs)
            if context is None:
                continue
            html.append(render_to_string(panel.template, {**kwargs, **context}, request=request))
        return html


HOME_PANELS = PanelRegistry("home")


# --- Demo data


_DEMO_SEEDERS: list[str] = []


def register_demo_seeder(dotted_path: str) -> None:
    """`"app.demo.function"`, a function taking the DemoContext; imported only when
    `seed_demo` runs. It must be safe to run again on an already-seeded database."""
    if dotted_path not in _DEMO_SEEDERS:
        _DEMO_SEEDERS.append(dotted_path)


def demo_seeders() -> list[Callable]:
    return [_import(path) for path in _DEMO_SEEDERS]


# --- Processes of the embedded mode


@dataclass(frozen=True)
class EmbeddedProcess:
    name: str
    argv: Callable[[str], Sequence[str]]  # (python executable) -> the command line
    banner: str = ""  # what `make run` prints about it


_EMBEDDED: list[EmbeddedProcess] = []


def register_embedded_process(
    name: str, argv: Callable[[str], Sequence[str]], *, banner: str = ""
) -> None:
    """A process `make run` starts (and stops) with the web app, on 127.0.0.1 only."""
    global _EMBEDDED
    process = EmbeddedProcess(name, argv, banner)
    _EMBEDDED = [p for p in _EMBEDDED if p.name != name] + [process]


def embedded_processes() -> list[EmbeddedProcess]:
    return list(_EMBEDDED)


def _import(dotted_path: str) -> Callable:
    module, _, name = dotted_path.rpartition(".")
    return getattr(import_module(module), name)
