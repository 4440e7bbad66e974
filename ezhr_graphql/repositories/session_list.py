"""The session list: a page of one owner's sessions with what the list shows beside
each (its agent, its newest message, its folder), in one statement.

The list is the first thing a person waits for, and the whole page is read at once,
so it is read as plain columns (see :mod:`ezhr_graphql.repositories.columns`).

Soft-deleted rows are filtered in the statement itself (plain column reads do not pass
through the ORM's global filter): a deleted session is not listed, a deleted agent or
folder shows as none, and a deleted message is never the newest.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    bindparam,
    func,
    null,
    or_,
    select,
    true,
)

from ezhr_graphql.models import Agent, ChatMessage, ChatSession, Folder, Visibility
from ezhr_graphql.repositories.base import DATETIME, UUID, Keyset, Page, Queries, key
from ezhr_graphql.repositories.columns import (
    UNREAD,
    AgentColumns,
    FolderColumns,
    MessageColumns,
    SessionColumns,
)


@dataclass(frozen=True)
class Beside:
    """What to read beside each session; what is not asked for stays ``None``.

    ``agent_columns`` and ``message_columns``: the only columns of the agent and of
    the message to read (``None``: all of them); the others hold placeholders (see
    :data:`~ezhr_graphql.repositories.columns.UNREAD`).
    """

    agent: bool = False
    last_message: bool = False
    folder: bool = False
    agent_columns: frozenset[str] | None = None
    message_columns: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class ListedSession:
    session: SessionColumns
    # None where not asked for, and where there is none to show: the agent is deleted
    # or no longer visible to the owner, the session has no live message, no folder.
    agent: AgentColumns | None
    last_message: MessageColumns | None
    folder: FolderColumns | None


_SESSION = ChatSession.__table__.c
_AGENT = Agent.__table__.c
_MESSAGE = ChatMessage.__table__.c
_FOLDER = Folder.__table__.c

# Newest first; a cursor names the last session seen by its creation time and id.
KEYSET = Keyset(key(_SESSION.created_at, DATETIME, desc=True), key(_SESSION.id, UUID, desc=True))


@dataclass(frozen=True)
class Filters:
    agent_id: uuid.UUID | None = None
    folder_id: uuid.UUID | None = None
    pinned: bool | None = None


def _newest_message_id() -> ColumnElement[Any]:
    newest = ChatMessage.__table__.alias("newest")
    return (
        select(newest.c.id)
        .where(newest.c.session_id == _SESSION.id, newest.c.deleted_at.is_(None))
        .order_by(newest.c.created_at.desc(), newest.c.id.desc())
        .limit(1)
        .correlate(ChatSession.__table__)
        .scalar_subquery()
    )


def _page(beside: Beside) -> Select[Any]:
    """The owner's live sessions, newest first, with the id of each one's newest live
    message: limited before anything is joined, so the joins touch one page only."""
    columns: list[ColumnElement[Any]] = [_SESSION[name] for name in SessionColumns._fields]
    if beside.last_message:
        columns.append(_newest_message_id().label("last_message_id"))
    return select(*columns).where(
        _SESSION.owner_id == bindparam("owner_id"), _SESSION.deleted_at.is_(None)
    )


def _visible_agent(page: FromClause, admin: bool) -> ColumnElement[bool]:
    visible = (
        true()
        if admin
        else or_(_AGENT.visibility == Visibility.PUBLIC, _AGENT.owner_id == bindparam("owner_id"))
    )
    first = page.c.agent_rank == 1
    return and_(_AGENT.id == page.c.agent_id, first, _AGENT.deleted_at.is_(None), visible)


def _newest_first(page: FromClause) -> list[ColumnElement[Any]]:
    """The list's order (:data:`KEYSET`) over the columns of ``page``."""
    return [page.c[c.name].desc() if c.descending else page.c[c.name] for c in KEYSET.columns]


def _ranked(page: FromClause) -> FromClause:
    """``page`` with each session's rank among the page's sessions of its agent.

    An agent's columns are read on its first session of the page only: a page's
    sessions share a few agents, and reading an agent costs more than the rest of a row.
    """
    rank = func.row_number().over(partition_by=page.c.agent_id, order_by=_newest_first(page))
    return select(page, rank.label("agent_rank")).subquery("ranked")


# The columns read beside a session, less those the session's own hold already (an
# agent's id is the session's agent_id; a message's session_id, the session's id).
# The first of each is always read: the row has an agent (a message) where it is not
# null.
AGENT_READ = AgentColumns._fields[1:]
MESSAGE_READ = MessageColumns._fields[1:]


def _reads(only: frozenset[str] | None, i: int, name: str) -> bool:
    """Whether the ``i``-th of the columns read beside a session, ``name``, is read."""
    return only is None or i == 0 or name in only


def _read(table: Any, names: tuple[str, ...], only: frozenset[str] | None) -> list[Any]:
    """``table``'s columns ``names``, NULL in the place of those not in ``only``."""
    return [table[name] if _reads(only, i, name) else null() for i, name in enumerate(names)]


def _unread(names: tuple[str, ...], only: frozenset[str] | None) -> list[tuple[int, Any]]:
    """Positions among ``names`` that :func:`_read` left NULL, with their placeholders."""
    return [(i, UNREAD[name]) for i, name in enumerate(names) if not _reads(only, i, name)]


