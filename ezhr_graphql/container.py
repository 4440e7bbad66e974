"""Composition root: the long-lived objects a process shares, wired once."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db import Database, create_engine, create_read_engine
from ezhr_graphql.db.engine import sqlite_path
from ezhr_graphql.pubsub import Broker, MemoryBroker
from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.services.actor_cache import ActorCache
from ezhr_graphql.services.messages import MessageService
from ezhr_graphql.services.runs import RunManager
from ezhr_graphql.services.security import PasswordHasher, TokenIssuer
from ezhr_graphql.services.users import UserService
from ezhr_graphql.settings import Environment, Settings


@dataclass
class Container:
    settings: Settings
    db: Database
    hasher: PasswordHasher
    tokens: TokenIssuer
    actors: ActorCache
    broker: Broker
    models: ModelRegistry
    runs: RunManager

    @classmethod
    def build(cls, settings: Settings) -> Container:
        fast_hash = settings.env is Environment.TEST
        db = Database(
            create_engine(settings.database),
            create_read_engine(settings.database),
            sqlite_path(settings.database),
        )
        broker = build_broker(settings)
        models = ModelRegistry(allow_scripted=settings.scripted_llm_allowed)
        return cls(
            settings=settings,
            db=db,
            # Tests hash thousands of passwords; production keeps Argon2's defaults.
            hasher=PasswordHasher(time_cost=1, memory_cost=1024) if fast_hash else PasswordHasher(),
            tokens=TokenIssuer(
                settings.signing_key,
                algorithm=settings.auth.algorithm,
                ttl_seconds=settings.auth.token_ttl_seconds,
                issuer=settings.auth.issuer,
            ),
            actors=ActorCache(ttl=settings.auth.user_cache_seconds),
            broker=broker,
            models=models,
            runs=RunManager(db, broker, models, settings.chat, settings.llm_secret),
        )

    def users(self, session: AsyncSession | None) -> UserService:
        return UserService(
            session,
            self.hasher,
            self.tokens,
            self.actors,
            self.settings.auth.min_password_length,
        )

    def messages(self, session: AsyncSession) -> MessageService:
        return MessageService(session, self.settings.chat)

    async def start(self) -> None:
        """Start background work: stop signals and the sweep of interrupted runs.

        The writer engine connects first, so a SQLite file is in WAL mode before any
        inline reader opens it.
        """
        await self.db.ping()
        self._maintenance = asyncio.create_task(self.db.checkpoint_forever(), name="db-maintenance")
        await self.runs.start()

    async def close(self) -> None:
        maintenance = getattr(self, "_maintenance", None)
        if maintenance is not None:
            maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
        await self.runs.close()
        await self.models.aclose()
        await self.broker.close()
        await self.db.dispose()


def build_broker(settings: Settings) -> Broker:
    retention = settings.chat.stream_retention_seconds
    if settings.redis_url:
        from ezhr_graphql.pubsub.redis import RedisBroker

        return RedisBroker(settings.redis_url, retention=retention)
    return MemoryBroker(retention=retention)
