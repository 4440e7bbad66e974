from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Self

import strawberry

from ezhr_graphql.api.graphql.agents.types import Agent
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import ErrorCode, UserErrorType, top_level
from ezhr_graphql.api.graphql.loaders import Deferred, Loaders, deferred
from ezhr_graphql.api.graphql.pagination import Connection
from ezhr_graphql.api.graphql.scalars import gid
from ezhr_graphql.api.graphql.users.types import Role
from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import ChatSession as ChatSessionRow
from ezhr_graphql.models import Folder as FolderRow
from ezhr_graphql.models.chat import MAX_UNSUPPORTED_SPANS
from ezhr_graphql.repositories.columns import FolderColumns, MessageColumns, SessionColumns
from ezhr_graphql.services import conversation, validation


class Unloaded(Enum):
    """A nested object not read with its parent: loaded if the query asks for it (see
    ChatSession.from_model)."""

    UNLOADED = "UNLOADED"


UNLOADED = Unloaded.UNLOADED

# Every list the schema returns holds a bounded number of items, which the cost rule
# (ezhr_graphql/api/cost.py) reads from the page size argument: a message's siblings
# and a session's branch grow with every regeneration and every turn.
DEFAULT_SIBLINGS = 10
DEFAULT_BRANCH_LENGTH = 100


def _list_size(info: Info, argument: str, value: int, default: int) -> int:
    """A nested list's size, validated like a connection's ``first``; its default is
    capped at ``max_page_size`` rather than refused when a server lowers that.

    Raises:
        GraphQLError: ``INVALID_INPUT`` (with ``field``) for a size out of range; the
            list is not a union, so the error is a top-level one.
    """
    maximum = info.context.container.settings.graphql.max_page_size
    if value == default:
        return min(value, maximum)
    try:
        return validation.page_size(argument, value, maximum)
    except InvalidInputError as exc:
        raise top_level(exc.message, ErrorCode.INVALID_INPUT.name, field=exc.field) from None


@strawberry.enum(description="Who wrote a message.")
class MessageRole(Enum):
    USER = strawberry.enum_value("USER", description="The person chatting.")
    ASSISTANT = strawberry.enum_value("ASSISTANT", description="The agent.")
    SYSTEM = strawberry.enum_value("SYSTEM", description="Instructions, not shown as chat.")


@strawberry.enum(description="Why a reply ended where it did.")
class FinishReason(Enum):
    STOP = strawberry.enum_value("STOP", description="It said all it had to say.")
    LENGTH = strawberry.enum_value("LENGTH", description="Cut at the agent's token limit.")
    LOOP = strawberry.enum_value(
        "LOOP", description="Cut where it began repeating itself; what came before is kept."
    )
    NO_ANSWER = strawberry.enum_value(
        "NO_ANSWER", description="Nothing relevant was found: the no-answer message."
    )


@strawberry.enum(description="Whether a reply's numbers are in its passages.")
class Grounding(Enum):
    SUPPORTED = strawberry.enum_value(
        "SUPPORTED", description="Every number, amount, percentage and date is in a passage."
    )
    UNSUPPORTED = strawberry.enum_value(
        "UNSUPPORTED", description="Some are not (see unsupportedSpans)."
    )


@strawberry.enum(description="Lifecycle of a message.")
class MessageStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Accepted, not started.")
    STREAMING = strawberry.enum_value("STREAMING", description="The reply is being generated.")
    COMPLETED = strawberry.enum_value("COMPLETED", description="Finished normally.")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Stopped; the partial text is kept.")
    FAILED = strawberry.enum_value("FAILED", description="Ended by an error.")


