"""One settings tree for the whole service, read from the environment.

Variables use the ``EZHR_`` prefix and ``__`` between nested sections, e.g.
``EZHR_DATABASE__URL`` or ``EZHR_AUTH__SECRET_KEY``. ``DATABASE_URL`` is accepted as
well for platforms that inject it under that name.
"""

from __future__ import annotations

import ipaddress
import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ezhr_graphql.oidc_settings import OidcSettings
from ezhr_graphql.people_settings import InsightsSettings, PrivacySettings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ezhr.db"
# Used only when EZHR_ENV=development (the default) and no key is configured, so the
# embedded server starts with one command; any other environment must set its own key,
# and outside development and test this one is refused: it is published with the code.
DEVELOPMENT_SECRET_KEY = "ezhr-development-only-signing-key-change-me"  # noqa: S105
DEVELOPMENT_ADMIN_PASSWORD = "admin-password"  # noqa: S105


# How to make a key, in every refusal of a missing or development key.
_NEW_KEY = (
    ": set EZHR_AUTH__SECRET_KEY to a random secret of at least 32 characters, e.g. the "
    "output of python -c 'import secrets; print(secrets.token_urlsafe(48))'"
)


def _is_development_key(key: SecretStr) -> bool:
    return key.get_secret_value().strip() == DEVELOPMENT_SECRET_KEY


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class DatabaseSettings(BaseModel):
    url: str = DEFAULT_DATABASE_URL
    # PostgreSQL only: the schema to work in (sets search_path), e.g. to share a
    # database between environments.
    schema_name: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    echo: bool = False
    pool_size: int = Field(default=10, ge=1)
    max_overflow: int = Field(default=10, ge=0)


class AuthSettings(BaseModel):
    secret_key: SecretStr | None = None
    # Keys that signed tokens before the current one, kept to verify those tokens
    # until they expire (as a JSON list); new tokens are always signed with secret_key.
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)
    algorithm: str = "HS256"
    token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    issuer: str = "ezhr-graphql"
    min_password_length: int = Field(default=12, ge=1)
    # Argon2 hashes whatever it is given: a cap keeps megabyte "passwords" out.
    max_password_length: int = Field(default=256, ge=1, le=4096)
    # How long a process trusts what it last read about a token's user. A change made
    # through the API (role, deactivation, deletion) applies at once in every process
    # (a signal through the broker); one the signal misses, within this time.
    user_cache_seconds: float = Field(default=5.0, ge=0)
    # Failed sign-ins allowed per email and per client address within the window.
    login_attempts_per_email: int = Field(default=10, ge=1)
    login_attempts_per_address: int = Field(default=100, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)

    @model_validator(mode="after")
    def _password_lengths(self) -> AuthSettings:
        if self.min_password_length > self.max_password_length:
            raise ValueError("min_password_length must not exceed max_password_length")
        return self


