"""The keyword leg of retrieval: full-text search over chunks in the database the
deployment already has, filtered to what an agent may use before the top k.

- **SQLite**: the FTS5 table ``chunk_search`` (title, headings, text; ``unicode61``
  with diacritics kept), ranked by BM25. ``chunk_search_key`` maps its integer rows to
  chunk ids, and triggers on ``document_chunk`` and ``document`` keep both in step.
- **PostgreSQL**: ``chunk_search.terms``, a ``tsvector`` of the ``simple``
  configuration (no stemming; diacritics kept) with a GIN index, kept in step by
  triggers and a cascading foreign key; ranked by ``ts_rank_cd``.
- **Anything else** (SQL Server): ``LIKE`` over the chunk text and title in the
  agent's collections, ranked by how many terms match; the reranker scores them.

Only the live rows are searched (a chunk replaced or deleted leaves the index in the
transaction that removes it), of the documents whose audiences admit the reader who
asks (see repositories/audience.py). The terms are ORed (a question's words are not all in its
answer), rarest first: the words that match a large part of the index cost the most
to rank and tell the least, so they are left to the reranker once the rarer ones
already cover ``BUDGET`` rows. When even the rarest word is that common, the rarest
few must all match instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    Uuid,
    bindparam,
    case,
    collate,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from ezhr_graphql.models import Document, DocumentChunk
from ezhr_graphql.models.knowledge import KEYWORD_INDEX
from ezhr_graphql.repositories.audience import Reader, admits

# Rows ranked at most (the sum of the chosen terms' document frequencies), per dialect:
# ranking costs about 10 ms per thousand rows on SQLite.
BUDGET = {"sqlite": 1000, "postgresql": 1000}
# With even the rarest term over budget, this many of the rarest must all match.
REQUIRED_TERMS = 3
# BM25 weights of the FTS5 columns: title, headings, text.
FTS5_WEIGHTS = (2.0, 1.5, 1.0)
# ts_rank_cd weights {D, C, B, A}: text is D, headings B, title A (same ratios).
TSRANK_WEIGHTS = "{0.5, 0.5, 0.75, 1.0}"
# SQL Server compares case-insensitively and accent-sensitively, whatever the
# database's default collation ("dieu" is not "điều").
MSSQL_COLLATION = "Latin1_General_100_CI_AS"


@dataclass(frozen=True, slots=True)
class KeywordTerm:
    """One word of a question: ``text`` as typed (lower-case; the database's own
    parser reads it), ``tokens`` its letters-and-digits parts ("i-9" is ``i``, ``9``)."""

    text: str
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeywordScope:
    """The chunks a search may return: those of ``collections``, but not of
    ``exclude_documents``, and, with a ``reader``, only of the documents whose
    audiences admit the reader (``None``: whoever they are for)."""

    collections: Collection[uuid.UUID]
    exclude_documents: Collection[uuid.UUID] = ()
    reader: Reader | None = None


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """``score``: higher is better; its scale is the dialect's (BM25, ts_rank_cd, or
    the number of terms found)."""

    chunk_id: uuid.UUID
    document_id: uuid.UUID
    score: float


@dataclass(frozen=True, slots=True)
class Chosen:
    terms: list[KeywordTerm]
    all_required: bool = False


def choose(
    terms: Sequence[KeywordTerm],
    frequency: Mapping[str, float] | None,
    budget: int,
    unknown: float = 0.0,
) -> Chosen:
    """The terms to search for, given the rows holding each token (``unknown`` for a
    token ``frequency`` does not name; ``None``: nothing known, search them all). A
    word no row holds is dropped; a word of several parts (a form number) is always
    kept, as rare."""
    if frequency is None:
        return Chosen(list(terms))

    def rows(term: KeywordTerm) -> float:
        return min(frequency.get(token, unknown) for token in term.tokens)

    present = [t for t in terms if rows(t) > 0]
    compounds = [t for t in present if len(t.tokens) > 1]
    words = sorted((t for t in present if len(t.tokens) == 1), key=rows)
    chosen, used = list(compounds), 0.0
    for word in words:
        if used + rows(word) > budget:
            break
        chosen.append(word)
        used += rows(word)
    if chosen or not words:
        return Chosen(chosen)
    return Chosen(words[:REQUIRED_TERMS], all_required=len(words) > 1)


def _printable(text: str) -> str:
    """``text`` without NUL, which ends an FTS5 string early and which PostgreSQL
    refuses in text."""
    return text.replace("\x00", " ")


def fts5_query(chosen: Chosen) -> str:
    """An FTS5 query of quoted strings only: no operator, column filter, prefix or
    NEAR can come from the question."""
    joiner = " AND " if chosen.all_required else " OR "
    quoted = ('"' + _printable(term.text).replace('"', '""') + '"' for term in chosen.terms)
    return joiner.join(quoted)


def like_pattern(term: KeywordTerm) -> str:
    """``%i_9%`` for "i-9": tokens are letters and digits only, so nothing in the
    pattern is a wildcard but what is put there."""
    return "%" + "_".join(term.tokens) + "%"


# The keyword index's tables, as the statements below name them (no model describes
# them: see ezhr_graphql/models/knowledge.py).
_FTS = table(KEYWORD_INDEX, column("rowid", Integer))
# FTS5 matches and ranks by the table's name.
_FTS_TABLE: ColumnElement[Any] = literal_column(KEYWORD_INDEX)
_KEY = table(
    f"{KEYWORD_INDEX}_key",
    column("id", Integer),
    column("chunk_id", Uuid()),
    column("document_id", Uuid()),
)
_VOCAB = table(f"{KEYWORD_INDEX}_vocab", column("term", String), column("doc", Integer))
_TERMS = table(
    KEYWORD_INDEX,
    column("chunk_id", Uuid()),
    column("document_id", Uuid()),
    column("terms", postgresql.TSVECTOR()),
)


def _filters(scope: KeywordScope) -> list[ColumnElement[bool]]:
    """What an agent may use: its collections, without the documents it leaves out,
    and what the reader's attributes admit (in the statement, before its LIMIT)."""
    filters: list[ColumnElement[bool]] = [Document.collection_id.in_(list(scope.collections))]
    if scope.exclude_documents:
        filters.append(Document.id.not_in(list(scope.exclude_documents)))
    if scope.reader is not None:
        filters.append(admits(scope.reader))
    return filters


