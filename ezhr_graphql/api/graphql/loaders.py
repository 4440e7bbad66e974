"""Per-request DataLoaders (``XByYLoader``); each batch opens its own read session."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Generator, Hashable, Mapping, Sequence
from functools import cached_property
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField
from strawberry.utils.str_converters import to_snake_case

from ezhr_graphql.db import Database
from ezhr_graphql.models import (
    Agent,
    ChatMessage,
    Collection,
    EmbeddingModel,
    Folder,
    LlmModel,
    User,
)
from ezhr_graphql.models.audience import AudienceAttribute
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.ai_model import EmbeddingModelRepository, LlmModelRepository
from ezhr_graphql.repositories.audience import AudienceRepository
from ezhr_graphql.repositories.base import Repository
from ezhr_graphql.repositories.chat import ChatMessageRepository, FolderRepository
from ezhr_graphql.repositories.knowledge import CollectionRepository
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services.actor import Actor

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
T = TypeVar("T")
P = TypeVar("P")


def _by_id(
    db: Database, repository: Callable[[AsyncSession], Repository[Any]]
) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: Sequence[uuid.UUID]) -> list[Any]:
        async with db.read() as session:
            found = await repository(session).get_many(list(set(ids)))
        return [found.get(id) for id in ids]

    return DataLoader(load_fn=load)


def _visible_agent_by_id(db: Database, actor: Actor | None) -> DataLoader[uuid.UUID, Agent | None]:
    """Agents the actor may see: a private agent a member once chatted with shows as
    null in their old sessions rather than leaking its configuration."""

    async def load(ids: Sequence[uuid.UUID]) -> list[Agent | None]:
        async with db.read() as session:
            found = await AgentRepository.from_session(session).get_many_visible(
                list(set(ids)),
                None if actor is None else actor.id,
                actor is not None and actor.is_admin,
            )
        return [found.get(id) for id in ids]

    return DataLoader(load_fn=load)


def _last_message_by_session(db: Database) -> DataLoader[uuid.UUID, ChatMessage | None]:
    async def load(ids: Sequence[uuid.UUID]) -> list[ChatMessage | None]:
        async with db.read() as session:
            found = await ChatMessageRepository.from_session(session).last_by_session(
                list(set(ids))
            )
        return [found.get(id) for id in ids]

    return DataLoader(load_fn=load)


def _messages_by_session(db: Database) -> DataLoader[uuid.UUID, list[ChatMessage]]:
    async def load(ids: Sequence[uuid.UUID]) -> list[list[ChatMessage]]:
        async with db.read() as session:
            found = await ChatMessageRepository.from_session(session).in_sessions(list(set(ids)))
        return [found.get(id, []) for id in ids]

    return DataLoader(load_fn=load)


def _collections_by_agent(db: Database) -> DataLoader[uuid.UUID, list[Collection]]:
    async def load(ids: Sequence[uuid.UUID]) -> list[list[Collection]]:
        async with db.read() as session:
            found = await CollectionRepository.from_session(session).of_agents(list(set(ids)))
        return [found.get(id, []) for id in ids]

    return DataLoader(load_fn=load)


AudienceRows = dict[AudienceAttribute, list[str]]
AudienceFetch = Callable[
    [AudienceRepository, list[uuid.UUID]], Awaitable[dict[uuid.UUID, AudienceRows]]
]


def _audiences(db: Database, fetch: AudienceFetch) -> DataLoader[uuid.UUID, AudienceRows]:
    """The audiences ``fetch`` reads (of documents or of collections), by id, one
    statement a batch."""

    async def load(ids: Sequence[uuid.UUID]) -> list[AudienceRows]:
        async with db.read() as session:
            found = await fetch(AudienceRepository.from_session(session), list(set(ids)))
        return [found.get(id, {}) for id in ids]

    return DataLoader(load_fn=load)


class Loaders:
    """The DataLoaders of one operation, each built on first use: most operations use
    one or two of them, and a subscription, held open for as long as a tab is, none
    (building them all would cost every open subscription several KiB)."""

    def __init__(self, db: Database, actor: Actor | None = None) -> None:
        self._db = db
        self._actor = actor

    @classmethod
    def build(cls, db: Database, actor: Actor | None = None) -> Loaders:
        return cls(db, actor)

    def clear(self) -> None:
        """Forget every cached row (after a mutation changed some)."""
        for loader in vars(self).values():
            if isinstance(loader, DataLoader):
                loader.clear_all()

    @cached_property
    def agent_by_id(self) -> DataLoader[uuid.UUID, Agent | None]:
        return _visible_agent_by_id(self._db, self._actor)

    @cached_property
    def llm_model_by_id(self) -> DataLoader[uuid.UUID, LlmModel | None]:
        return _by_id(self._db, LlmModelRepository.from_session)

    @cached_property
    def embedding_model_by_id(self) -> DataLoader[uuid.UUID, EmbeddingModel | None]:
        return _by_id(self._db, EmbeddingModelRepository.from_session)

    @cached_property
    def folder_by_id(self) -> DataLoader[uuid.UUID, Folder | None]:
        return _by_id(self._db, FolderRepository.from_session)

    @cached_property
    def user_by_id(self) -> DataLoader[uuid.UUID, User | None]:
        return _by_id(self._db, UserRepository.from_session)

    @cached_property
    def last_message_by_session_id(self) -> DataLoader[uuid.UUID, ChatMessage | None]:
        return _last_message_by_session(self._db)

    @cached_property
    def messages_by_session_id(self) -> DataLoader[uuid.UUID, list[ChatMessage]]:
        return _messages_by_session(self._db)

    @cached_property
    def collections_by_agent(self) -> DataLoader[uuid.UUID, list[Collection]]:
        return _collections_by_agent(self._db)

    @cached_property
    def audience_by_document_id(self) -> DataLoader[uuid.UUID, AudienceRows]:
        return _audiences(self._db, AudienceRepository.of_documents)

    @cached_property
    def audience_by_collection_id(self) -> DataLoader[uuid.UUID, AudienceRows]:
        return _audiences(self._db, AudienceRepository.of_collections)

    @cached_property
    def audience_by_approved_answer_id(self) -> DataLoader[uuid.UUID, AudienceRows]:
        return _audiences(self._db, AudienceRepository.of_approved_answers)


def resolved_or_awaitable(
    loader: DataLoader[K, R | None], key: K, convert: Callable[[R], T]
) -> T | Awaitable[T | None] | None:
    """The converted value for ``key``: at once when the loader already holds it
    (a list resolver prefetched it), else an awaitable.

    A field that returns a plain value costs graphql-core no coroutine and no task;
    on a page of 50 sessions that is most of the time spent on nested fields.
    """
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and not future.exception():
        row = future.result()
        return None if row is None else convert(row)

    async def later() -> T | None:
        row = await loader.load(key)
        return None if row is None else convert(row)

    return later()


class Deferred(Generic[T]):
    """A value loaded when graphql-core awaits it, each time it does, and never if
    the query does not select its field.

    It stands for a nested object in a plain attribute of an API type, where a list
    puts the object itself: graphql-core reads a plain attribute without building a
    resolver's arguments and ``Info``, and a page of 50 sessions has 150 such fields.
    """

    __slots__ = ("_load",)

    def __init__(self, load: Callable[[], Awaitable[T]]) -> None:
        self._load = load

    def __await__(self) -> Generator[Any, None, T]:
        return self._load().__await__()


def deferred(
    loader: DataLoader[K, R | None], key: K, convert: Callable[[R], T]
) -> Deferred[T | None]:
    """``key``'s row from ``loader``, converted, when (if) it is awaited."""

    async def load() -> T | None:
        row = await loader.load(key)
        return None if row is None else convert(row)

    return Deferred(load)


