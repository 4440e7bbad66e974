from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Self

import strawberry

from ezhr_graphql.api.graphql.chat.types import ChatMessage, ChatSession, Citation, MessageStatus
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.scalars import gid
from ezhr_graphql.models import ChatFeedback as ChatFeedbackRow
from ezhr_graphql.models import Rating as RatingModel


@strawberry.input(description="A question for the session's agent.")
class SendMessageInput:
    session_id: strawberry.ID = strawberry.field(description="The session to ask in.")
    content: str = strawberry.field(description="The question.")
    client_message_id: str = strawberry.field(
        description="A key the client makes up per message: sending the same key again "
        "(a retry, a double click) returns the first message instead of a new one."
    )
    parent_message_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The reply this question follows, to edit an earlier turn and start a "
        "branch; by default the question continues the current branch.",
    )


@strawberry.type(description="A question stored, and the reply that is being generated for it.")
class SentMessage:
    session: ChatSession = strawberry.field(description="The session, with its new branch.")
    user_message: ChatMessage = strawberry.field(description="The question.")
    assistant_message: ChatMessage = strawberry.field(
        description="The reply; STREAMING until it ends. Follow it with `messageStream`."
    )
    # False when a retry found the question already sent (its reply may be over).
    created: strawberry.Private[bool] = True


@strawberry.enum(description="A thumbs up or down.")
class Rating(Enum):
    UP = strawberry.enum_value("UP", description="Helpful.")
    DOWN = strawberry.enum_value("DOWN", description="Not helpful.")

    def to_model(self) -> RatingModel:
        return RatingModel[self.name]


@strawberry.type(description="A user's rating of a reply.")
class Feedback:
    message_id: strawberry.ID = strawberry.field(description="The rated reply.")
    rating: Rating = strawberry.field(description="Up or down.")
    comment: str | None = strawberry.field(description="Optional words on why.")
    updated_at: datetime = strawberry.field(description="When it was last given.")

    @classmethod
    def from_model(cls, row: ChatFeedbackRow) -> Self:
        return cls(
            message_id=gid(row.message_id),
            rating=Rating[row.rating.name],
            comment=row.comment,
            updated_at=row.updated_at,
        )


# --- reply stream events ----------------------------------------------------


@strawberry.type(description="The reply has started; carries the IDs a client needs.")
class ReplyStarted:
    seq: int = strawberry.field(description="Position in the reply's stream, from 1.")
    message_id: strawberry.ID = strawberry.field(description="The reply being generated.")
    user_message_id: strawberry.ID = strawberry.field(description="The question it answers.")
    session_id: strawberry.ID = strawberry.field(description="The session.")


@strawberry.type(description="More text of the reply (several tokens may come in one delta).")
class ReplyDelta:
    seq: int = strawberry.field(
        description="Position of the last token in this delta; resume after it."
    )
    text: str = strawberry.field(description="Text to append.")


@strawberry.type(description="The passages the reply is grounded on; sent before the text.")
class ReplyCitations:
    seq: int = strawberry.field(description="Position in the reply's stream.")
    citations: list[Citation] = strawberry.field(description="The cited passages.")


@strawberry.type(description="The reply ended normally or was stopped; the stored message.")
class ReplyCompleted:
    seq: int = strawberry.field(description="Position in the reply's stream (the last).")
    message: ChatMessage = strawberry.field(
        description="The stored reply: COMPLETED, or CANCELLED with the partial text."
    )


@strawberry.enum(description="Why a reply failed, or why a question was refused.")
class ReplyFailureCode(Enum):
    LLM_TIMEOUT = strawberry.enum_value(
        "LLM_TIMEOUT", description="The language model did not answer in time."
    )
    LLM_UNAUTHORIZED = strawberry.enum_value(
        "LLM_UNAUTHORIZED", description="The language model's provider refused our key."
    )
    LLM_RATE_LIMITED = strawberry.enum_value(
        "LLM_RATE_LIMITED", description="The language model's provider asked us to slow down."
    )
    LLM_UNAVAILABLE = strawberry.enum_value(
        "LLM_UNAVAILABLE",
        description="The language model could not be reached, dropped the reply, or was deleted.",
    )
    LLM_ERROR = strawberry.enum_value(
        "LLM_ERROR", description="The language model failed in another way."
    )
    AGENT_UNAVAILABLE = strawberry.enum_value(
        "AGENT_UNAVAILABLE", description="The conversation's agent was deleted."
    )
    INTERRUPTED = strawberry.enum_value(
        "INTERRUPTED",
        description="The server generating the reply stopped before it was finished.",
    )
    STORAGE_ERROR = strawberry.enum_value(
        "STORAGE_ERROR", description="The reply could not be saved; its text is kept."
    )
    SERVICE_UNAVAILABLE = strawberry.enum_value(
        "SERVICE_UNAVAILABLE",
        description="The database or the broker was out of reach; try again shortly.",
    )
    INTERNAL_ERROR = strawberry.enum_value(
        "INTERNAL_ERROR", description="An unexpected error; it was logged."
    )
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="The reply was deleted, or the session does not exist."
    )
    INVALID_INPUT = strawberry.enum_value(
        "INVALID_INPUT", description="The question was refused: an argument is malformed."
    )
    PERMISSION_DENIED = strawberry.enum_value(
        "PERMISSION_DENIED", description="The question was refused: not allowed."
    )
    CONFLICT = strawberry.enum_value(
        "CONFLICT", description="The question was refused: a reply is being generated."
    )
    LIMIT_EXCEEDED = strawberry.enum_value(
        "LIMIT_EXCEEDED",
        description="The question was refused: too long, or too many replies at once.",
    )


@strawberry.type(description="The reply failed; the partial text is kept on the message.")
class ReplyFailed:
    seq: int = strawberry.field(
        description="Position in the reply's stream (the last); 0 when the question was "
        "refused before a stream began."
    )
    code: ReplyFailureCode = strawberry.field(description="Why, for clients.")
    reason: str = strawberry.field(description="What went wrong, for people.")


ReplyEvent = Annotated[
    ReplyStarted | ReplyDelta | ReplyCitations | ReplyCompleted | ReplyFailed,
    strawberry.union("ReplyEvent", description="One event of a reply's stream."),
]


# --- per-user session updates -------------------------------------------------


@strawberry.type(description="A session got a new title.")
class SessionTitleChanged:
    session_id: strawberry.ID = strawberry.field(description="The session.")
    title: str = strawberry.field(description="Its new title.")


@strawberry.type(description="A reply changed status (started, completed, stopped, failed).")
class MessageStatusChanged:
    session_id: strawberry.ID = strawberry.field(description="The session.")
    message_id: strawberry.ID = strawberry.field(description="The reply.")
    status: MessageStatus = strawberry.field(description="Its new status.")


SessionUpdate = Annotated[
    SessionTitleChanged | MessageStatusChanged,
    strawberry.union("SessionUpdate", description="A change to one of the viewer's sessions."),
]

SendMessageResult = Annotated[
    SentMessage | UserErrorType,
    strawberry.union("SendMessageResult", description="The stored question and reply, or why not."),
]
ChatMessageResult = Annotated[
    ChatMessage | UserErrorType,
    strawberry.union("ChatMessageResult", description="A message, or why not."),
]
FeedbackResult = Annotated[
    Feedback | UserErrorType,
    strawberry.union("FeedbackResult", description="The rating as stored, or why not."),
]
