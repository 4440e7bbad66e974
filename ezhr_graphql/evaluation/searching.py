"""What the agent's search finds for a question, apart from what the reply makes of it.

A reply cites only passages over the agent's relevance floor, and cites nothing when
it refuses; the search itself may still have ranked the right document first. This
asks the same retriever the chat uses, with the query an extractive reply retrieves
for (a follow-up carries the words of the questions before it), and gives the
documents of its ``topK`` passages, best first. For a generative agent, whose model
rewrites a follow-up before retrieval, a follow-up's figure is that of the carried
words instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from ezhr_graphql.container import Container
from ezhr_graphql.models import Agent, Document
from ezhr_graphql.services.answering import queries
from ezhr_graphql.services.retrieval import Knowledge


class Search:
    """The agent's search, as its replies run it."""

    def __init__(self, container: Container, agent_id: uuid.UUID, reader_id: uuid.UUID) -> None:
        self.container = container
        self.agent_id = agent_id
        # Who asks: the search reads only what their attributes admit, as their chat does.
        self.reader_id = reader_id
        self._knowledge: Knowledge | None = None
        self._names: dict[uuid.UUID, tuple[str, str]] = {}

    async def documents(self, question: str, earlier: Sequence[str] = ()) -> list[tuple[str, str]]:
        """File name and title of the documents of the passages found for ``question``
        (after ``earlier``, the conversation's questions before it), distinct, best
        first.

        Raises:
            LLMError: the embedding model failed.
        """
        knowledge = await self._knowledge_of_agent()
        if knowledge is None:
            return []
        asked = queries.query(question, earlier)
        passages = await self.container.retriever.retrieve(knowledge, asked.text)
        found = list(dict.fromkeys(p.document_id for p in passages))
        await self._name(found)
        return [self._names[d] for d in found if d in self._names]

    async def _knowledge_of_agent(self) -> Knowledge | None:
        if self._knowledge is None:
            async with self.container.db.read() as session:
                agent = await session.get_one(Agent, self.agent_id)
            self._knowledge = await self.container.retriever.knowledge_of(agent, self.reader_id)
        return self._knowledge

    async def _name(self, documents: list[uuid.UUID]) -> None:
        wanted = [d for d in documents if d not in self._names]
        if not wanted:
            return
        async with self.container.db.read() as session:
            rows = await session.execute(
                select(Document.id, Document.filename, Document.title).where(
                    Document.id.in_(wanted)
                )
            )
            self._names.update({id: (filename, title or "") for id, filename, title in rows})