def _beside(inner: Select[Any], beside: Beside, admin: bool) -> Select[Any]:
    """``inner`` (a limited page) with the columns of what goes beside each session,
    in the order of :class:`SessionColumns`, then those of ``AGENT_READ``,
    ``MESSAGE_READ`` and :class:`FolderColumns` that ``beside`` asks for."""
    page: FromClause = inner.subquery("page")
    if beside.agent:
        page = _ranked(page)
    columns: list[ColumnElement[Any]] = [page.c[name] for name in SessionColumns._fields]
    joined: FromClause = page
    if beside.agent:
        columns += _read(_AGENT, AGENT_READ, beside.agent_columns)
        joined = joined.outerjoin(Agent.__table__, _visible_agent(page, admin))
    if beside.last_message:
        columns += _read(_MESSAGE, MESSAGE_READ, beside.message_columns)
        found = and_(_MESSAGE.id == page.c.last_message_id, _MESSAGE.deleted_at.is_(None))
        joined = joined.outerjoin(ChatMessage.__table__, found)
    if beside.folder:
        columns += [_FOLDER[name] for name in FolderColumns._fields]
        found = and_(_FOLDER.id == page.c.folder_id, _FOLDER.deleted_at.is_(None))
        joined = joined.outerjoin(Folder.__table__, found)
    return select(*columns).select_from(joined).order_by(*_newest_first(page))


def _filtered(stmt: Select[Any], filters: Filters) -> Select[Any]:
    if filters.agent_id is not None:
        stmt = stmt.where(_SESSION.agent_id == filters.agent_id)
    if filters.folder_id is not None:
        stmt = stmt.where(_SESSION.folder_id == filters.folder_id)
    if filters.pinned is not None:
        stmt = stmt.where(_SESSION.pinned.is_(filters.pinned))
    return stmt


def page_statement(
    beside: Beside, admin: bool, first: int, after: str | None, filters: Filters
) -> Select[Any]:
    """The statement of a page: ``first`` sessions after the cursor ``after`` and one
    more (to tell whether another page follows), with ``beside`` them what is asked for.

    Raises:
        InvalidInputError: ``after`` is not a cursor of this list.
    """
    if after is None and filters == Filters():
        return _first_page(beside, admin, first)
    page = KEYSET.statement(_filtered(_page(beside), filters), first, after)
    return _beside(page, beside, admin)


@functools.lru_cache(maxsize=256)
def _first_page(beside: Beside, admin: bool, first: int) -> Select[Any]:
    """The statement of the usual request (the first page, unfiltered), built once per
    shape and size: building it costs more than running it."""
    return _beside(KEYSET.statement(_page(beside), first, None), beside, admin)


class _Rows:
    """Rows of the statement as :class:`ListedSession`, in order (an agent's columns
    come on its first session only: see :func:`_ranked`)."""

    def __init__(self, beside: Beside) -> None:
        self.beside = beside
        self.agents: dict[uuid.UUID, AgentColumns] = {}
        at = len(SessionColumns._fields)
        self.agent_at = at
        at += len(AGENT_READ) if beside.agent else 0
        self.message_at = at
        at += len(MESSAGE_READ) if beside.last_message else 0
        self.folder_at = at
        self.agent_unread = _unread(AGENT_READ, beside.agent_columns)
        self.message_unread = _unread(MESSAGE_READ, beside.message_columns)

    def split(self, row: Any) -> ListedSession:
        beside = self.beside
        session = SessionColumns._make(row[: self.agent_at])
        agent = message = folder = None
        if beside.agent:
            # Null on a session's own row: not the agent's first session, or no agent
            # the owner may see.
            if row[self.agent_at] is not None:
                values = _filled(row[self.agent_at : self.message_at], self.agent_unread)
                self.agents[session.agent_id] = AgentColumns(session.agent_id, *values)
            agent = self.agents.get(session.agent_id)
        if beside.last_message and row[self.message_at] is not None:
            values = _filled(row[self.message_at : self.folder_at], self.message_unread)
            message = MessageColumns(session.id, *values)
        if beside.folder and row[self.folder_at] is not None:
            folder = FolderColumns._make(row[self.folder_at :])
        return ListedSession(session, agent, message, folder)


def _filled(values: Sequence[Any], unread: list[tuple[int, Any]]) -> Sequence[Any]:
    if not unread:
        return values
    filled = list(values)
    for i, placeholder in unread:
        filled[i] = placeholder
    return filled


class ListedSessionRepository(Queries):
    async def page(
        self,
        owner_id: uuid.UUID,
        first: int,
        after: str | None,
        *,
        filters: Filters,
        beside: Beside,
        admin: bool = False,
    ) -> Page[ListedSession]:
        """A page of the owner's sessions, newest first, with what ``beside`` asks for;
        the agent only where the owner may see it (any, for an ``admin``).

        Raises:
            InvalidInputError: ``after`` is not a cursor of this list.
        """
        stmt = page_statement(beside, admin, first, after, filters)
        connection = await self.session.connection()
        rows = (await connection.execute(stmt, {"owner_id": owner_id})).all()
        split = _Rows(beside).split
        listed = [split(row) for row in rows[:first]]
        return Page(
            items=listed,
            has_next_page=len(rows) > first,
            has_previous_page=after is not None,
            keyset=KEYSET,
            row_of=lambda item: item.session,
        )
