"""Text search of the context area, one contract on both databases.

- PostgreSQL (full stack): knowledge by full-text search (a stored, weighted `tsvector`
  with a GIN index, ranked by `ts_rank_cd`), gaps by trigram similarity (`pg_trgm`).
- SQLite (embedded): FTS5 tables kept in sync by triggers, ranked by `bm25`.

Both answer `[Match(id, score)]`, best first, score in (0, 1]. The query is cut into
plain terms (no operator of either syntax reaches the database) joined by OR, so a
question finds what shares some of its words. Every query binds the organization id:
raw SQL here is the one place that does what the scoped managers do elsewhere.
Migration 0002 creates the indexes, tables and triggers these queries read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection

MAX_TERMS = 16
CANDIDATES = 5  # PostgreSQL re-ranks this many times the asked number on the whole text
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that say nothing about a question's topic ("how", "can", "my"): left out of the
# query so they do not match every row. English only, like the PostgreSQL configuration.
_STOPWORD_TEXT = """
a about after again all am an and any are as at be been before being but by can could
did do does doing for from get got had has have having he her here hers him his how i if
in into is it its just me more most my no nor not now of off on once only or other our
out over own please same she should so some such than that the their them then there
these they this those through to too under until up us very was we were what when where
which while who whom why will with would you your yours hi hello thanks thank ok
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class Match:
    id: int
    score: float


def query_terms(text: str, limit: int | None = MAX_TERMS) -> list[str]:
    """The distinct content words of `text`, lower case, in order (at most `limit`)."""
    terms: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall((text or "").lower()):
        word = word.replace("_", "")
        if len(word) < 2 or word in STOPWORDS or word in seen:
            continue
        seen.add(word)
        terms.append(word)
        if len(terms) == limit:
            break
    return terms


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def knowledge_matches(
    organization_id: int, text: str, *, use_case_id: int | None = None, limit: int = 10
) -> list[Match]:
    """Published knowledge items of the organization matching `text`, best first.

    With `use_case_id`, items for that use case and items for every use case (no use case
    linked) are searched; without it, all of them.
    """
    terms = query_terms(text)
    if not terms or limit < 1:
        return []
    use_case_filter = ""
    params: list = []
    if use_case_id is not None:
        use_case_filter = (
            " AND (NOT EXISTS (SELECT 1 FROM context_knowledgeusecase l WHERE l.item_id = k.id)"
            " OR EXISTS (SELECT 1 FROM context_knowledgeusecase l WHERE l.item_id = k.id"
            " AND l.use_case_id = %s AND l.organization_id = %s))"
        )
        params = [use_case_id, organization_id]
    if _is_postgres():
        # Each term as a lexeme of the English configuration, ORed. Ranking every item that
        # shares a common word ("order") is what costs: the first pass ranks the items whose
        # title or question match (a small vector), the whole text only when they are too
        # few. Title and question weigh most anyway, so the best items are among them.
        query = " | ".join(f"'{term}'" for term in terms)
        rows = []
        for head in (True, False):
            # First the items whose title or question match: ranked on that small vector to
            # keep the best few dozen, then those ranked on the whole text. Only when they
            # are too few, the same over the whole text.
            column = "search_head" if head else "search_vector"
            sql = (
                "SELECT id, ts_rank_cd(search_vector, query, 32) AS rank FROM ("
                f" SELECT k.id, k.search_vector, q.query FROM context_knowledgeitem k,"
                " (SELECT to_tsquery('english', %s) AS query) q"
                " WHERE k.organization_id = %s AND k.status = 'published'"
                f" AND k.{column} @@ q.query"
                + use_case_filter
                + f" ORDER BY ts_rank(k.{column}, q.query) DESC, k.id DESC LIMIT %s"
                ") candidates ORDER BY rank DESC, id DESC LIMIT %s"
            )
            found = _fetch(sql, [query, organization_id, *params, limit * CANDIDATES, limit])
            seen = {row[0] for row in rows}
            rows += [row for row in found if row[0] not in seen][: limit - len(rows)]
            if len(rows) >= limit:
                break
        return [Match(id=row[0], score=_unit(row[1])) for row in rows if row[1] > 0]
    if use_case_id is None:
        # The organization and "published" are terms of the FTS5 query (the `scope` column):
        # no join, FTS5 ranks only this organization's published items.
        sql = (
            "SELECT rowid, bm25(context_knowledge_fts, 4.0, 4.0, 1.0, 0.0) AS rank"
            " FROM context_knowledge_fts WHERE context_knowledge_fts MATCH %s"
            " ORDER BY rank, rowid DESC LIMIT %s"
        )
        match = (
            f'scope:"o{int(organization_id)}" AND scope:"published" AND '
            f"({{title question body}} : ({_fts5_query(terms)}))"
        )
        rows = _fetch(sql, [match, limit])
        return _fts5_scored(rows, terms)
    sql = (
        "SELECT k.id, bm25(context_knowledge_fts, 4.0, 4.0, 1.0, 0.0) AS rank"
        " FROM context_knowledge_fts JOIN context_knowledgeitem k"
        " ON k.id = context_knowledge_fts.rowid"
        " WHERE context_knowledge_fts MATCH %s"
        " AND k.organization_id = %s AND k.status = 'published'"
        + use_case_filter
        + " ORDER BY rank, k.id DESC LIMIT %s"
    )
    match = f"{{title question body}} : ({_fts5_query(terms)})"
    rows = _fetch(sql, [match, organization_id, *params, limit])
    return _fts5_scored(rows, terms)


