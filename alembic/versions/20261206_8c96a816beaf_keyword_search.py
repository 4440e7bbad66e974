"""keyword search

Revision ID: 8c96a816beaf
Revises: 900215196248
Create Date: 2026-12-06 12:48:51.680348

A keyword index of chunks beside the vectors, so that retrieval also finds the exact
terms ("FMLA", form numbers) and the Vietnamese words a small English embedding model
misses. Each chunk is indexed with its document's title (or file name) and its heading
path. Triggers keep the index in step with ``document_chunk`` and ``document`` in the
transaction that changes them, whoever writes.

- SQLite: an FTS5 table (``unicode61``, diacritics kept, case folded) whose integer
  rows ``chunk_search_key`` maps to chunk ids (a chunk's own key is a UUID), and an
  ``fts5vocab`` table of how many rows hold each word.
- PostgreSQL: a ``tsvector`` per chunk (``simple`` configuration: no stemming,
  diacritics kept) with a GIN index, removed with its chunk by a cascading foreign key.
- SQL Server: nothing; its keyword leg scans with ``LIKE`` (see
  ezhr_graphql/repositories/keywords.py).

No model describes these objects (ezhr_graphql.migrations.include_name hides them from
autogenerate). On SQLite, a later batch migration of ``document`` or
``document_chunk`` drops their triggers with the copied table: run ``SQLITE_TRIGGERS``
of this file again after it (the rows keep their chunk ids, so nothing else is lost).
"""

from collections.abc import Sequence

from alembic import op


revision: str = '8c96a816beaf'
down_revision: str | None = '900215196248'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a chunk is found by besides its text: the title an answer cites.
SQLITE_TITLE = "coalesce(nullif({d}.title, ''), {d}.filename)"
SQLITE_HEADING = (
    "CASE WHEN json_valid({c}.heading_path) THEN "
    "(SELECT group_concat(value, ' ') FROM json_each({c}.heading_path)) END"
)

SQLITE_TABLES = [
    "CREATE TABLE chunk_search_key ("
    "id INTEGER PRIMARY KEY, chunk_id CHAR(32) NOT NULL UNIQUE, document_id CHAR(32) NOT NULL)",
    "CREATE INDEX chunk_search_key_document ON chunk_search_key (document_id)",
    "CREATE VIRTUAL TABLE chunk_search USING fts5("
    "title, heading, body, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE VIRTUAL TABLE chunk_search_vocab USING fts5vocab(chunk_search, 'row')",
]

SQLITE_TRIGGERS = [
    "CREATE TRIGGER chunk_search_insert AFTER INSERT ON document_chunk BEGIN "
    "INSERT INTO chunk_search_key (chunk_id, document_id) VALUES (new.id, new.document_id); "
    "INSERT INTO chunk_search (rowid, title, heading, body) "
    f"SELECT k.id, {SQLITE_TITLE.format(d='d')}, {SQLITE_HEADING.format(c='new')}, new.text "
    "FROM chunk_search_key AS k JOIN document AS d ON d.id = new.document_id "
    "WHERE k.chunk_id = new.id; "
    "END",
    "CREATE TRIGGER chunk_search_delete AFTER DELETE ON document_chunk BEGIN "
    "DELETE FROM chunk_search WHERE rowid IN "
    "(SELECT id FROM chunk_search_key WHERE chunk_id = old.id); "
    "DELETE FROM chunk_search_key WHERE chunk_id = old.id; "
    "END",
    "CREATE TRIGGER chunk_search_update AFTER UPDATE OF id, document_id, text, heading_path "
    "ON document_chunk BEGIN "
    "UPDATE chunk_search_key SET chunk_id = new.id, document_id = new.document_id "
    "WHERE chunk_id = old.id; "
    f"UPDATE chunk_search SET title = (SELECT {SQLITE_TITLE.format(d='d')} FROM document AS d "
    f"WHERE d.id = new.document_id), heading = {SQLITE_HEADING.format(c='new')}, "
    "body = new.text WHERE rowid IN (SELECT id FROM chunk_search_key WHERE chunk_id = new.id); "
    "END",
    "CREATE TRIGGER chunk_search_retitle AFTER UPDATE OF title, filename ON document "
    f"WHEN {SQLITE_TITLE.format(d='new')} IS NOT {SQLITE_TITLE.format(d='old')} BEGIN "
    f"UPDATE chunk_search SET title = {SQLITE_TITLE.format(d='new')} WHERE rowid IN "
    "(SELECT id FROM chunk_search_key WHERE document_id = new.id); "
    "END",
    # Chunks go with their document by a cascade; this also covers a delete with
    # foreign keys off (as during migrations).
    "CREATE TRIGGER chunk_search_forget AFTER DELETE ON document BEGIN "
    "DELETE FROM chunk_search WHERE rowid IN "
    "(SELECT id FROM chunk_search_key WHERE document_id = old.id); "
    "DELETE FROM chunk_search_key WHERE document_id = old.id; "
    "END",
]

