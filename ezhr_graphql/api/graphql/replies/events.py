"""The events of replies and sessions, as GraphQL types: conversions only (the
services layer types, numbers and follows them)."""

from __future__ import annotations

from ezhr_graphql.api.graphql.chat.types import ChatMessage, Citation, MessageStatus
from ezhr_graphql.api.graphql.replies.types import (
    MessageStatusChanged,
    ReplyCitations,
    ReplyCompleted,
    ReplyDelta,
    ReplyEvent,
    ReplyFailed,
    ReplyFailureCode,
    ReplyStarted,
    SessionTitleChanged,
    SessionUpdate,
)
from ezhr_graphql.api.graphql.scalars import gid
from ezhr_graphql.services.replies import events, updates


def reply_event(event: events.ReplyEvent) -> ReplyEvent:
    match event:
        case events.ReplyStarted():
            return ReplyStarted(
                seq=event.seq,
                message_id=gid(event.message_id),
                user_message_id=gid(event.user_message_id),
                session_id=gid(event.session_id),
            )
        case events.ReplyDelta():
            return ReplyDelta(seq=event.seq, text=event.text)
        case events.ReplyCitations():
            citations = [Citation.from_dict(c) for c in event.citations]
            return ReplyCitations(seq=event.seq, citations=citations)
        case events.ReplyCompleted():
            # The follower fills in the stored reply (or fails a deleted one).
            assert event.message is not None
            return ReplyCompleted(seq=event.seq, message=ChatMessage.from_model(event.message))
        case events.ReplyFailed():
            return failed(event.seq, event.code, event.reason)


def failed(seq: int, code: events.FailureCode | str, reason: str) -> ReplyFailed:
    """``code``: a failure code, or the code of the user error that refused a question."""
    known = ReplyFailureCode.__members__.get(str(code), ReplyFailureCode.INTERNAL_ERROR)
    return ReplyFailed(seq=seq, code=known, reason=reason)


def session_update(update: updates.SessionUpdate) -> SessionUpdate:
    if isinstance(update, updates.TitleChanged):
        return SessionTitleChanged(session_id=gid(update.session_id), title=update.title)
    return MessageStatusChanged(
        session_id=gid(update.session_id),
        message_id=gid(update.message_id),
        status=MessageStatus[update.status.name],
    )