def _fts5_scored(rows: list[tuple], terms: list[str]) -> list[Match]:
    """FTS5's order, with a score a person can read. bm25 alone gives a word found in most
    items almost no weight (its IDF is floored near zero), so a search for "refund" in a
    refunds knowledge base would score every hit 0.000. The score is half the share of
    the query's words the item holds (by stem), half bm25's, in (0, 1]."""
    if not rows:
        return []
    marks = ",".join(["%s"] * len(rows))
    texts = {
        row[0]: " ".join(part or "" for part in row[1:]).lower()
        for row in _fetch(
            "SELECT rowid, title, question, body FROM context_knowledge_fts"
            f" WHERE rowid IN ({marks})",
            [row[0] for row in rows],
        )
    }
    stems = [term[:5] if len(term) > 5 else term for term in terms]
    out = []
    for rowid, rank in rows:
        words = set(_WORD.findall(texts.get(rowid, "")))
        held = sum(1 for stem in stems if any(word.startswith(stem) for word in words))
        coverage = max(held, 1) / len(stems)
        out.append(Match(id=rowid, score=round(0.5 * coverage + 0.5 * _unit(-rank), 6)))
    return sorted(out, key=lambda match: -match.score)  # stable: ties keep FTS5's order


def gap_candidates(
    organization_id: int, text: str, *, exclude_id: int | None = None, limit: int = 20
) -> list[Match]:
    """Gaps of the organization whose question resembles `text`, best first (the caller
    decides what is similar enough, with the same rule on both databases)."""
    terms = query_terms(text)
    if not terms:
        return []
    exclude = " AND g.id <> %s" if exclude_id is not None else ""
    extra = [exclude_id] if exclude_id is not None else []
    if _is_postgres():
        sql = (
            "SELECT g.id, similarity(g.question, %s) AS sim FROM context_contextgap g"
            " WHERE g.organization_id = %s AND similarity(g.question, %s) > 0.1"
            + exclude
            + " ORDER BY sim DESC, g.id DESC LIMIT %s"
        )
        rows = _fetch(sql, [text, organization_id, text, *extra, limit])
        return [Match(id=row[0], score=float(row[1])) for row in rows]
    sql = (
        "SELECT g.id, bm25(context_gap_fts) AS rank FROM context_gap_fts"
        " JOIN context_contextgap g ON g.id = context_gap_fts.rowid"
        " WHERE context_gap_fts MATCH %s AND g.organization_id = %s"
        + exclude
        + " ORDER BY rank, g.id DESC LIMIT %s"
    )
    rows = _fetch(sql, [_fts5_query(terms), organization_id, *extra, limit])
    return [Match(id=row[0], score=_unit(-row[1])) for row in rows]


def _fts5_query(terms: list[str]) -> str:
    # Each term quoted as an FTS5 string (a `"` inside is doubled), so nothing in the
    # user's text is read as FTS5 syntax.
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _unit(rank: float) -> float:
    """A positive rank as a score in (0, 1), growing with the rank."""
    rank = max(float(rank), 0.0)
    return round(rank / (rank + 1), 6) if rank else 0.0


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def release_connection() -> None:
    """Close this thread's database connection: for threads outside Django's request cycle
    (the MCP server's), which would otherwise keep one open per thread."""
    connection.close()
