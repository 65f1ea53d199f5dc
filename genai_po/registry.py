"""Extension points of the core that apps fill in their `AppConfig.ready()`.

The core names no domain app: each area registers what it adds, and the core shows or runs
whatever was registered, in the order of INSTALLED_APPS.

- `HOME_PANELS`, `HOME_FOCUS`: the area cards of the organization's home page, and the
  panels at its top a role starts from (a panel may be for some roles only).
- `register_attention_source`: a kind of thing that needs someone now ("what needs me
  now" on the home page of the roles it names).
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
from datetime import datetime
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
    roles: frozenset[str] = frozenset()  # the roles it is shown to; empty: every role

    def shown_to(self, role: str) -> bool:
        return not self.roles or role in self.roles


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
        role = getattr(request, "role", "")
        for panel in self._panels:
            if not panel.shown_to(role):
                continue
            context = panel.context(request, **kwargs)
            if context is None:
                continue
            html.append(render_to_string(panel.template, {**kwargs, **context}, request=request))
        return html


HOME_PANELS = PanelRegistry("home")  # the areas' cards, at the foot of the home page
# Beside "what needs you now": what a role starts from (the top of the product owner's
# backlog, the portfolio's state for a viewer); usually given `roles`.
HOME_FOCUS = PanelRegistry("home focus")

_ROLE_HOMES: dict[str, str] = {}


def register_role_home(role: str, url_name: str) -> None:
    """Members of `role` land on the page `url_name` (taking the organization's slug)
    instead of the organization's home: an SME starts at their inbox."""
    _ROLE_HOMES[role] = url_name


def role_home(role: str) -> str | None:
    return _ROLE_HOMES.get(role)


# --- What needs someone now


@dataclass(frozen=True)
class Attention:
    """One thing that needs someone now, one click from where it is resolved."""

    title: str  # "REL-2 Claims assistant v2"
    url: str  # the page where it is resolved
    why: str = ""  # "2 blockers: the eval run misses its threshold"
    when: datetime | None = None  # its deadline, or since when it waits
    late: bool = False  # past its deadline, or severe: shown first and marked
    use_case: str = ""  # the use case's key, when it has one


@dataclass(frozen=True)
class AttentionSource:
    """A kind of thing that needs attention, for some roles.

    `items(request)` returns what needs attention now, most pressing first, at most
    `ATTENTION_LIMIT + 1` (one more than shown tells that there are more); `more_url(request)`
    is the page listing them all.
    """

    key: str
    label: str  # "Blocked releases"
    roles: frozenset[str]
    items: Callable[..., list[Attention]]
    more_url: Callable[..., str] | None = None
    hint: str = ""  # what resolving one means, in a few words
    position: int = 50  # the home page lists sources by position, then registration


ATTENTION_LIMIT = 5

_ATTENTION: list[AttentionSource] = []


def register_attention_source(source: AttentionSource) -> None:
    """Shown in registration order; a key registered again replaces the earlier source."""
    global _ATTENTION
    _ATTENTION = [s for s in _ATTENTION if s.key != source.key] + [source]


def attention_sources(role: str | None = None) -> list[AttentionSource]:
    found = [s for s in _ATTENTION if role is None or role in s.roles]
    return sorted(found, key=lambda s: s.position)


@dataclass
class AttentionGroup:
    source: AttentionSource
    items: list[Attention]
    more: bool  # there are more than the items shown
    more_url: str


def attention_for(request) -> list[AttentionGroup]:
    """What needs the requesting member now: one group per source of their role that has
    something, each with at most `ATTENTION_LIMIT` items, late ones first."""
    groups = []
    for source in attention_sources(request.role):
        found = list(source.items(request))
        if not found:
            continue
        found.sort(key=lambda a: not a.late)  # stable: the source's order within each
        more_url = source.more_url(request) if source.more_url else ""
        groups.append(
            AttentionGroup(source, found[:ATTENTION_LIMIT], len(found) > ATTENTION_LIMIT, more_url)
        )
    return groups


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
