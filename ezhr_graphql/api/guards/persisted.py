"""Persisted queries: a request names its document by SHA-256 instead of sending it.

The request carries ``extensions: {"persistedQuery": {"version": 1, "sha256Hash": h}}``
(Apollo's convention, over HTTP GET and POST and in a websocket's subscribe payload).

- ``auto``: a hash with its ``query`` registers the document (when the caller is
  signed in, the hash matches and the document parses within the limits, see
  ``MAX_DOCUMENT_BYTES``); a hash alone is served from the store, or refused with
  ``PERSISTED_QUERY_NOT_FOUND`` (message ``PersistedQueryNotFound``, which Apollo
  clients answer by sending the document again). Anonymous callers may send the hashes
  of documents already registered, and documents with their hash, which run but are
  not kept. Requests with a plain ``query`` run as usual.
- ``allowlist``: only the documents of a manifest run; a plain ``query`` is refused
  with ``PERSISTED_QUERY_REQUIRED`` before it is parsed, an unknown hash with
  ``PERSISTED_QUERY_NOT_FOUND`` (or ``PERSISTED_QUERY_NOT_ALLOWED`` when the document
  came along with it).
- ``off``: a hash alone is refused with ``PERSISTED_QUERY_NOT_SUPPORTED`` (Apollo
  clients then stop sending hashes); a ``query`` runs, whatever hash it came with.

The store of ``auto`` mode lives where the broker lives: this process's memory (an
LRU), or Redis, so every worker serves a document another one registered.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from weakref import WeakKeyDictionary

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    print_ast,
)
from redis.exceptions import RedisError

from ezhr_graphql.api.guards.limits import Parse, document_parser
from ezhr_graphql.pubsub import Broker
from ezhr_graphql.settings import GraphQLSettings

logger = logging.getLogger(__name__)

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
PERSISTED_QUERY_REQUIRED = "PERSISTED_QUERY_REQUIRED"
PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
PERSISTED_QUERY_INVALID = "PERSISTED_QUERY_INVALID"
REDIS_PREFIX = "ezhr:apq:"
# Only signed-in callers register documents, and what they can make the server keep is
# bounded: longer documents (in UTF-8) run but are not kept (real ones are a few KiB),
# and each process writes at most so many new documents a minute to Redis (keeping the
# rest locally), each kept for the time to live from its registration, however often
# it is read: at most writes a minute * ttl minutes * MAX_DOCUMENT_BYTES per process.
MAX_DOCUMENT_BYTES = 32 * 1024
REDIS_WRITES_PER_MINUTE = 120
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(Exception):
    """The request's persisted query cannot be run: a GraphQL request error."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def formatted(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code}}


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def wants_persisted(extensions: object) -> bool:
    """The request names a persisted query (it may then leave ``query`` out)."""
    return isinstance(extensions, Mapping) and extensions.get("persistedQuery") is not None


class QueryStore(Protocol):
    async def get(self, digest: str) -> str | None: ...

    async def put(self, digest: str, document: str) -> None: ...


class MemoryStore:
    """The most recently used documents of this process, each for ``ttl`` seconds
    after it was put (for ever without one)."""

    def __init__(self, size: int, ttl: float | None = None) -> None:
        self.size = size
        self.ttl = ttl
        self._documents: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def get(self, digest: str) -> str | None:
        return self.peek(digest)

    def peek(self, digest: str) -> str | None:
        entry = self._documents.get(digest)
        if entry is None:
            return None
        document, expires = entry
        if expires <= time.monotonic():
            del self._documents[digest]
            return None
        self._documents.move_to_end(digest)
        return document

    async def put(self, digest: str, document: str) -> None:
        expires = math.inf if self.ttl is None else time.monotonic() + self.ttl
        self._documents[digest] = (document, expires)
        self._documents.move_to_end(digest)
        if len(self._documents) > self.size:
            self._documents.popitem(last=False)