SQLITE_FILL = [
    "INSERT INTO chunk_search_key (chunk_id, document_id) SELECT id, document_id FROM document_chunk",
    "INSERT INTO chunk_search (rowid, title, heading, body) "
    f"SELECT k.id, {SQLITE_TITLE.format(d='d')}, {SQLITE_HEADING.format(c='c')}, c.text "
    "FROM chunk_search_key AS k JOIN document_chunk AS c ON c.id = k.chunk_id "
    "JOIN document AS d ON d.id = c.document_id",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS chunk_search_forget",
    "DROP TRIGGER IF EXISTS chunk_search_retitle",
    "DROP TRIGGER IF EXISTS chunk_search_update",
    "DROP TRIGGER IF EXISTS chunk_search_delete",
    "DROP TRIGGER IF EXISTS chunk_search_insert",
    "DROP TABLE IF EXISTS chunk_search_vocab",
    "DROP TABLE IF EXISTS chunk_search",
    "DROP TABLE IF EXISTS chunk_search_key",
]

# The functions run with the schema they were made in, whoever's session fires them.
POSTGRESQL = [
    "CREATE TABLE chunk_search ("
    "chunk_id UUID PRIMARY KEY REFERENCES document_chunk (id) "
    "ON DELETE CASCADE ON UPDATE CASCADE, "
    "document_id UUID NOT NULL REFERENCES document (id) ON DELETE CASCADE, "
    "terms TSVECTOR NOT NULL)",
    "CREATE INDEX chunk_search_terms ON chunk_search USING gin (terms)",
    "CREATE INDEX chunk_search_document ON chunk_search (document_id)",
    "CREATE FUNCTION chunk_search_terms(title TEXT, filename TEXT, heading JSON, body TEXT) "
    "RETURNS TSVECTOR LANGUAGE sql IMMUTABLE AS $$ "
    "SELECT setweight(to_tsvector('simple', coalesce(nullif(title, ''), filename, '')), 'A') "
    "|| setweight(json_to_tsvector('simple', coalesce(heading, '[]'), '[\"string\"]'), 'B') "
    "|| to_tsvector('simple', coalesce(body, '')) $$",
    "CREATE FUNCTION chunk_search_add() RETURNS TRIGGER LANGUAGE plpgsql "
    "SET search_path FROM CURRENT AS $$ BEGIN "
    "INSERT INTO chunk_search (chunk_id, document_id, terms) "
    "SELECT c.id, c.document_id, chunk_search_terms(d.title, d.filename, c.heading_path, c.text) "
    "FROM added AS c JOIN document AS d ON d.id = c.document_id; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER chunk_search_add AFTER INSERT ON document_chunk "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION chunk_search_add()",
    "CREATE FUNCTION chunk_search_change() RETURNS TRIGGER LANGUAGE plpgsql "
    "SET search_path FROM CURRENT AS $$ BEGIN "
    "UPDATE chunk_search SET document_id = NEW.document_id, "
    "terms = chunk_search_terms(d.title, d.filename, NEW.heading_path, NEW.text) "
    "FROM document AS d WHERE d.id = NEW.document_id AND chunk_search.chunk_id = NEW.id; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER chunk_search_change AFTER UPDATE OF document_id, text, heading_path "
    "ON document_chunk FOR EACH ROW EXECUTE FUNCTION chunk_search_change()",
    "CREATE FUNCTION chunk_search_retitle() RETURNS TRIGGER LANGUAGE plpgsql "
    "SET search_path FROM CURRENT AS $$ BEGIN "
    "UPDATE chunk_search AS s "
    "SET terms = chunk_search_terms(NEW.title, NEW.filename, c.heading_path, c.text) "
    "FROM document_chunk AS c WHERE c.document_id = NEW.id AND s.chunk_id = c.id; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER chunk_search_retitle AFTER UPDATE OF title, filename ON document "
    "FOR EACH ROW WHEN (coalesce(nullif(NEW.title, ''), NEW.filename) "
    "IS DISTINCT FROM coalesce(nullif(OLD.title, ''), OLD.filename)) "
    "EXECUTE FUNCTION chunk_search_retitle()",
    "INSERT INTO chunk_search (chunk_id, document_id, terms) "
    "SELECT c.id, c.document_id, chunk_search_terms(d.title, d.filename, c.heading_path, c.text) "
    "FROM document_chunk AS c JOIN document AS d ON d.id = c.document_id",
    # Retrieval reads the planner's statistics of the terms to leave out common words.
    "ANALYZE chunk_search",
]

POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS chunk_search_retitle ON document",
    "DROP TRIGGER IF EXISTS chunk_search_change ON document_chunk",
    "DROP TRIGGER IF EXISTS chunk_search_add ON document_chunk",
    "DROP TABLE IF EXISTS chunk_search",
    "DROP FUNCTION IF EXISTS chunk_search_retitle()",
    "DROP FUNCTION IF EXISTS chunk_search_change()",
    "DROP FUNCTION IF EXISTS chunk_search_add()",
    "DROP FUNCTION IF EXISTS chunk_search_terms(TEXT, TEXT, JSON, TEXT)",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_TABLES + SQLITE_FILL + SQLITE_TRIGGERS)
    elif dialect == "postgresql":
        _run(POSTGRESQL)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DROP)
    elif dialect == "postgresql":
        _run(POSTGRESQL_DROP)
