"""Operations in logs and metrics: each operation's user and name in the log context,
counted by name, type and outcome; the gauge of open subscriptions.

Clients choose operation names, so a name labels a metric only when it is known (see
:class:`OperationLabels`): each label value is a series every scrape carries for as
long as the process lives.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Hashable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension

from ezhr_graphql.api.graphql.context import Context
from ezhr_graphql.observe import logs
from ezhr_graphql.observe.metrics import OPERATION_SECONDS, OPERATIONS, SUBSCRIPTIONS_OPEN

ANONYMOUS = "anonymous"  # an operation without a name
OTHER = "other"  # a name that is not (or not yet, or no longer may be) known
MAX_NAME_LENGTH = 64  # the longest name a signed-in caller's operation is labelled by
MAX_LOGGED_NAME = 100  # longer names are cut to this in logs
NAMES_PER_USER = 5  # new names one signed-in user may teach (see OperationLabels)
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


def logged_name(name: object) -> str:
    """An operation's name as logs show it: whole when short, else its beginning.
    The gate lets only strings through; anything else is shown as ``other``."""
    if name is None or name == "":
        return ANONYMOUS
    if not isinstance(name, str):
        return OTHER
    return name if len(name) <= MAX_LOGGED_NAME else name[: MAX_LOGGED_NAME - 3] + "..."


def operation_names(documents: Iterable[str]) -> set[str]:
    """The names of the operations ``documents`` define (those that parse)."""
    names: set[str] = set()
    for document in documents:
        try:
            parsed = parse(document)
        except GraphQLError:
            continue
        names.update(
            d.name.value
            for d in parsed.definitions
            if isinstance(d, OperationDefinitionNode) and d.name is not None
        )
    return names


def _names_an_operation(document: DocumentNode | None, name: str) -> bool:
    return document is not None and any(
        isinstance(d, OperationDefinitionNode) and d.name is not None and d.name.value == name
        for d in document.definitions
    )


class OperationLabels:
    """The operation names metrics are labelled by, a bounded set: the ``known`` ones
    (the persisted queries' allow-list), and the first ``cap`` names of operations run
    by signed-in callers that are well formed, at most ``MAX_NAME_LENGTH`` characters
    long and name an operation of their document. Any other name is ``other``.

    Each user teaches at most ``per_user`` names, administrators included, so it takes
    ``cap / per_user`` accounts to fill the table, not one member with a script. Only
    users who taught a name are remembered, so that map holds at most ``cap`` users.
    """

    def __init__(self, cap: int, known: Iterable[str] = (), per_user: int = NAMES_PER_USER) -> None:
        self.cap = cap
        self.per_user = per_user
        self._known = frozenset(known)
        self._learned: set[str] = set()
        self._taught: dict[Hashable, int] = {}  # user -> names taught

    def label(self, name: object, document: DocumentNode | None, *, user: Hashable | None) -> str:
        """The label of operation ``name`` run by ``user`` (``None``: anonymous)."""
        if name is None or name == "":
            return ANONYMOUS
        if not isinstance(name, str):  # the gate lets none through
            return OTHER
        if name in self._known or name in self._learned:
            return name
        if user is not None and self._may_teach(user) and _teachable(name, document):
            self._learned.add(name)
            self._taught[user] = self._taught.get(user, 0) + 1
            return name
        return OTHER

    def _may_teach(self, user: Hashable) -> bool:
        return len(self._learned) < self.cap and self._taught.get(user, 0) < self.per_user


def _teachable(name: str, document: DocumentNode | None) -> bool:
    return (
        len(name) <= MAX_NAME_LENGTH
        and _NAME.fullmatch(name) is not None
        and _names_an_operation(document, name)
    )


class OperationMetrics(SchemaExtension):
    """Names the operation in the log context and counts it: by name (its label, see
    :class:`OperationLabels`), type and outcome, with a latency histogram for queries
    and mutations."""

    def __init__(self, labels: OperationLabels) -> None:
        super().__init__()
        self.labels = labels

    async def on_operation(self) -> AsyncIterator[None]:
        started = time.perf_counter()
        context = self.execution_context.context
        actor = context.actor if isinstance(context, Context) else None
        request = logs.current.get()
        info = None
        if request is not None:
            # A record of this operation's own: operations of one websocket run
            # concurrently and must not name each other.
            info = logs.RequestInfo(request.request_id)
            if actor is not None:
                info.user_id = str(actor.id)
            info.operation = logged_name(self.execution_context.operation_name)
            logs.current.set(info)
        yield
        # Known once the document is parsed: the name may come from the document.
        name = self.execution_context.operation_name
        if info is not None:
            info.operation = logged_name(name)
        document = self.execution_context.graphql_document
        label = self.labels.label(name, document, user=None if actor is None else actor.id)
        try:
            kind_name = str(self.execution_context.operation_type.value)
        except Exception:  # the document did not parse, or names no single operation
            kind_name = "unknown"
        result = self.execution_context.result
        errors = getattr(result, "errors", None) or self.execution_context.pre_execution_errors
        outcome = "error" if errors else ("user_error" if _has_user_error(result) else "ok")
        OPERATIONS.labels(label, kind_name, outcome).inc()
        if kind_name in ("query", "mutation"):
            OPERATION_SECONDS.labels(label, kind_name).observe(time.perf_counter() - started)


def _has_user_error(result: Any) -> bool:
    """Whether a top-level field came back as a typed error (a union's UserError)."""
    data = getattr(result, "data", None)
    if not isinstance(data, dict):
        return False
    return any(isinstance(v, dict) and "code" in v and "message" in v for v in data.values())


@contextmanager
def open_subscription(field: str) -> Iterator[None]:
    """The open-subscription gauge, up while the block runs."""
    gauge = SUBSCRIPTIONS_OPEN.labels(field)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()
