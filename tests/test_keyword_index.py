"""The keyword index stays in step with the chunks (upload, re-index, delete, a new
title), its triggers are all there after the migrations, and its queries take any
term; the SQL Server fallback finds the same chunks."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select, text

from ezhr_graphql.container import Container
from ezhr_graphql.models import DocumentChunk
from ezhr_graphql.repositories import keywords
from ezhr_graphql.repositories.keywords import (
    KeywordRepository,
    KeywordScope,
    KeywordTerm,
    TermCounts,
)
from ezhr_graphql.services.retrieval.terms import query_terms
from tests.conftest import GraphQLClient, PeopleFactory
from tests.knowledge import UPDATE_DOCUMENT, upload, wait_indexed
from tests.test_hybrid_retrieval import (
    FMLA,
    LEAVE,
    files,
    knowledge,
    library,
    retriever,
)
from tests.test_retrieval_units import HOSTILE

SQLITE_TRIGGERS = {
    "chunk_search_insert",
    "chunk_search_delete",
    "chunk_search_update",
    "chunk_search_retitle",
    "chunk_search_forget",
}
POSTGRESQL_TRIGGERS = {"chunk_search_add", "chunk_search_change", "chunk_search_retitle"}


def dialect(container: Container) -> str:
    return container.db.engine.dialect.name


async def chunks(container: Container, document: str | None = None) -> set[uuid.UUID]:
    statement = select(DocumentChunk.id)
    if document is not None:
        statement = statement.where(DocumentChunk.document_id == uuid.UUID(document))
    async with container.db.read() as session:
        return set(await session.scalars(statement))


async def indexed(container: Container) -> set[uuid.UUID]:
    """The chunk ids the keyword index holds, having checked it is whole."""
    if dialect(container) == "postgresql":
        async with container.db.read() as session:
            rows = await session.execute(text("SELECT chunk_id FROM chunk_search"))
            return {uuid.UUID(str(row[0])) for row in rows}
    async with container.db.transaction() as session:
        # FTS5 checks its index against the rows it holds.
        await session.execute(
            text("INSERT INTO chunk_search (chunk_search) VALUES ('integrity-check')")
        )
        keys = {
            uuid.UUID(row[0])
            for row in await session.execute(text("SELECT chunk_id FROM chunk_search_key"))
        }
        rows = await session.scalar(text("SELECT count(*) FROM chunk_search"))
        joined = await session.scalar(
            text(
                "SELECT count(*) FROM chunk_search "
                "JOIN chunk_search_key AS k ON k.id = chunk_search.rowid"
            )
        )
    assert rows == joined == len(keys)
    return keys


async def hits(container: Container, collection: str, question: str) -> set[uuid.UUID]:
    scope = KeywordScope([uuid.UUID(collection)])
    async with container.db.read() as session:
        found = await KeywordRepository(session).search(scope, query_terms(question).terms, 100)
    return {hit.chunk_id for hit in found}


async def test_the_index_follows_indexing_reindexing_and_deletion(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    lib = await library(client, gql, people, container, files(LEAVE, FMLA))
    fmla, collection = lib.documents["fmla.md"], lib.collections[0]
    assert await indexed(container) == await chunks(container)
    replaced = await chunks(container, fmla)
    assert replaced & await hits(container, collection, "FMLA")

    reindex = "mutation ($id: ID!) { reindexDocument(id: $id) { __typename } }"
    await gql.data(reindex, {"id": fmla}, lib.admin.token)
    assert (await wait_indexed(gql, lib.admin.token, fmla))["status"] == "READY"
    assert await indexed(container) == await chunks(container)
    current = await chunks(container, fmla)
    assert replaced.isdisjoint(current)
    found = await hits(container, collection, "FMLA")
    assert current & found
    assert replaced.isdisjoint(found)
    know = await knowledge(container, lib.agent, threshold=-1.0, top_k=10)
    passages = await retriever(container).retrieve(know, "FMLA")
    assert replaced.isdisjoint(p.chunk_id for p in passages)

    delete = "mutation ($id: ID!) { deleteDocument(id: $id) { __typename } }"
    await gql.data(delete, {"id": fmla}, lib.admin.token)
    assert await indexed(container) == await chunks(container)
    assert current.isdisjoint(await hits(container, collection, "FMLA"))
    passages = await retriever(container).retrieve(know, "FMLA")
    assert fmla not in {str(p.document_id) for p in passages}


async def test_a_documents_new_title_is_found(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    lib = await library(client, gql, people, container, files(LEAVE))
    collection = lib.collections[0]
    assert await hits(container, collection, "zebra") == set()
    await gql.data(
        UPDATE_DOCUMENT,
        {"id": lib.documents["leave.md"], "input": {"title": "Zebra crossing rules"}},
        lib.admin.token,
    )
    assert await hits(container, collection, "zebra") == await chunks(container)
    assert await indexed(container) == await chunks(container)
    know = await knowledge(container, lib.agent, threshold=-1.0)
    passages = await retriever(container).retrieve(know, "zebra")
    assert passages[0].title == "Zebra crossing rules"


async def test_every_trigger_is_there_after_the_migrations(container: Container) -> None:
    async with container.db.read() as session:
        if dialect(container) == "postgresql":
            names = set(
                await session.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
            )
            assert names >= POSTGRESQL_TRIGGERS
        else:
            names = set(
                await session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            )
            assert names >= SQLITE_TRIGGERS


async def test_any_term_text_is_harmless(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    """Terms straight to the repository, not cleaned by query_terms first."""
    lib = await library(client, gql, people, container, files(FMLA))
    scope = KeywordScope([uuid.UUID(lib.collections[0])])
    async with container.db.read() as session:
        keywords = KeywordRepository(session)
        for hostile in HOSTILE:
            for tokens in (("fmla",), ("fmla", "leave")):
                await keywords.search(scope, [KeywordTerm(hostile, tokens)], 10)
                await keywords.like_search(scope, [KeywordTerm(hostile, tokens)], 10)


async def test_the_like_fallback_finds_the_terms_within_the_scope(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    lib = await library(client, gql, people, container, files(LEAVE), files(FMLA))
    leave, fmla = (uuid.UUID(lib.documents[name]) for name in ("leave.md", "fmla.md"))
    both = [uuid.UUID(c) for c in lib.collections]
    terms = list(query_terms("FMLA unpaid weeks").terms)
    async with container.db.read() as session:
        keywords = KeywordRepository(session)
        found = await keywords.like_search(KeywordScope(both), terms, 50)
        assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)
        assert found[0].score == len(terms)
        assert fmla in {h.document_id for h in found if h.score == len(terms)}
        only_fmla = await keywords.like_search(KeywordScope(both, [leave]), terms, 50)
        assert {h.document_id for h in only_fmla} == {fmla}
        first_only = await keywords.like_search(KeywordScope(both[:1]), terms, 50)
        assert {h.document_id for h in first_only} <= {leave}


async def test_common_words_must_all_match_when_they_are_over_the_budget(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lib = await library(client, gql, people, container, files(LEAVE, FMLA))
    collection = lib.collections[0]
    if dialect(container) == "postgresql":
        async with container.db.transaction() as session:
            await session.execute(text("ANALYZE chunk_search"))
            frequencies = await KeywordRepository(session)._frequencies()
        assert frequencies is not None
        assert frequencies[0]["leave"] > 0
    everything = await hits(container, collection, "annual sick leave")
    monkeypatch.setattr(keywords, "BUDGET", {"sqlite": 1, "postgresql": 1})
    both = await hits(container, collection, "annual sick leave")
    assert both
    assert both < everything
    async with container.db.read() as session:
        rows = await session.execute(
            select(DocumentChunk.text).where(DocumentChunk.id.in_(list(both)))
        )
        texts = [row[0].lower() for row in rows]
    # The rarest words, all of them, in every chunk found.
    assert all("annual" in t and "sick" in t for t in texts)


def test_term_counts_keep_only_fresh_counts_of_words_some_row_holds() -> None:
    counts = TermCounts(ttl=60.0, size=3)
    counts.remember({"leave": 40, "fmla": 2, "sabbatical": 0})
    assert counts.known(["fmla", "leave", "sabbatical"]) == (
        {"fmla": 2.0, "leave": 40.0},
        ["sabbatical"],  # not held by any row yet: read again at the next question
    )
    counts.remember({"annual": 7, "sick": 3})  # over the size: forgets, keeps the newest
    assert counts.known(["leave", "annual", "sick"]) == ({"annual": 7.0, "sick": 3.0}, ["leave"])
    stale = TermCounts(ttl=0.0)
    stale.remember({"leave": 40})
    assert stale.known(["leave"]) == ({}, ["leave"])


async def test_a_word_a_new_document_brings_is_searched_for_at_once(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    """Counts shared between searches, as the retriever shares them, neither hide a
    word indexed since nor are read again while fresh."""
    lib = await library(client, gql, people, container, files(LEAVE))
    collection = lib.collections[0]
    scope = KeywordScope([uuid.UUID(collection)])
    shared = TermCounts()

    async def search(question: str) -> set[str]:
        async with container.db.read() as session:
            found = await KeywordRepository(session, shared).search(
                scope, query_terms(question).terms, 20
            )
        return {str(hit.document_id) for hit in found}

    assert await search("sabbatical") == set()
    assert await search("leave") == {lib.documents["leave.md"]}
    sent = await upload(
        client,
        lib.admin.token,
        collection,
        "sabbatical.md",
        b"# Sabbatical\n\nA sabbatical of three months follows seven years of service.\n",
    )
    new = sent["document"]["id"]
    assert (await wait_indexed(gql, lib.admin.token, new))["status"] == "READY"
    assert await search("sabbatical") == {new}
    if dialect(container) == "sqlite":  # the only dialect that counts rows per word
        fresh, missing = shared.known(["sabbatical", "leave"])
        assert missing == []
        assert fresh["sabbatical"] == 1
        assert fresh["leave"] > 1
