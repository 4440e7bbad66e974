"""Messages form a tree: branches, siblings, and the history an LLM is given."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from ezhr_graphql.models import ChatMessage, MessageRole, MessageStatus
from ezhr_graphql.rag import ChatTurn


def by_id(messages: Iterable[ChatMessage]) -> dict[uuid.UUID, ChatMessage]:
    return {m.id: m for m in messages}


def children(messages: Iterable[ChatMessage]) -> dict[uuid.UUID | None, list[ChatMessage]]:
    """Each message's children, oldest first (``None`` holds the roots)."""
    tree: dict[uuid.UUID | None, list[ChatMessage]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.created_at, str(m.id))):
        tree[message.parent_id].append(message)
    return tree


def path_to(messages: dict[uuid.UUID, ChatMessage], leaf: uuid.UUID | None) -> list[ChatMessage]:
    """The branch ending at ``leaf``, root first."""
    path: list[ChatMessage] = []
    seen: set[uuid.UUID] = set()
    while leaf is not None and leaf in messages and leaf not in seen:
        seen.add(leaf)
        message = messages[leaf]
        path.append(message)
        leaf = message.parent_id
    path.reverse()
    return path


def newest_leaf(tree: dict[uuid.UUID | None, list[ChatMessage]], start: uuid.UUID) -> uuid.UUID:
    """Follow the newest child from ``start`` down to a leaf: where a client lands
    when it switches to the branch through ``start``."""
    current = start
    while tree.get(current):
        current = tree[current][-1].id
    return current


def history(
    branch: Sequence[ChatMessage],
    system_prompt: str,
    budget: int,
    count_tokens: Callable[[str], int],
) -> list[ChatTurn]:
    """The turns sent to the LLM: the system prompt and the newest turns of the
    branch that fit in ``budget`` tokens. The last (user) turn is always kept, cut
    from its start if it alone is too long."""
    turns: list[ChatTurn] = []
    for message in branch:
        if message.role is MessageRole.USER:
            turns.append(ChatTurn("user", message.content))
        elif (
            message.role is MessageRole.ASSISTANT
            and message.content
            and message.status
            in (
                MessageStatus.COMPLETED,
                MessageStatus.CANCELLED,
            )
        ):
            turns.append(ChatTurn("assistant", message.content))
    system = [ChatTurn("system", system_prompt)] if system_prompt else []
    remaining = budget - sum(count_tokens(t.content) + 4 for t in system)
    kept: list[ChatTurn] = []
    for turn in reversed(turns):
        cost = count_tokens(turn.content) + 4
        if cost > remaining:
            if not kept:  # the question itself: keep its end
                keep_chars = max(1, remaining * 3)
                kept.append(ChatTurn(turn.role, turn.content[-keep_chars:]))
            break
        kept.append(turn)
        remaining -= cost
    kept.reverse()
    # A conversation sent to a chat model starts with the user, not a reply.
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return system + kept
