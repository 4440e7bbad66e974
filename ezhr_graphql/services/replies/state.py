"""What a run holds while it generates a reply."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ezhr_graphql.models import FinishReason, Grounding
from ezhr_graphql.services.replies.events import ReplyEvent
from ezhr_graphql.services.replies.planning import Plan


@dataclass
class Run:
    message_id: uuid.UUID
    task: asyncio.Task[None] | None = None
    # The task streaming the model's tokens, cancelled by a stop between tokens.
    streaming: asyncio.Task[None] | None = None
    stop_requested: bool = False
    # The seq of the last event emitted (events are numbered from 1).
    seq: int = 0
    parts: list[str] = field(default_factory=list)
    # Every event emitted, in order, to rebuild the stream should the broker lose
    # it: Redis keeps nothing on disk, and a restart empties it.
    events: list[ReplyEvent] = field(default_factory=list)
    # The broker stayed out of reach for longer than the run could wait.
    broker_lost: bool = False
    # A token's event is being added to the stream: a stop waits for it.
    emitting: bool = False
    plan: Plan | None = None
    # The citations streamed (and so stored); None until they are.
    citations: list[dict[str, Any]] | None = None
    # Why the text ended where it did, once it did.
    finish: FinishReason | None = None
    # Whether its numbers are in its passages, and those that are not.
    grounding: Grounding | None = None
    unsupported: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    finished: float | None = None

    def next_seq(self) -> int:
        """The seq of the next event, taken."""
        self.seq += 1
        return self.seq

    @property
    def text(self) -> str:
        """The reply's text so far."""
        return "".join(self.parts)

    def milliseconds(self, until: float | None) -> int | None:
        """From the run's start to ``until``, in whole milliseconds."""
        return None if until is None else round((until - self.started) * 1000)
