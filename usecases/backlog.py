"""The unified backlog: every piece of work on the organization's use cases, in one list.

Each area registers a source in its `AppConfig.ready()` (this app the feature items; the evals
app the failures waiting for triage; context the open gaps; governance its unmet items,
sign-offs, waivers and incident follow-ups; metrics the alert breaches). A source answers
live, from its own tables, in a fixed number of queries whatever the number of entries:
nothing is copied into a backlog table, so an entry leaves the backlog when its work is done
where it lives.

The suggested rank is impact × urgency ÷ effort (each 1 to 5, so 0.2 to 25). A member may
also keep a rank of their own (`BacklogRank`); entries they have not placed follow theirs, in
the suggested order.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from usecases.models import BacklogItem, BacklogItemStatus, BacklogRank

SCORE_FORMULA = "impact × urgency ÷ effort"
SCORE_HELP = (
    "Impact: how much the work matters to users and the business (1–5). "
    "Urgency: how soon it must be done: a passed deadline or SLA is 5 (1–5). "
    "Effort: how much work it takes (1–5). The result runs from 0.2 to 25; higher comes first."
)


@dataclass(frozen=True)
class BacklogEntry:
    """One row of the backlog, as every page, the CSV and the API show it."""

    kind: str
    key: str  # what people call it: "GAP-4", "BL-2", "REL-1 · security sign-off"
    title: str
    url: str  # where the work is done
    obj: object  # the model instance the entry stands for (its rank goes with it)
    created_at: datetime
    impact: int
    urgency: int
    effort: int = 3
    owner: object | None = None  # a User
    use_case: object | None = None  # a UseCase
    why: str = ""  # what makes it urgent, or what it is waiting for

    @property
    def score(self) -> float:
        return round(self.impact * self.urgency / self.effort, 2)

    @property
    def ref(self) -> str:
        """Names the entry in forms and the API: "<content type id>.<object id>"."""
        return f"{ContentType.objects.get_for_model(type(self.obj)).pk}.{self.obj.pk}"

    @property
    def kind_label(self) -> str:
        return _SOURCES[self.kind].label if self.kind in _SOURCES else self.kind

    @property
    def owner_name(self) -> str:
        return person_name(self.owner)

    def age_days(self, now=None) -> int:
        return max(0, ((now or timezone.now()) - self.created_at).days)


@dataclass(frozen=True)
class BacklogSource:
    kind: str
    label: str
    entries: Callable[..., Iterable[BacklogEntry]]  # (organization, *, use_case=None)
    description: str = ""


_SOURCES: dict[str, BacklogSource] = {}


def register_backlog_source(source: BacklogSource) -> None:
    """One source per kind; registering a kind again replaces it."""
    _SOURCES[source.kind] = source


def sources() -> list[BacklogSource]:
    return list(_SOURCES.values())


def kind_choices() -> list[tuple[str, str]]:
    return [(s.kind, s.label) for s in _SOURCES.values()]


def person_name(user) -> str:
    """A person as pages show them: their name, else their email."""
    return user.display_name if user is not None else ""


def clamp(value: int) -> int:
    return max(1, min(5, int(value)))


def urgency_of_deadline(deadline, now=None) -> tuple[int, str]:
    """5 when `deadline` (a datetime or date) has passed, less the further away it is."""
    now = now or timezone.now()
    if isinstance(deadline, datetime):
        days = (deadline - now).total_seconds() / 86400
    else:
        days = (deadline - timezone.localdate(now)).days
    if days < 0:
        overdue = int(-days)
        return 5, "overdue" if overdue < 1 else f"{overdue} day{'s' * (overdue != 1)} overdue"
    if days < 2:
        return 4, "due within 2 days"
    if days < 7:
        return 3, f"due in {int(days)} days"
    if days < 30:
        return 2, f"due in {int(days)} days"
    return 1, f"due in {int(days)} days"


@dataclass
class Backlog:
    """The entries of one view of the backlog, in order, with what the filters offered."""

    entries: list[BacklogEntry]
    ranked: set[str] = field(default_factory=set)  # refs the member has placed
    total: int = 0  # before the kind and owner filters


def backlog_of(
    organization,
    *,
    use_case=None,
    kinds: Iterable[str] = (),
    owner_id: int | None | str = "",
    user=None,
    order: str = "suggested",
) -> Backlog:
    """The live backlog of the organization (or one use case).

    `kinds` keeps only those kinds; `owner_id` only that owner's entries (None: the entries
    nobody owns; "": everyone's). `order` is "suggested" (by score) or "mine" (the rank
    `user` keeps, then the rest by score).
    """
    wanted = set(kinds)
    entries: list[BacklogEntry] = []
    total = 0
    for source in _SOURCES.values():
        if wanted and source.kind not in wanted:
            # A kind filtered out is not even read.
            continue
        for entry in source.entries(organization, use_case=use_case):
            total += 1
            if owner_id != "" and _owner_pk(entry) != owner_id:
                continue
            entries.append(entry)
    entries.sort(key=lambda e: (-e.score, -e.urgency, e.created_at, e.key))
    ranked: set[str] = set()
    if order == "mine" and user is not None:
        positions = rank_positions(organization, user)
        ranked = {e.ref for e in entries if e.ref in positions}
        first = sorted((e for e in entries if e.ref in ranked), key=lambda e: positions[e.ref])
        entries = first + [e for e in entries if e.ref not in ranked]
    return Backlog(entries=entries, ranked=ranked, total=total)


_SENTINEL = 987654321


def url_maker(name: str, *args, per_row: int = 1) -> Callable[..., str]:
    """A fast `reverse(name, args=[*args, *row_args])` for many rows: the URL is reversed
    once, with numbers standing in for the `per_row` last arguments, then filled per row."""
    stand_ins = [_SENTINEL + i for i in range(per_row)]
    template = reverse(name, args=[*args, *stand_ins]).replace("{", "{{").replace("}", "}}")
    for i, number in enumerate(stand_ins):
        template = template.replace(str(number), "{" + str(i) + "}")

    def make(*row_args) -> str:
        return template.format(*row_args)

    return make


def _owner_pk(entry: BacklogEntry):
    return entry.owner.pk if entry.owner is not None else None


def rank_positions(organization, user) -> dict[str, int]:
    """{ref: position} of the entries `user` has placed."""
    rows = BacklogRank.objects.for_org(organization).filter(user=user)
    return {
        f"{ct}.{oid}": pos
        for ct, oid, pos in rows.values_list("content_type_id", "object_id", "position")
    }


# --- The feature items, this app's own source


def feature_entries(organization, *, use_case=None) -> list[BacklogEntry]:
    items = (
        BacklogItem.objects.for_org(organization)
        .filter(status=BacklogItemStatus.OPEN)
        .select_related("owner", "use_case")
    )
    if use_case is not None:
        items = items.filter(use_case=use_case)
    url_of = url_maker("backlog_item", organization.slug)
    out = []
    for item in items:
        if item.due_on:
            urgency, why = urgency_of_deadline(item.due_on)
        else:
            urgency, why = 2, "no due date"
        out.append(
            BacklogEntry(
                kind="feature",
                key=item.key,
                title=item.title,
                url=url_of(item.number),
                obj=item,
                created_at=item.created_at,
                impact=item.value,
                urgency=urgency,
                effort=item.effort,
                owner=item.owner,
                use_case=item.use_case,
                why=why,
            )
        )
    return out