class RateLimitSettings(BaseModel):
    """Limits per minute (fixed windows), shared by every worker through Redis when
    ``redis_url`` is set. An office behind one NAT address, or every caller behind a
    proxy not listed in trusted_proxies, shares the address limits, hence their size."""

    enabled: bool = True
    requests_per_minute_per_user: int = Field(default=600, ge=1)
    requests_per_minute_per_address: int = Field(default=3000, ge=1)
    websocket_connects_per_minute_per_address: int = Field(default=300, ge=1)
    # Websockets open at once in each server process, per signed-in user and per
    # client address (counted in the process, not shared through Redis).
    websockets_per_user: int = Field(default=20, ge=1)
    websockets_per_address: int = Field(default=200, ge=1)
    # Replies started (sendMessage, regenerateMessage, chat), on top of
    # chat.max_concurrent_runs_per_user.
    runs_per_minute_per_user: int = Field(default=20, ge=1)
    # Addresses (or networks, e.g. "10.0.0.0/8") of reverse proxies whose
    # X-Forwarded-For is believed; nobody's by default.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Redis key prefix of these counts and of failed sign-ins, to keep apart
    # deployments that share one Redis.
    redis_prefix: str = Field(default="ezhr:throttle:", min_length=1, max_length=100)
    # How long a count waits for Redis; past that (or on any Redis error) the
    # request, operation or reply goes through unlimited, and a warning is logged.
    counter_timeout_seconds: float = Field(default=1.0, gt=0, le=30)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = Field(default=1, ge=1)
    access_log: bool = False
    # Browser origins allowed to call the API (CORS), e.g. ["https://hr.example.com"];
    # none by default. Bearer tokens travel in a header, never in cookies.
    cors_origins: list[str] = Field(default_factory=list)
    # Who may read /metrics: callers sending `Authorization: Bearer <metrics_token>`,
    # and/or callers from these addresses or networks (e.g. ["10.0.0.0/8"], the address
    # taken as the rate limits take it, behind rate_limit.trusted_proxies). With
    # neither set, production serves loopback callers only (127.0.0.0/8, ::1), and
    # development and test anyone.
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    metrics_allow: list[str] = Field(default_factory=list)

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value


class GraphQLSettings(BaseModel):
    graphiql: bool | None = None
    # Schema introspection: on by default except in production.
    introspection: bool | None = None
    max_depth: int = Field(default=12, ge=1)
    max_aliases: int = Field(default=30, ge=1)
    max_page_size: int = Field(default=100, ge=1)
    parser_cache_size: int = Field(default=512, ge=0)
    validation_cache_size: int = Field(default=512, ge=0)
    # Largest JSON request body (uploads have their own limit).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Lexical tokens a document may hold (comments are counted apart, to the same
    # limit); parsing stops at the first one over (QUERY_TOO_LARGE).
    max_tokens: int = Field(default=3000, ge=50)
    # Characters a document may hold, checked before it is parsed or cached
    # (QUERY_TOO_LARGE): comments and long strings pass the token limit, and each
    # document cached by the parser is kept whole.
    max_query_length: int = Field(default=64 * 1024, ge=1024)
    # The most fields a response may hold, counting each list as its page size
    # times what it selects (QUERY_TOO_COMPLEX); see ezhr_graphql/api/cost.py.
    max_cost: int = Field(default=25_000, ge=1)
    # Items a list without a page size argument is assumed to hold.
    assumed_list_size: int = Field(default=10, ge=1)
    # Websocket messages a client sends: the largest accepted, and a rate per
    # connection (a token bucket: `ws_message_burst` at once, refilled at
    # `ws_messages_per_second`). Over either, the connection is closed.
    max_ws_message_bytes: int = Field(default=64 * 1024, ge=1024)
    ws_messages_per_second: float = Field(default=10.0, gt=0)
    ws_message_burst: int = Field(default=50, ge=1)
    # Persisted queries: "auto" lets clients register a document by its SHA-256 and
    # send the hash alone afterwards (shared through Redis when configured);
    # "allowlist" runs only the documents of `persisted_queries_file` (a JSON object
    # of hash -> document, see `ezhr-graphql persisted export`); "off" ignores hashes.
    persisted_queries: Literal["off", "auto", "allowlist"] = "auto"
    persisted_queries_file: Path | None = None
    # Documents kept in this process (auto mode), and how long Redis keeps one after
    # it was registered (reads do not extend it; a client sends the document again).
    persisted_queries_cache_size: int = Field(default=1000, ge=1)
    persisted_queries_ttl_seconds: int = Field(default=3600, ge=60)
    # Operation names /metrics labels series with, per process, besides the names of
    # the allow-list: the first ones signed-in callers use (well formed, at most 64
    # characters), at most `metrics_operation_names_per_user` from any one user
    # (administrators too); any other name is counted as "other".
    metrics_operation_names: int = Field(default=200, ge=0, le=10_000)
    metrics_operation_names_per_user: int = Field(default=5, ge=0, le=10_000)

    @model_validator(mode="after")
    def _allowlist_needs_a_file(self) -> GraphQLSettings:
        if self.persisted_queries == "allowlist" and self.persisted_queries_file is None:
            raise ValueError("persisted_queries=allowlist needs persisted_queries_file")
        return self