class RedisStore:
    """Documents in Redis, shared by every worker, each kept ``ttl`` seconds after it
    was registered: reads do not extend it, or hashes alone would keep documents alive
    for ever (a client whose hash expired sends the document again). This process's
    LRU in front saves the round trip for the hot ones (a hash names one document
    forever, so a local copy is never stale); it keeps each for ``ttl`` too, so a
    document expires everywhere and is written to Redis again when sent again.

    Persisted queries only save bandwidth: when Redis fails, a hash is reported
    unknown and the client sends the document again, which runs.
    """

    def __init__(
        self,
        redis: Any,
        size: int,
        ttl: int,
        prefix: str = REDIS_PREFIX,
        writes_per_minute: int = REDIS_WRITES_PER_MINUTE,
    ) -> None:
        self.redis = redis
        self.local = MemoryStore(size, ttl)
        self.ttl = ttl
        self.prefix = prefix
        self.writes_per_minute = writes_per_minute
        self._writes = 0.0
        self._written_at = time.monotonic()

    def _may_write(self) -> bool:
        """A token bucket of ``writes_per_minute``, full at start."""
        now = time.monotonic()
        refill = (now - self._written_at) * self.writes_per_minute / 60
        self._writes = max(0.0, self._writes - refill)
        self._written_at = now
        if self._writes + 1 > self.writes_per_minute:
            return False
        self._writes += 1
        return True

    async def get(self, digest: str) -> str | None:
        document = self.local.peek(digest)
        if document is not None:
            return document
        try:
            raw = await self.redis.get(self.prefix + digest)
        except RedisError:
            logger.warning("persisted query store unavailable", exc_info=True)
            return None
        if raw is None:
            return None
        document = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        await self.local.put(digest, document)
        return document

    async def put(self, digest: str, document: str) -> None:
        if self.local.peek(digest) is not None:
            return  # registered already: clients that always send both cost no write
        await self.local.put(digest, document)
        if not self._may_write():
            logger.info("persisted query %s kept in this process only: too many new", digest)
            return
        try:
            await self.redis.set(self.prefix + digest, document, ex=self.ttl)
        except RedisError:
            logger.warning("persisted query store unavailable", exc_info=True)