def tsquery_statement(
    scope: KeywordScope, chosen: Chosen, k: int
) -> Select[uuid.UUID, uuid.UUID, float]:
    """PostgreSQL: each term parsed by ``phraseto_tsquery`` from a bound parameter (no
    tsquery syntax comes from the question), ORed, or ANDed when all are required."""
    simple: ColumnElement[str] = literal_column("'simple'")
    parts = [
        func.phraseto_tsquery(simple, bindparam(None, _printable(term.text)))
        for term in chosen.terms
    ]
    query: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        query = query.op("&&" if chosen.all_required else "||")(part)
    q = select(query.label("query")).cte("q")
    # The index's matches first, whatever the planner thinks of the filters (the terms
    # chosen keep them few), then the agent's filters, then the ranking.
    matched = (
        select(_TERMS.c.chunk_id, _TERMS.c.document_id, _TERMS.c.terms, q.c.query)
        .select_from(_TERMS)
        .join(q, true())
        .where(_TERMS.c.terms.bool_op("@@")(q.c.query))
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    weights: ColumnElement[str] = literal_column(f"'{TSRANK_WEIGHTS}'")
    rank = func.ts_rank_cd(weights, matched.c.terms, matched.c.query, 1).label("rank")
    return (
        select(matched.c.chunk_id, matched.c.document_id, rank)
        .join(Document, Document.id == matched.c.document_id)
        .where(*_filters(scope))
        .order_by(rank.desc())
        .limit(k)
    )


class TermCounts:
    """Rows holding each token, as read from SQLite's vocabulary within the last
    ``ttl`` seconds, shared by the searches of one process.

    Counting a common token's rows reads its whole list of rows (1-2 ms at 100k
    chunks, every question): the counts only choose which terms to rank within the
    budget, and may be a few seconds old, as PostgreSQL's planner statistics the other
    dialect chooses by are older still. Only tokens some row holds are kept, so a word
    a new document brings is searched for as soon as it is indexed.
    """

    def __init__(self, ttl: float = 10.0, size: int = 20_000) -> None:
        self.ttl = ttl
        self.size = size
        self._counts: dict[str, tuple[int, float]] = {}

    def known(self, tokens: Sequence[str]) -> tuple[dict[str, float], list[str]]:
        """The fresh counts of ``tokens``, and the tokens to read again."""
        now, counts, missing = time.monotonic(), dict[str, float](), list[str]()
        for token in tokens:
            found = self._counts.get(token)
            if found is not None and now - found[1] < self.ttl:
                counts[token] = float(found[0])
            else:
                missing.append(token)
        return counts, missing

    def remember(self, counts: Mapping[str, int]) -> None:
        if len(self._counts) + len(counts) > self.size:
            self._counts.clear()  # a bounded memory; refilled by the next questions
        now = time.monotonic()
        self._counts.update((token, (n, now)) for token, n in counts.items() if n > 0)


class KeywordRepository:
    def __init__(self, session: AsyncSession, counts: TermCounts | None = None) -> None:
        """``counts``: term counts to reuse between searches (none: read every time)."""
        self.session = session
        self.counts = counts

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def search(
        self, scope: KeywordScope, terms: Sequence[KeywordTerm], k: int
    ) -> list[KeywordHit]:
        """The ``k`` chunks of the scope that best match ``terms``, best first."""
        if not scope.collections or not terms or k <= 0:
            return []
        if self.dialect == "sqlite":
            return await self._sqlite(scope, terms, k)
        if self.dialect == "postgresql":
            return await self._postgresql(scope, terms, k)
        return await self.like_search(scope, terms, k)

    # --- SQLite -------------------------------------------------------------------

    async def _sqlite(
        self, scope: KeywordScope, terms: Sequence[KeywordTerm], k: int
    ) -> list[KeywordHit]:
        tokens = sorted({token for term in terms for token in term.tokens})
        chosen = choose(terms, await self._sqlite_counts(tokens), BUDGET["sqlite"])
        if not chosen.terms:
            return []
        rank = func.bm25(_FTS_TABLE, *FTS5_WEIGHTS).label("rank")
        statement = (
            select(_KEY.c.chunk_id, _KEY.c.document_id, rank)
            .select_from(_FTS)
            .join(_KEY, _KEY.c.id == _FTS.c.rowid)
            .join(Document, Document.id == _KEY.c.document_id)
            .where(_FTS_TABLE.bool_op("MATCH")(fts5_query(chosen)))
            .where(*_filters(scope))
            .order_by(rank)
            .limit(k)
        )
        rows = await self.session.execute(statement)
        return [KeywordHit(chunk, document, -float(rank)) for chunk, document, rank in rows]

    async def _sqlite_counts(self, tokens: list[str]) -> dict[str, float]:
        counts, missing = self.counts.known(tokens) if self.counts else ({}, tokens)
        if missing:
            found = await self.session.execute(
                select(_VOCAB.c.term, _VOCAB.c.doc).where(_VOCAB.c.term.in_(missing))
            )
            read = {str(term): int(n) for term, n in found}
            if self.counts is not None:
                self.counts.remember(read)
            counts.update((term, float(n)) for term, n in read.items())
        return counts

    # --- PostgreSQL ---------------------------------------------------------------

    async def _frequencies(self) -> tuple[dict[str, float], float] | None:
        """Rows per lexeme, estimated from the planner's statistics of
        ``chunk_search.terms``: its most common lexemes, and what any other counts as
        (half the least common's). ``None`` before the table was first analysed."""
        row = (
            await self.session.execute(
                text(
                    "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, "
                    "c.reltuples FROM pg_class AS c "
                    "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                    "JOIN pg_stats AS s ON s.schemaname = n.nspname "
                    "AND s.tablename = c.relname AND s.attname = 'terms' "
                    "WHERE c.oid = to_regclass(:table)"
                ),
                {"table": KEYWORD_INDEX},
            )
        ).first()
        if row is None or not row[0] or not row[1] or row[2] is None or row[2] <= 0:
            return None
        lexemes, freqs, total = list(row[0]), list(row[1]), float(row[2])
        common = {lexeme: f * total for lexeme, f in zip(lexemes, freqs, strict=False)}
        return common, min(freqs[: len(lexemes)]) / 2 * total

    async def _postgresql(
        self, scope: KeywordScope, terms: Sequence[KeywordTerm], k: int
    ) -> list[KeywordHit]:
        known = await self._frequencies()
        if known is None:
            chosen = choose(terms, None, BUDGET["postgresql"])
        else:
            chosen = choose(terms, known[0], BUDGET["postgresql"], unknown=known[1])
        if not chosen.terms:
            return []
        rows = await self.session.execute(tsquery_statement(scope, chosen, k))
        return [KeywordHit(chunk, document, float(rank)) for chunk, document, rank in rows]

    # --- anything else: SQL Server ------------------------------------------------

    async def like_search(
        self, scope: KeywordScope, terms: Sequence[KeywordTerm], k: int
    ) -> list[KeywordHit]:
        """Chunks holding the most terms (as substrings of the text or title), with no
        index: a scan of the scope's chunks."""
        rows = await self.session.execute(like_statement(scope, terms, k, self.dialect))
        return [KeywordHit(chunk, document, float(n)) for chunk, document, n in rows]


def like_statement(
    scope: KeywordScope, terms: Sequence[KeywordTerm], k: int, dialect: str
) -> Select[uuid.UUID, uuid.UUID, int]:
    """Chunks of the scope holding any term in their text or their document's title,
    most terms first."""

    def holds(column: SQLColumnExpression[str], term: KeywordTerm) -> ColumnElement[bool]:
        if dialect == "mssql":
            return collate(column, MSSQL_COLLATION).like(like_pattern(term))
        return func.lower(column).like(like_pattern(term))

    matches = [or_(holds(DocumentChunk.text, term), holds(Document.title, term)) for term in terms]
    one: ColumnElement[int] = literal_column("1")
    zero: ColumnElement[int] = literal_column("0")
    found: ColumnElement[int] = zero
    for match in matches:
        found = found + case((match, one), else_=zero)
    ranked = found.label("found")
    return (
        select(DocumentChunk.id, DocumentChunk.document_id, ranked)
        .join(Document, Document.id == DocumentChunk.document_id)
        .where(or_(*matches), *_filters(scope))
        .order_by(ranked.desc(), DocumentChunk.id)
        .limit(k)
    )
