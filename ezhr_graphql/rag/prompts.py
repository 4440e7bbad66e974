"""Prompts of the retrieval chat: condensing a follow-up, answering from passages."""

from __future__ import annotations

from collections.abc import Sequence

CONDENSE_INSTRUCTION = (
    "Rewrite the follow-up question as one standalone question that can be understood "
    "without the conversation. Keep its language. Reply with the question only."
)

ANSWER_INSTRUCTION = (
    "Answer the employee's question using only the numbered passages from the company's "
    "documents below. Cite passages by their number, like [1]. If the passages do not "
    "contain the answer, say that you could not find it in the documents."
)


def condense_request(history: Sequence[tuple[str, str]], follow_up: str) -> str:
    """The user turn asking to condense ``follow_up``; ``history`` is (role, text)."""
    lines = [f"{'User' if role == 'user' else 'Assistant'}: {text}" for role, text in history]
    return "Conversation:\n" + "\n".join(lines) + f"\n\nFollow-up question: {follow_up}"


def answer_system_prompt(agent_prompt: str, passages: Sequence[tuple[str, str]]) -> str:
    """The system turn: the agent's own prompt, the rules, then (label, text) passages."""
    blocks = [f"[{i}] {label}\n{text}" for i, (label, text) in enumerate(passages, start=1)]
    head = f"{agent_prompt.strip()}\n\n" if agent_prompt.strip() else ""
    return head + ANSWER_INSTRUCTION + "\n\n" + "\n\n".join(blocks)