def load_manifest(path: Path) -> dict[str, str]:
    """The allow-list: a JSON object of SHA-256 -> document, or an Apollo persisted
    query manifest (``{"operations": [{"id": ..., "body": ...}]}``).

    Raises:
        ValueError: the file is unreadable, malformed, or a hash does not match its
            document.
    """
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the persisted query manifest {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected an object of SHA-256 hash -> document")
    if isinstance(raw.get("operations"), list):
        pairs = [(op.get("id"), op.get("body")) for op in raw["operations"] if isinstance(op, dict)]
    else:
        pairs = list(raw.items())
    manifest: dict[str, str] = {}
    for digest, document in pairs:
        if not isinstance(digest, str) or not isinstance(document, str):
            raise ValueError(f"{path}: expected an object of SHA-256 hash -> document")
        if sha256_hex(document) != digest.lower():
            raise ValueError(f"{path}: {digest} is not the SHA-256 of its document")
        manifest[digest.lower()] = document
    return manifest


def manifest_of(source: str) -> dict[str, str]:
    """An allow-list of every operation in ``source`` (e.g. docs/operations.graphql):
    each operation with the fragments it uses, printed as a document of its own.

    Raises:
        GraphQLError: ``source`` does not parse.
    """
    document = parse(source)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    manifest: dict[str, str] = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        used: dict[str, FragmentDefinitionNode] = {}
        pending = [definition.selection_set]
        while pending:
            for spread in _spreads(pending.pop()):
                if spread not in used and spread in fragments:
                    used[spread] = fragments[spread]
                    pending.append(fragments[spread].selection_set)
        text = print_ast(DocumentNode(definitions=(definition, *used.values())))
        manifest[sha256_hex(text)] = text
    return manifest


def _spreads(selection_set: SelectionSetNode) -> list[str]:
    names = []
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            names.append(selection.name.value)
        elif isinstance(selection, (FieldNode, InlineFragmentNode)) and selection.selection_set:
            names.extend(_spreads(selection.selection_set))
    return names


def _digest(persisted: object) -> str:
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise PersistedQueryError(
            "Unsupported persisted query: send {version: 1, sha256Hash}", PERSISTED_QUERY_INVALID
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest.lower()):
        raise PersistedQueryError(
            "`sha256Hash` must be the hex SHA-256 of the document", PERSISTED_QUERY_INVALID
        )
    return digest.lower()


class PersistedQueries:
    """Turns a request's ``query`` and ``extensions`` into the document to run."""

    def __init__(
        self,
        mode: str,
        parse: Parse,
        store: QueryStore | None = None,
        manifest: Mapping[str, str] | None = None,
    ) -> None:
        self.mode = mode
        self.parse = parse
        self.store = store or MemoryStore(1)
        self.manifest = manifest or {}

    async def resolve(
        self, query: str | None, extensions: object, *, signed_in: bool = False
    ) -> str | None:
        """The document to run; ``None`` only when neither names one (the transport
        reports the missing query as it always has). A document sent with its hash is
        registered only when the caller is ``signed_in``.

        Raises:
            PersistedQueryError: the request is refused, with the reason's code.
        """
        persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
        if persisted is None:
            if self.mode == "allowlist" and query is not None:
                raise PersistedQueryError(
                    "This server runs persisted queries only: send the document's "
                    "extensions.persistedQuery.sha256Hash instead of its text",
                    PERSISTED_QUERY_REQUIRED,
                )
            return query
        if self.mode == "off":
            if query:
                return query
            raise PersistedQueryError("PersistedQueryNotSupported", PERSISTED_QUERY_NOT_SUPPORTED)
        digest = _digest(persisted)
        if query is not None and sha256_hex(query) != digest:
            raise PersistedQueryError(
                "provided sha does not match query", PERSISTED_QUERY_HASH_MISMATCH
            )
        if self.mode == "allowlist":
            document = self.manifest.get(digest)
            if document is not None:
                return document
            if query is None:
                raise PersistedQueryError("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            raise PersistedQueryError(
                "This operation is not in the server's allow-list", PERSISTED_QUERY_NOT_ALLOWED
            )
        if query is None:
            document = await self.store.get(digest)
            if document is None:
                raise PersistedQueryError("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            return document
        if not signed_in or not _small(query):
            return query
        try:
            self.parse(query)  # the executor reuses this parse from the cache
        except GraphQLError:
            return query  # not worth keeping; the executor reports why
        await self.store.put(digest, query)
        return query


def _small(document: str) -> bool:
    """At most ``MAX_DOCUMENT_BYTES`` in UTF-8 (never fewer bytes than characters)."""
    return len(document) <= MAX_DOCUMENT_BYTES and len(document.encode()) <= MAX_DOCUMENT_BYTES


_stores: WeakKeyDictionary[object, QueryStore] = WeakKeyDictionary()


def persisted_queries(settings: GraphQLSettings, broker: Broker) -> PersistedQueries:
    """The persisted queries of one app; HTTP and websockets share one store per
    broker, so a document registered on either is served on both.

    Raises:
        ValueError: allow-list mode with an unusable manifest.
    """
    parse = document_parser(settings)
    if settings.persisted_queries == "allowlist":
        assert settings.persisted_queries_file is not None  # checked by the settings
        manifest = load_manifest(settings.persisted_queries_file)
        return PersistedQueries("allowlist", parse, manifest=manifest)
    store = _stores.get(broker)
    if store is None:
        redis = broker.redis
        size = settings.persisted_queries_cache_size
        store = (
            MemoryStore(size)
            if redis is None
            else RedisStore(redis, size, settings.persisted_queries_ttl_seconds)
        )
        _stores[broker] = store
    return PersistedQueries(settings.persisted_queries, parse, store=store)