async def prefetched(
    info: Any, result: P, wanted: Mapping[str, tuple[DataLoader[Any, Any], str]]
) -> P:
    """``result`` after prefetching its nodes' nested fields, when it is a page."""
    edges = getattr(result, "edges", None)
    if edges is not None:
        await prefetch(info, [edge.node for edge in edges], wanted)
    return result


async def prefetch(
    info: Any, nodes: Sequence[Any], wanted: Mapping[str, tuple[DataLoader[Any, Any], str]]
) -> None:
    """Fill loaders for the nested fields the query selects on ``edges.node``, one
    batch per loader, before the nodes are completed.

    ``wanted`` maps a field name to its loader and the node attribute holding the key.
    """
    if not nodes:
        return
    selected = node_fields(info)
    batches = []
    for field, (loader, attribute) in wanted.items():
        if field in selected:
            keys = {getattr(node, attribute) for node in nodes} - {None}
            batches.append(loader.load_many(list(keys)))
    if batches:
        await asyncio.gather(*batches)


def node_fields(info: Any) -> set[str]:
    """Names of the fields selected under ``edges { node { ... } }`` of a connection
    result, through any fragments."""
    return set(node_selection(info))


def node_selection(info: Any) -> dict[str, set[str]]:
    """The fields selected under ``edges { node { ... } }`` of a connection result,
    each with the names of the fields selected under it (empty for a leaf), through
    any fragments."""
    selected: dict[str, set[str]] = {}
    for root in info.selected_fields:
        for edges in _fields(root.selections, "edges"):
            for node in _fields(edges.selections, "node"):
                for field in _fields(node.selections, None):
                    under = selected.setdefault(field.name, set())
                    under.update(f.name for f in _fields(field.selections, None))
    return selected


def columns_shown(
    fields: set[str], columns: Sequence[str], computed: Mapping[str, tuple[str, ...]]
) -> frozenset[str] | None:
    """The columns a type's selected ``fields`` show: a field ``computed`` names shows
    the columns it lists; any other, the column of its name in snake_case. ``None``
    (every column) when a field is neither, so a field added later reads everything
    until it is named."""
    shown: set[str] = set()
    for field in fields - {"__typename"}:
        if field in computed:
            shown.update(computed[field])
            continue
        column = to_snake_case(field)
        if column not in columns:
            return None
        shown.add(column)
    return frozenset(shown)


def _fields(selections: Sequence[Any], name: str | None) -> list[SelectedField]:
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            if name is None or selection.name == name:
                found.append(selection)
        elif isinstance(selection, (InlineFragment, FragmentSpread)):
            found.extend(_fields(selection.selections, name))
    return found
