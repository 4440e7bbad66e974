"""Tools outside Python that some tests need: Redis, redis-server, Chromium, the docker
compose plugin, make, git; and the optional local generative model (the local-llm extra).

On a laptop without one of them, the tests that need it skip with one line saying what
to install. In CI (``CI`` set to a true value, as CI services do) or with
``EZHR_TEST_REQUIRE_ALL=1``, a missing tool fails those tests instead: a test skipped
in CI proves nothing.
"""

from __future__ import annotations

import functools
import os
import shutil
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

REDIS_URL = os.environ.get("EZHR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_TRUE = {"1", "true", "yes", "on"}


def required() -> bool:
    """Whether every tool must be present: in CI, or when asked to."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("CI", "EZHR_TEST_REQUIRE_ALL")
    )


def need(available: bool, what: str, how_to_install: str) -> None:
    """Go on if ``available``; otherwise skip the test with one line, or fail it when
    every tool is required."""
    if available:
        return
    message = f"{what}: {how_to_install}"
    if required():
        pytest.fail(f"{message} (required: CI or EZHR_TEST_REQUIRE_ALL is set)", pytrace=False)
    pytest.skip(message)


def need_program(name: str, how_to_install: str) -> str:
    """The path of the program ``name`` found on PATH."""
    path = shutil.which(name)
    need(path is not None, f"{name} not found on PATH", how_to_install)
    assert path is not None
    return path


def need_local_llm() -> None:
    """Go on if the local-llm extra (llama.cpp and SmolLM2's weights) is installed."""
    from ezhr_graphql.rag.providers import local_llm_installed

    need(local_llm_installed(), "install the local-llm extra", "uv sync --extra local-llm")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@functools.cache
def redis_answers(url: str) -> bool:
    """Whether the Redis at ``url`` answers PING within about a second (asked once)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def need_redis() -> str:
    """The URL of the test Redis (``EZHR_TEST_REDIS_URL``), once it answers."""
    need(
        redis_answers(REDIS_URL),
        f"Redis not reachable at {_without_password(REDIS_URL)}",
        "start redis-server or set EZHR_TEST_REDIS_URL",
    )
    return REDIS_URL
