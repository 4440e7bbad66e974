"""With Redis configured, the API only queues ingestion; a separate ``worker``
process indexes, and its progress reaches the API's subscribers through Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from ezhr_graphql import migrations
from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.jobs import RedisIngestionQueue
from tests.conftest import ROOT, GraphQLClient, PeopleFactory, make_settings, process_env
from tests.databases import fresh_database
from tests.knowledge import HANDBOOK, make_collection, upload, wait_indexed


@pytest.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> AsyncIterator[Container]:
    async with fresh_database(tmp_path_factory.mktemp("worker")) as database:
        settings = make_settings(
            database,
            redis_url=redis_url,
            knowledge={"queue_name": f"ezhr-test-{uuid.uuid4().hex[:8]}"},
        )
        container = Container.build(settings)
        await migrations.upgrade_engine(container.db.engine)
        await container.start()
        yield container
        await container.close()


@pytest.fixture(scope="module")
def worker(api: Container, redis_url: str) -> Iterator[subprocess.Popen[bytes]]:
    env = process_env(
        api.settings,
        EZHR_REDIS_URL=redis_url,
        EZHR_KNOWLEDGE__QUEUE_NAME=api.settings.knowledge.queue_name,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ezhr_graphql.cli", "worker"], cwd=ROOT, env=env
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(20)


async def test_a_separate_worker_indexes_what_the_api_queued(
    api: Container, worker: subprocess.Popen[bytes]
) -> None:
    assert isinstance(api.ingestion_queue, RedisIngestionQueue)
    transport = httpx.ASGITransport(app=create_app(api.settings, api))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        gql = GraphQLClient(http)
        admin = await PeopleFactory(api).admin()
        ids = await make_collection(gql, admin.token)
        path = HANDBOOK / "travel-and-leave" / "fmla.md"
        sent = await upload(http, admin.token, ids["collection"], "fmla.md", path.read_bytes())
        done = await wait_indexed(gql, admin.token, sent["document"]["id"])
    assert worker.poll() is None, "the worker exited"
    assert done["status"] == "READY", done
    assert done["chunksTotal"] > 0
    assert (
        await api.vector_store.count(uuid.UUID(ids["model"]), uuid.UUID(ids["collection"]))
        == done["chunksTotal"]
    )


def test_the_worker_refuses_to_start_without_redis() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EZHR_")}
    result = subprocess.run(
        [sys.executable, "-m", "ezhr_graphql.cli", "worker"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert b"EZHR_REDIS_URL" in result.stderr