class ChatSettings(BaseModel):
    max_message_length: int = Field(default=8000, ge=1)
    max_concurrent_runs_per_user: int = Field(default=3, ge=1)
    # A run refreshes its message this often; one silent for stale_after is marked
    # FAILED (its process died).
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    stale_after_seconds: float = Field(default=60.0, gt=0)
    max_reply_tokens: int = Field(default=512, ge=16)
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    stream_retention_seconds: int = Field(default=3600, ge=60)
    # A reply already stored whose stream lacks its end is followed for the end this
    # long; past it, the stored reply ends the stream (its process died first).
    stream_end_grace_seconds: float = Field(default=5.0, gt=0)
    keepalive_seconds: float = Field(default=15.0, gt=0)
    # A reply stream sends at most one text frame per coalesce_ms, plus
    # coalesce_ms_per_stream for every stream the process serves at the time.
    coalesce_ms: float = Field(default=5.0, ge=0)
    coalesce_ms_per_stream: float = Field(default=0.1, ge=0)
    # The scripted model is for tests, demos and benchmarks; never in production.
    allow_scripted_llm: bool | None = None


class VectorStoreKind(StrEnum):
    AUTO = "auto"  # pgvector when vector_url is set, else the embedded store
    DATABASE = "database"  # vectors in the application database, searched in memory
    PGVECTOR = "pgvector"


class KnowledgeSettings(BaseModel):
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    # Tokens per chunk; the local embedding model reads at most 256 word pieces.
    chunk_size: int = Field(default=256, ge=64, le=8192)
    chunk_overlap: int = Field(default=32, ge=0, le=1024)
    embed_batch_size: int = Field(default=32, ge=1, le=2048)
    # Documents this process indexes side by side (`ingest`, the seed, the embedded
    # queue): one document's parsing and writing overlap another's embedding.
    ingest_concurrency: int = Field(default=2, ge=1, le=16)
    # What runs the local embedding model: ONNX Runtime, or NumPy (slower; the same
    # vectors). "auto" takes ONNX Runtime when it is installed.
    local_embedding_runtime: Literal["auto", "onnx", "numpy"] = "auto"
    vector_store: VectorStoreKind = VectorStoreKind.AUTO
    # A separate PostgreSQL database for pgvector; the application database if unset.
    vector_url: str | None = None
    # hnsw.ef_search for pgvector queries: recall against speed.
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000)
    # With Redis configured, ingestion runs in ``ezhr-graphql worker`` processes fed by
    # a Redis queue; "local" keeps it in the API process regardless.
    queue: Literal["auto", "local", "redis"] = "auto"
    queue_name: str = Field(default="ezhr-ingestion", min_length=1, max_length=100)
    # Said to English questions nothing relevant answers, by agents without their own
    # message (Vietnamese questions get the Vietnamese one of services.answering).
    default_no_answer_message: str = (
        "I could not find this in the HR documents I have. Please ask HR, or ask them to "
        "add the policy that covers it."
    )


