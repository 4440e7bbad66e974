"""Per-request DataLoaders (``XByYLoader``); each batch opens its own read session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from ezhr_graphql.db import Database
from ezhr_graphql.models import Agent, ChatMessage, EmbeddingModel, Folder, LlmModel, User
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.ai_model import EmbeddingModelRepository, LlmModelRepository
from ezhr_graphql.repositories.base import Repository
from ezhr_graphql.repositories.chat import ChatMessageRepository, FolderRepository
from ezhr_graphql.repositories.user import UserRepository

V = TypeVar("V")


def _by_id(
    db: Database, repository: Callable[[AsyncSession], Repository[Any]]
) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: Sequence[uuid.UUID]) -> list[Any]:
        async with db.read() as session:
            found = await repository(session).get_many(list(set(ids)))
        return [found.get(id) for id in ids]

    return DataLoader(load_fn=load)


def _last_message_by_session(db: Database) -> DataLoader[uuid.UUID, ChatMessage | None]:
    async def load(ids: Sequence[uuid.UUID]) -> list[ChatMessage | None]:
        async with db.read() as session:
            found = await ChatMessageRepository.from_session(session).last_by_session(
                list(set(ids))
            )
        return [found.get(id) for id in ids]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    agent_by_id: DataLoader[uuid.UUID, Agent | None]
    llm_model_by_id: DataLoader[uuid.UUID, LlmModel | None]
    embedding_model_by_id: DataLoader[uuid.UUID, EmbeddingModel | None]
    folder_by_id: DataLoader[uuid.UUID, Folder | None]
    user_by_id: DataLoader[uuid.UUID, User | None]
    last_message_by_session_id: DataLoader[uuid.UUID, ChatMessage | None]

    @classmethod
    def build(cls, db: Database) -> Loaders:
        return cls(
            agent_by_id=_by_id(db, AgentRepository.from_session),
            llm_model_by_id=_by_id(db, LlmModelRepository.from_session),
            embedding_model_by_id=_by_id(db, EmbeddingModelRepository.from_session),
            folder_by_id=_by_id(db, FolderRepository.from_session),
            user_by_id=_by_id(db, UserRepository.from_session),
            last_message_by_session_id=_last_message_by_session(db),
        )
