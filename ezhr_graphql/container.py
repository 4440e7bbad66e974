"""Composition root: the long-lived objects a process shares, wired once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db import Database, create_engine, create_read_engine
from ezhr_graphql.services.actor_cache import ActorCache
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

    @classmethod
    def build(cls, settings: Settings) -> Container:
        fast_hash = settings.env is Environment.TEST
        return cls(
            settings=settings,
            db=Database(create_engine(settings.database), create_read_engine(settings.database)),
            # Tests hash thousands of passwords; production keeps Argon2's defaults.
            hasher=PasswordHasher(time_cost=1, memory_cost=1024) if fast_hash else PasswordHasher(),
            tokens=TokenIssuer(
                settings.signing_key,
                algorithm=settings.auth.algorithm,
                ttl_seconds=settings.auth.token_ttl_seconds,
                issuer=settings.auth.issuer,
            ),
            actors=ActorCache(ttl=settings.auth.user_cache_seconds),
        )

    def users(self, session: AsyncSession) -> UserService:
        return UserService(
            session,
            self.hasher,
            self.tokens,
            self.actors,
            self.settings.auth.min_password_length,
        )

    async def close(self) -> None:
        await self.db.dispose()
