"""Rows read as plain columns, for the lists a person waits for.

A page of a list is read at once, and reading it as ORM rows costs more than running
the statement: the ORM copies each statement to add its soft-delete filter, and gives
each row an identity and instance state that the session tracks. These lists read
their columns with plain Core statements instead (which filter soft-deleted rows
themselves) into the named tuples below. Their fields are the ORM attributes of the
same names, so whatever reads an ORM row (an API type's ``from_model``) reads these too.

A list may also leave out the columns the query shows nothing of (see
:class:`~ezhr_graphql.repositories.session_list.Beside`): converting a column costs
more than reading it. What it left out holds the placeholder of :data:`UNREAD`, a
value of the column's type that no field shows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ezhr_graphql.models import (
    AnswerMode,
    FinishReason,
    Grounding,
    MessageRole,
    MessageStatus,
    UnsupportedNumbers,
    Visibility,
)


class SessionColumns(NamedTuple):
    id: uuid.UUID
    title: str
    pinned: bool
    created_at: datetime
    updated_at: datetime
    agent_id: uuid.UUID
    folder_id: uuid.UUID | None
    current_message_id: uuid.UUID | None


class AgentColumns(NamedTuple):
    # First: beside a session, the session's agent_id stands for it (see session_list).
    id: uuid.UUID
    name: str
    description: str
    system_prompt: str
    starter_messages: list[str]
    temperature: float
    top_k: int
    similarity_threshold: float
    include_outdated: bool
    answer_mode: AnswerMode
    general_chat: bool
    unsupported_numbers: UnsupportedNumbers
    visibility: Visibility
    created_at: datetime
    updated_at: datetime
    llm_model_id: uuid.UUID
    embedding_model_id: uuid.UUID
    no_answer_message: str
    max_tokens: int | None
    retention_days: int | None


class MessageColumns(NamedTuple):
    # First: beside a session, the session's id stands for it (see session_list).
    session_id: uuid.UUID
    id: uuid.UUID
    parent_id: uuid.UUID | None
    role: MessageRole
    content: str
    status: MessageStatus
    prompt_tokens: int | None
    completion_tokens: int | None
    created_at: datetime
    error_code: str | None
    time_to_first_token_ms: int | None
    latency_ms: int | None
    citations: list[dict[str, Any]]
    finish_reason: FinishReason | None
    grounding: Grounding | None
    unsupported_spans: list[str] | None


class FolderColumns(NamedTuple):
    id: uuid.UUID
    name: str
    created_at: datetime


_NO_ID = uuid.UUID(int=0)
_NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)

# What a column a list left out holds, by name (never shown: see the module's doc).
UNREAD: dict[str, Any] = {
    "name": "",
    "description": "",
    "system_prompt": "",
    "starter_messages": [],
    "temperature": 0.0,
    "top_k": 0,
    "similarity_threshold": 0.0,
    "include_outdated": False,
    "answer_mode": AnswerMode.EXTRACTIVE,
    "general_chat": False,
    "unsupported_numbers": UnsupportedNumbers.FLAG,
    "visibility": Visibility.PRIVATE,
    "created_at": _NO_TIME,
    "updated_at": _NO_TIME,
    "llm_model_id": _NO_ID,
    "embedding_model_id": _NO_ID,
    "no_answer_message": "",
    "max_tokens": None,
    "retention_days": None,
    "id": _NO_ID,
    "parent_id": None,
    "role": MessageRole.USER,
    "content": "",
    "status": MessageStatus.COMPLETED,
    "prompt_tokens": None,
    "completion_tokens": None,
    "error_code": None,
    "time_to_first_token_ms": None,
    "latency_ms": None,
    "citations": [],
    "finish_reason": None,
    "grounding": None,
    "unsupported_spans": None,
}
