"""The history sent to the LLM: the current branch, trimmed to the context window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from ezhr_graphql.models import ChatMessage, MessageRole, MessageStatus
from ezhr_graphql.services import conversation
from ezhr_graphql.services.replies.titles import clean_title

START = datetime(2026, 1, 1, tzinfo=UTC)


def chain(*contents: str) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    parent = None
    for i, content in enumerate(contents):
        message = ChatMessage(
            id=uuid.uuid4(),
            session_id=uuid.uuid4(),
            parent_id=parent,
            role=MessageRole.USER if i % 2 == 0 else MessageRole.ASSISTANT,
            content=content,
            status=MessageStatus.COMPLETED,
            created_at=START + timedelta(seconds=i),
        )
        messages.append(message)
        parent = message.id
    return messages


def words(text: str) -> int:
    return len(text.split())


def test_the_newest_turns_that_fit_are_kept_with_the_system_prompt() -> None:
    branch = chain("q1 " * 10, "a1 " * 10, "q2 " * 10, "a2 " * 10, "q3 " * 10)
    turns = conversation.history(branch, "be brief", budget=50, count_tokens=words)
    assert turns[0].role == "system"
    assert [t.content.split()[0] for t in turns[1:]] == ["q2", "a2", "q3"]
    everything = conversation.history(branch, "", budget=10_000, count_tokens=words)
    assert len(everything) == 5


def test_a_question_longer_than_the_window_keeps_its_end() -> None:
    branch = chain("start " + "x " * 500 + "end")
    turns = conversation.history(branch, "", budget=20, count_tokens=words)
    assert len(turns) == 1
    assert turns[0].content.endswith("end")
    assert len(turns[0].content) < 200


def test_failed_and_empty_replies_are_not_history() -> None:
    branch = chain("q1", "broken", "q2")
    branch[1].status = MessageStatus.FAILED
    turns = conversation.history(branch, "", budget=100, count_tokens=words)
    assert [t.content for t in turns] == ["q1", "q2"]


def test_paths_and_newest_leaves_follow_the_tree() -> None:
    q1, a1, q2 = chain("q1", "a1", "q2")
    a1b = ChatMessage(
        id=uuid.uuid4(), session_id=q1.session_id, parent_id=q1.id, role=MessageRole.ASSISTANT,
        content="a1b", status=MessageStatus.COMPLETED, created_at=START + timedelta(minutes=5),
    )  # fmt: skip
    everything = [q1, a1, q2, a1b]
    tree = conversation.children(everything)
    assert [m.content for m in tree[q1.id]] == ["a1", "a1b"]
    assert conversation.newest_leaf(tree, q1.id) == a1b.id
    assert conversation.newest_leaf(tree, a1.id) == q2.id
    path = conversation.path_to(conversation.by_id(everything), q2.id)
    assert [m.content for m in path] == ["q1", "a1", "q2"]


def test_titles_are_a_few_clean_words() -> None:
    assert clean_title('"Annual leave rules."\n') == "Annual leave rules"
    assert clean_title("## Title: " + "word " * 30).count(" ") <= 8
    assert clean_title("   ") == ""


def test_a_conversation_sent_to_the_model_starts_with_a_question() -> None:
    branch = chain("q1 " * 10, "a1 " * 10, "q2 " * 10)
    # Room for the last two turns only: the reply would lead, so it is dropped too.
    turns = conversation.history(branch, "", budget=30, count_tokens=words)
    assert [t.role for t in turns] == ["user"]