@strawberry.type(description="A folder that groups a user's chat sessions.")
class Folder:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    name: str = strawberry.field(description="Display name.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_model(cls, row: FolderRow | FolderColumns) -> Self:
        return cls(id=gid(row.id), name=row.name, created_at=row.created_at)


@strawberry.type(description="The approved answer a reply said, and who approved it.")
class ApprovedAnswerSource:
    id: strawberry.ID = strawberry.field(description="The approved answer.")
    author_role: Role = strawberry.field(description="The role of who approved it.")
    approved_at: datetime = strawberry.field(description="When it was approved.")


@strawberry.type(
    description="What a reply is grounded on: a passage of a document, or an answer an "
    "administrator approved (then `approvedAnswer` says which, and `documentId` is null)."
)
class Citation:
    document_id: strawberry.ID | None = strawberry.field(
        description="The cited document; null for an approved answer."
    )
    title: str = strawberry.field(
        description="The document's title; for an approved answer, its question."
    )
    heading: str | None = strawberry.field(description="Heading path of the passage, if any.")
    page: int | None = strawberry.field(description="Page of the passage, for paged documents.")
    quote: str = strawberry.field(description="The passage quoted, or the approved answer.")
    score: float = strawberry.field(description="Retrieval similarity, 0 to 1.")
    approved_answer: ApprovedAnswerSource | None = strawberry.field(
        description="The approved answer the reply said; null for a passage."
    )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Self:
        approved = None
        if raw.get("kind") == "APPROVED_ANSWER":
            approved = ApprovedAnswerSource(
                id=strawberry.ID(str(raw.get("approvedAnswerId", ""))),
                author_role=Role[str(raw.get("authorRole", "ADMIN"))],
                approved_at=datetime.fromisoformat(str(raw.get("approvedAt"))),
            )
        document = raw.get("documentId")
        return cls(
            document_id=None if document is None else strawberry.ID(str(document)),
            title=str(raw.get("title", "")),
            heading=raw.get("heading"),
            page=raw.get("page"),
            quote=str(raw.get("quote", "")),
            score=float(raw.get("score", 0.0)),
            approved_answer=approved,
        )


# The columns the fields of ChatMessage that are not a column of their own name show
# (see loaders.columns_shown): the versions of a message are its parent's children.
MESSAGE_COMPUTED: dict[str, tuple[str, ...]] = {
    "siblings": ("parent_id",),
    "siblingCount": ("parent_id",),
    "siblingIndex": ("parent_id",),
}


@strawberry.type(description="A message of a chat session.")
class ChatMessage:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    role: MessageRole = strawberry.field(description="Who wrote it.")
    content: str = strawberry.field(description="The text.")
    status: MessageStatus = strawberry.field(description="Lifecycle state.")
    parent_id: strawberry.ID | None = strawberry.field(
        description="The message this one answers or follows (messages form a tree)."
    )
    prompt_tokens: int | None = strawberry.field(description="Tokens sent to the LLM.")
    completion_tokens: int | None = strawberry.field(description="Tokens the LLM generated.")
    created_at: datetime = strawberry.field(description="When it was written.")
    error_code: str | None = strawberry.field(
        description="Why a FAILED reply failed, e.g. LLM_TIMEOUT, LLM_RATE_LIMITED, INTERRUPTED."
    )
    time_to_first_token_ms: int | None = strawberry.field(
        description="Milliseconds from the start of the reply to its first token."
    )
    latency_ms: int | None = strawberry.field(
        description="Milliseconds the reply took from start to end."
    )
    citations: list[Citation] = strawberry.field(
        description="The document passages the reply is grounded on; a marker [n] in the "
        "text refers to the n-th of them."
    )
    finish_reason: FinishReason | None = strawberry.field(
        description="Why a COMPLETED reply ended where it did: STOP, LENGTH (cut at the "
        "agent's token limit), LOOP (cut where it began repeating itself) or NO_ANSWER."
    )
    grounding: Grounding | None = strawberry.field(
        description="Whether every number, amount, percentage and date in the reply is in "
        "a cited passage (null: not checked)."
    )
    unsupported_spans: list[str] = strawberry.field(
        description="The numbers of the reply no cited passage holds."
    )
    session_id: strawberry.Private[uuid.UUID]
    row_id: strawberry.Private[uuid.UUID]
    parent_row_id: strawberry.Private[uuid.UUID | None]

    async def _siblings(self, info: Info) -> list[ChatMessageRow]:
        everything = await info.context.loaders.messages_by_session_id.load(self.session_id)
        return conversation.children(everything).get(self.parent_row_id, [])

    @strawberry.field(
        description="Versions of this message (same parent, oldest first), itself included: "
        "regenerated replies and edited questions. The oldest `first` of them (0 to the "
        "server's largest page size); `siblingCount` says how many there are."
    )
    async def siblings(self, info: Info, first: int = DEFAULT_SIBLINGS) -> list[ChatMessage]:
        size = _list_size(info, "first", first, DEFAULT_SIBLINGS)
        return [ChatMessage.from_model(row) for row in (await self._siblings(info))[:size]]

    @strawberry.field(description="How many versions this message has, itself included.")
    async def sibling_count(self, info: Info) -> int:
        return len(await self._siblings(info))

    @strawberry.field(description="Position of this message among its siblings, from 0.")
    async def sibling_index(self, info: Info) -> int:
        ids = [row.id for row in await self._siblings(info)]
        return ids.index(self.row_id) if self.row_id in ids else 0

    @classmethod
    def from_model(cls, row: ChatMessageRow | MessageColumns) -> Self:
        return cls(
            id=gid(row.id),
            role=MessageRole[row.role.name],
            content=row.content,
            status=MessageStatus[row.status.name],
            parent_id=None if row.parent_id is None else gid(row.parent_id),
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            created_at=row.created_at,
            error_code=row.error_code,
            time_to_first_token_ms=row.time_to_first_token_ms,
            latency_ms=row.latency_ms,
            citations=[Citation.from_dict(c) for c in row.citations or []],
            finish_reason=None if row.finish_reason is None else FinishReason[row.finish_reason],
            grounding=None if row.grounding is None else Grounding[row.grounding],
            unsupported_spans=list(row.unsupported_spans or [])[:MAX_UNSUPPORTED_SPANS],
            session_id=row.session_id,
            row_id=row.id,
            parent_row_id=row.parent_id,
        )


MessageConnectionResult = Annotated[
    Connection[ChatMessage] | UserErrorType,
    strawberry.union("ChatMessageConnectionResult", description="A page of messages, or why not."),
]


@strawberry.type(description="A conversation between a user and an agent.")
class ChatSession:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    title: str = strawberry.field(description="Title; empty until one is given or generated.")
    pinned: bool = strawberry.field(description="Pinned sessions are shown first by clients.")
    created_at: datetime = strawberry.field(description="When it started.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    # Plain attributes rather than resolvers, cheap for each of a page's sessions: the
    # object a list read with the session, or a Deferred load (see from_model).
    agent: Agent | Deferred[Agent | None] | None = strawberry.field(
        graphql_type=Agent | None,
        description="The agent this session talks to (null if it was deleted).",
    )
    folder: Folder | Deferred[Folder | None] | None = strawberry.field(
        graphql_type=Folder | None, description="The folder holding this session, if any."
    )
    last_message: ChatMessage | Deferred[ChatMessage | None] | None = strawberry.field(
        graphql_type=ChatMessage | None, description="The newest message, if any."
    )
    row_id: strawberry.Private[uuid.UUID]
    current_message_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(
        description="The branch the user is on: its newest `last` messages (0 to the "
        "server's largest page size), oldest first, ending at the current one."
    )
    async def current_branch(
        self, info: Info, last: int = DEFAULT_BRANCH_LENGTH
    ) -> list[ChatMessage]:
        size = _list_size(info, "last", last, DEFAULT_BRANCH_LENGTH)
        if size == 0:
            return []
        everything = await info.context.loaders.messages_by_session_id.load(self.row_id)
        path = conversation.path_to(conversation.by_id(everything), self.current_message_id)
        return [ChatMessage.from_model(row) for row in path[-size:]]

    @classmethod
    def from_model(
        cls,
        row: ChatSessionRow | SessionColumns,
        loaders: Loaders,
        *,
        agent: Agent | Unloaded | None = UNLOADED,
        folder: Folder | Unloaded | None = UNLOADED,
        last_message: ChatMessage | Unloaded | None = UNLOADED,
    ) -> Self:
        """``agent``, ``folder``, ``last_message``: what a list read with the session;
        those left UNLOADED are loaded through ``loaders`` if the query asks for them.
        """
        return cls(
            id=gid(row.id),
            title=row.title,
            pinned=row.pinned,
            created_at=row.created_at,
            updated_at=row.updated_at,
            agent=(
                deferred(loaders.agent_by_id, row.agent_id, Agent.from_model)
                if agent is UNLOADED
                else agent
            ),
            folder=_folder(loaders, row.folder_id) if folder is UNLOADED else folder,
            last_message=(
                deferred(loaders.last_message_by_session_id, row.id, ChatMessage.from_model)
                if last_message is UNLOADED
                else last_message
            ),
            row_id=row.id,
            current_message_id=row.current_message_id,
        )


def _folder(loaders: Loaders, folder_id: uuid.UUID | None) -> Deferred[Folder | None] | None:
    if folder_id is None:
        return None
    return deferred(loaders.folder_by_id, folder_id, Folder.from_model)


@strawberry.input(description="Which sessions to list; omitted filters match all.")
class ChatSessionFilter:
    agent_id: strawberry.ID | None = strawberry.field(default=None, description="Only this agent.")
    folder_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this folder."
    )
    pinned: bool | None = strawberry.field(default=None, description="Only pinned or unpinned.")


@strawberry.input(description="A new chat session.")
class CreateChatSessionInput:
    agent_id: strawberry.ID = strawberry.field(description="The agent to talk to.")
    title: str | None = strawberry.field(default=None, description="Optional title.")
    folder_id: strawberry.ID | None = strawberry.field(default=None, description="Optional folder.")


ChatSessionResult = Annotated[
    ChatSession | UserErrorType,
    strawberry.union("ChatSessionResult", description="A chat session, or why not."),
]
ChatSessionConnectionResult = Annotated[
    Connection[ChatSession] | UserErrorType,
    strawberry.union("ChatSessionConnectionResult", description="A page of chat sessions."),
]
FolderResult = Annotated[
    Folder | UserErrorType,
    strawberry.union("FolderResult", description="A folder, or why not."),
]
FolderConnectionResult = Annotated[
    Connection[Folder] | UserErrorType,
    strawberry.union("FolderConnectionResult", description="A page of folders."),
]
