"""The search indexes context/search.py reads, per database.

PostgreSQL: pg_trgm (a trusted extension) for gap similarity, and stored tsvectors of each
knowledge item with GIN indexes: the whole item, weighted (title and question weigh more
than the body), and its title and question alone. SQLite: FTS5 tables over the same text, kept in sync by triggers.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """ALTER TABLE context_knowledgeitem ADD COLUMN search_vector tsvector
       GENERATED ALWAYS AS (
         setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
         setweight(to_tsvector('english', coalesce(question, '')), 'A') ||
         setweight(to_tsvector('english', coalesce(body, '')), 'B')
       ) STORED""",
    "CREATE INDEX context_knowledge_search ON context_knowledgeitem USING GIN (search_vector)",
    # Title and question alone: small, so the first search pass is cheap (search.py).
    """ALTER TABLE context_knowledgeitem ADD COLUMN search_head tsvector
       GENERATED ALWAYS AS (
         to_tsvector('english', coalesce(title, '') || ' ' || coalesce(question, ''))
       ) STORED""",
    "CREATE INDEX context_knowledge_head ON context_knowledgeitem USING GIN (search_head)",
    """CREATE INDEX context_gap_question_trgm ON context_contextgap
       USING GIN (question gin_trgm_ops)""",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS context_gap_question_trgm",
    "DROP INDEX IF EXISTS context_knowledge_head",
    "ALTER TABLE context_knowledgeitem DROP COLUMN IF EXISTS search_head",
    "DROP INDEX IF EXISTS context_knowledge_search",
    "ALTER TABLE context_knowledgeitem DROP COLUMN IF EXISTS search_vector",
]

SQLITE_FORWARD = [
    # `scope` holds "o<organization id> <status>": a query names its organization and
    # "published" as terms, so FTS5 intersects them with the question's words itself.
    """CREATE VIRTUAL TABLE context_knowledge_fts USING fts5(
         title, question, body, scope, tokenize = 'porter unicode61')""",
    """CREATE TRIGGER context_knowledge_fts_insert AFTER INSERT ON context_knowledgeitem BEGIN
         INSERT INTO context_knowledge_fts(rowid, title, question, body, scope)
         VALUES (new.id, new.title, new.question, new.body,
                 'o' || new.organization_id || ' ' || new.status);
       END""",
    """CREATE TRIGGER context_knowledge_fts_update AFTER UPDATE OF title, question, body, status
       ON context_knowledgeitem BEGIN
         DELETE FROM context_knowledge_fts WHERE rowid = old.id;
         INSERT INTO context_knowledge_fts(rowid, title, question, body, scope)
         VALUES (new.id, new.title, new.question, new.body,
                 'o' || new.organization_id || ' ' || new.status);
       END""",
    """CREATE TRIGGER context_knowledge_fts_delete AFTER DELETE ON context_knowledgeitem BEGIN
         DELETE FROM context_knowledge_fts WHERE rowid = old.id;
       END""",
    """INSERT INTO context_knowledge_fts(rowid, title, question, body, scope)
       SELECT id, title, question, body, 'o' || organization_id || ' ' || status
       FROM context_knowledgeitem""",
    """CREATE VIRTUAL TABLE context_gap_fts USING fts5(
         question, tokenize = 'porter unicode61')""",
    """CREATE TRIGGER context_gap_fts_insert AFTER INSERT ON context_contextgap BEGIN
         INSERT INTO context_gap_fts(rowid, question) VALUES (new.id, new.question);
       END""",
    """CREATE TRIGGER context_gap_fts_update AFTER UPDATE OF question ON context_contextgap
       BEGIN
         DELETE FROM context_gap_fts WHERE rowid = old.id;
         INSERT INTO context_gap_fts(rowid, question) VALUES (new.id, new.question);
       END""",
    """CREATE TRIGGER context_gap_fts_delete AFTER DELETE ON context_contextgap BEGIN
         DELETE FROM context_gap_fts WHERE rowid = old.id;
       END""",
    "INSERT INTO context_gap_fts(rowid, question) SELECT id, question FROM context_contextgap",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS context_gap_fts_delete",
    "DROP TRIGGER IF EXISTS context_gap_fts_update",
    "DROP TRIGGER IF EXISTS context_gap_fts_insert",
    "DROP TABLE IF EXISTS context_gap_fts",
    "DROP TRIGGER IF EXISTS context_knowledge_fts_delete",
    "DROP TRIGGER IF EXISTS context_knowledge_fts_update",
    "DROP TRIGGER IF EXISTS context_knowledge_fts_insert",
    "DROP TABLE IF EXISTS context_knowledge_fts",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("context", "0002_membership_tags")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
