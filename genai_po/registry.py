"""Extension points of the core that apps fill in their `AppConfig.ready()`.

The core names no domain app: each area registers what it adds, and the core shows or runs
whatever was registered, in the order of INSTALLED_APPS.

- `HOME_PANELS`: panels of the organization's home page.
- `register_role_home`: where members of a role land instead of that home page.
- `register_demo_seeder`: a step of `seed_demo`, after the organizations exist.
- `register_embedded_process`: a process `make run` starts beside the web app and worker.
- `register_periodic_task`: a task Celery beat runs on a schedule.

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

_ROLE_HOMES: dict[str, str] = {}


def register_role_home(role: str, url_name: str) -> None:
    """Members of `role` land on the page `url_name` (taking the organization's slug)
    instead of the organization's home: an SME starts at their inbox."""
    _ROLE_HOMES[role] = url_name


def role_home(role: str) -> str | None:
    return _ROLE_HOMES.get(role)


# --- Demo data


_DEMO_SEEDERS: list[str] = []


def register_demo_seeder(dotted_path: str, *, before: str = "") -> None:
    """`"app.demo.function"`, a function taking the DemoContext; imported only when
    `seed_demo` runs. It must be safe to run again on an already-seeded database.

    Steps run in registration order; `before` (another step's path) puts this one just
    ahead of it, for data that step needs (an area's content another area's step runs on).
    """
    if dotted_path in _DEMO_SEEDERS:
        return
    if before in _DEMO_SEEDERS:
        _DEMO_SEEDERS.insert(_DEMO_SEEDERS.index(before), dotted_path)
    else:
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


# --- Celery beat


def register_periodic_task(name: str, task: str, every_seconds: float) -> None:
    """Beat runs the task named `task` every `every_seconds` (the entry `name` replaces an
    earlier one of that name)."""
    from genai_po.celery import app

    app.add_periodic_task(every_seconds, app.signature(task), name=name)


def _import(dotted_path: str) -> Callable:
    module, _, name = dotted_path.rpartition(".")
    return getattr(import_module(module), name)