class SeedSettings(BaseModel):
    admin_email: str = "admin@example.com"
    admin_password: SecretStr | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EZHR_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A refusal names the variable at fault, never what it holds (keys included).
        hide_input_in_errors=True,
    )

    env: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    # json: one object per line with request id, user, operation and duration;
    # text: plain lines for reading in a terminal.
    log_format: Literal["json", "text"] = "json"
    database: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    server: ServerSettings = ServerSettings()
    graphql: GraphQLSettings = GraphQLSettings()
    seed: SeedSettings = SeedSettings()
    chat: ChatSettings = ChatSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    insights: InsightsSettings = InsightsSettings()

    # Retention of conversations (see services/privacy).
    privacy: PrivacySettings = PrivacySettings()
    # Single sign-on with an OpenID Connect provider (off by default).
    oidc: OidcSettings = OidcSettings()
    # Redis carries chat streams and signals between processes; without it they stay
    # in this process (one worker).
    redis_url: str | None = None
    # API keys for LLM providers, named by an LLM model's secret reference:
    # EZHR_LLM_SECRETS__OPENAI=sk-... serves secretRef "openai".
    llm_secrets: dict[str, SecretStr] = {}

    @model_validator(mode="before")
    @classmethod
    def _accept_database_url(cls, data: Any) -> Any:
        """Take the conventional ``DATABASE_URL`` when no ``EZHR_DATABASE__URL`` is set."""
        url = os.environ.get("DATABASE_URL")
        if not url or not isinstance(data, dict):
            return data
        database = data.get("database")
        if isinstance(database, dict):
            if "url" not in database:
                return {**data, "database": {**database, "url": url}}
            return data
        if database is None:
            return {**data, "database": {"url": url}}
        return data

    @model_validator(mode="after")
    def _secrets_outside_development(self) -> Settings:
        if self.env is Environment.DEVELOPMENT:
            return self
        if self.auth.secret_key is None:
            raise ValueError(f"EZHR_AUTH__SECRET_KEY must be set outside development{_NEW_KEY}")
        if len(self.auth.secret_key.get_secret_value()) < 32:
            raise ValueError("EZHR_AUTH__SECRET_KEY must be at least 32 characters")
        if any(len(key.get_secret_value()) < 32 for key in self.auth.previous_secret_keys):
            raise ValueError(
                "Each of EZHR_AUTH__PREVIOUS_SECRET_KEYS must be at least 32 characters"
            )
        if self.env is not Environment.TEST:
            self._no_development_key()
        return self

    def _no_development_key(self) -> None:
        """The development key is published with the code: anyone could sign tokens
        with it, as any user and role. Only development and tests may use it."""
        if self.auth.secret_key is not None and _is_development_key(self.auth.secret_key):
            raise ValueError(
                f"EZHR_AUTH__SECRET_KEY is the published development signing key, which "
                f"anyone can sign tokens with; EZHR_ENV={self.env.value} needs a key of its "
                f"own{_NEW_KEY}"
            )
        if any(_is_development_key(key) for key in self.auth.previous_secret_keys):
            raise ValueError(
                "EZHR_AUTH__PREVIOUS_SECRET_KEYS holds the published development signing key, "
                f"which anyone can sign tokens with: remove it (EZHR_ENV={self.env.value})"
            )

    @property
    def signing_key(self) -> str:
        if self.auth.secret_key is not None:
            return self.auth.secret_key.get_secret_value()
        return DEVELOPMENT_SECRET_KEY

    @property
    def graphiql_enabled(self) -> bool:
        if self.graphql.graphiql is not None:
            return self.graphql.graphiql
        return self.env is not Environment.PRODUCTION

    @property
    def introspection_enabled(self) -> bool:
        if self.graphql.introspection is not None:
            return self.graphql.introspection
        return self.env is not Environment.PRODUCTION

    @property
    def scripted_llm_allowed(self) -> bool:
        if self.chat.allow_scripted_llm is not None:
            return self.chat.allow_scripted_llm
        return self.env is not Environment.PRODUCTION

    def llm_secret(self, reference: str | None) -> str | None:
        if not reference:
            return None
        secret = self.llm_secrets.get(reference.lower()) or self.llm_secrets.get(reference)
        return None if secret is None else secret.get_secret_value()

    @property
    def seed_admin_password(self) -> str | None:
        if self.seed.admin_password is not None:
            return self.seed.admin_password.get_secret_value()
        if self.env is Environment.DEVELOPMENT:
            return DEVELOPMENT_ADMIN_PASSWORD
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


PROJECT_ROOT = Path(__file__).resolve().parent.parent
