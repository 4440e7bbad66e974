"""What a plan says: quotes, a generated reply under guards, general chat, or the
no-answer message (see :mod:`.planning` for when each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from ezhr_graphql.models import (
    AnswerMode,
    ChatMessage,
    Collection,
    Document,
    DocumentStatus,
    MessageRole,
    UnsupportedNumbers,
    agent_collection,
)
from ezhr_graphql.rag.prompts import answer_system_prompt
from ezhr_graphql.repositories.audience import admits
from ezhr_graphql.services import conversation
from ezhr_graphql.services.answering import extractive, queries
from ezhr_graphql.services.answering.guards import Guards
from ezhr_graphql.services.answering.language import no_answer_messages
from ezhr_graphql.services.answering.trimming import trimmed
from ezhr_graphql.services.insights.matching import ApprovedAnswers
from ezhr_graphql.services.retrieval import Knowledge, Passage, Retriever

if TYPE_CHECKING:
    from ezhr_graphql.services.replies.planning import Found, Plan, Planner


class Answers:
    def __init__(
        self,
        planner: Planner,
        retriever: Retriever | None,
        approved: ApprovedAnswers | None = None,
    ) -> None:
        self.planner = planner
        self.retriever = retriever
        self.approved = approved

    async def fill(self, plan: Plan, found: Found, branch: list[ChatMessage]) -> None:
        """Decide the reply of ``plan``.

        Raises:
            ReplyError, LLMError: see :meth:`Planner.plan`.
        """
        agent = found.agent
        if self.approved is not None and branch:
            match = await self.approved.match(agent.id, found.chat.owner_id, plan.question)
            if match is not None:
                # Said as written, cited as what it is: no model, nothing retrieved.
                plan.quoted, plan.citations, plan.sources = match.answer, [match.citation()], None
                return
        knowledge = None
        if self.retriever is not None and branch:
            # What the asker may read: the session's owner (admins included).
            knowledge = await self.retriever.knowledge_of(agent, found.chat.owner_id)
        if knowledge is not None:
            if agent.answer_mode is AnswerMode.EXTRACTIVE:
                answered = await self._quote(plan, knowledge, branch)
            else:
                answered = await self._generate(plan, found, knowledge, branch)
            if answered:
                return
            if not agent.general_chat or await self._holds_documents(found, knowledge):
                self.no_answer(plan, found)
                return
        if agent.general_chat:
            await self._chat(plan, found, branch)
        else:
            self.no_answer(plan, found)

    def no_answer(self, plan: Plan, found: Found) -> None:
        """The agent's no-answer message, in the question's language, citing nothing."""
        messages = no_answer_messages(found.agent.no_answer_message, self.planner.no_answer_message)
        plan.canned = messages.get(plan.language, messages["en"])
        plan.citations, plan.sources, plan.quoted = [], None, None

    async def _quote(self, plan: Plan, knowledge: Knowledge, branch: list[ChatMessage]) -> bool:
        """The passages' sentences that answer; ``False``: none does."""
        assert self.retriever is not None
        earlier = [m.content for m in branch[:-1] if m.role is MessageRole.USER and m.content]
        asked = queries.query(plan.question, earlier)
        passages = await self._relevant(plan, knowledge, asked.text)
        clear = set()
        if knowledge.reads(plan.language):
            clear = {i for i, p in enumerate(passages) if p.clear(knowledge.threshold)}
        answer = extractive.extract(asked, passages, clear)
        if answer is None:
            return False
        cited = [passages[i] for i in answer.cited]
        plan.citations = [
            p.citation([q.text for q in answer.quotes if q.passage == i])
            for i, p in zip(answer.cited, cited, strict=True)
        ]
        plan.sources = [p.text for p in cited] + [plan.question]
        plan.quoted = extractive.render(answer, plan.language)
        return True

    async def _generate(
        self, plan: Plan, found: Found, knowledge: Knowledge, branch: list[ChatMessage]
    ) -> bool:
        """The model asked with the passages fenced; ``False``: nothing relevant."""
        assert self.retriever is not None
        model = await self.planner.model(plan, found)
        question = await self.planner.standalone(model, branch)
        max_tokens = self.planner.max_tokens(found.agent)
        budget = model.context_window - max_tokens
        passages = fitted(
            await self._relevant(plan, knowledge, question), budget // 2, model.count_tokens
        )
        if not passages:
            return False
        texts = [p.text for p in passages]
        if plan.spec is not None and plan.spec.provider == "local":
            asked = queries.query(question)
            texts = [trimmed(asked, t) for t in texts]
        labelled = [(p.label, t) for p, t in zip(passages, texts, strict=True)]
        prompt = answer_system_prompt(found.agent.system_prompt, labelled)
        plan.turns = conversation.history(branch, prompt, budget, model.count_tokens)
        plan.citations = [p.citation() for p in passages]
        plan.sources = [p.text for p in passages] + [plan.question]
        plan.guards = self._guards(plan, found, len(passages))
        return True

    async def _relevant(self, plan: Plan, knowledge: Knowledge, question: str) -> list[Passage]:
        """The passages retrieved for ``question`` that reach the agent's similarity
        threshold: the keyword leg finds some passage for almost any question, and
        the nearest passage to a question the documents do not answer is no answer.
        The best one's score is kept with the reply, for HR's insights."""
        assert self.retriever is not None
        passages = await self.retriever.retrieve(knowledge, question)
        plan.best_score = max((p.score for p in passages), default=0.0)
        return [p for p in passages if p.relevant(knowledge.threshold)]

    async def _chat(self, plan: Plan, found: Found, branch: list[ChatMessage]) -> None:
        """The model chats, as with no documents: the agent's prompt and the branch."""
        model = await self.planner.model(plan, found)
        budget = model.context_window - self.planner.max_tokens(found.agent)
        plan.turns = conversation.history(
            branch, found.agent.system_prompt, budget, model.count_tokens
        )
        plan.citations = plan.sources = plan.canned = plan.quoted = None
        plan.guards = self._guards(plan, found, 0)

    def _guards(self, plan: Plan, found: Found, citations: int) -> Guards:
        agent = found.agent
        messages = no_answer_messages(agent.no_answer_message, self.planner.no_answer_message)
        return Guards(
            max_tokens=self.planner.max_tokens(agent),
            citations=citations,
            language=plan.language,
            refuse=citations > 0 and agent.unsupported_numbers is UnsupportedNumbers.REFUSE,
            no_answer=messages.get(plan.language, messages["en"]),
        )

    async def _holds_documents(self, found: Found, knowledge: Knowledge) -> bool:
        """Whether the agent's collections hold a document that can be answered from
        (ready, or indexed before and being indexed again) for the asker: one their
        audiences exclude is as if it did not exist, so its agent chats instead."""
        query = (
            select(Document.id)
            .join(agent_collection, agent_collection.c.collection_id == Document.collection_id)
            .join(Collection, Collection.id == Document.collection_id)
            .where(
                agent_collection.c.agent_id == found.agent.id,
                Collection.deleted_at.is_(None),
                or_(Document.status == DocumentStatus.READY, Document.indexed_at.is_not(None)),
            )
            .limit(1)
        )
        if knowledge.reader is not None:
            query = query.where(admits(knowledge.reader))
        async with self.planner.db.read() as session:
            return (await session.scalar(query)) is not None


def fitted(passages: list[Passage], budget: int, count: Callable[[str], int]) -> list[Passage]:
    """The best passages whose text fits in ``budget`` tokens (at least one)."""
    kept: list[Passage] = []
    used = 0
    for passage in passages:
        cost = count(passage.text) + 8
        if kept and used + cost > budget:
            break
        kept.append(passage)
        used += cost
    return kept
