"""Insights: the questions the knowledge answered badly or not at all, grouped,
shown to administrators only when enough different people asked, never who."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import update

from ezhr_graphql.container import Container
from ezhr_graphql.db import utcnow
from ezhr_graphql.models import (
    AnswerMode,
    ChatFeedback,
    ChatMessage,
    ChatSession,
    FinishReason,
    Grounding,
    MessageRole,
    Rating,
)
from tests.conftest import GraphQLClient, PeopleFactory, Person, StatementCounter
from tests.factories import make_agent, make_sessions
from tests.knowledge import answer_from, ask, indexed_document
from tests.test_audiences import VIETNAM

INSIGHTS = """
query ($first: Int!, $after: String, $filter: InsightFilter) {
  insights(first: $first, after: $after, filter: $filter) {
    __typename
    ... on InsightGroupConnection {
      edges { cursor node {
        question examples language count people lastAskedOn comments kinds { kind count }
      } }
      pageInfo { hasNextPage endCursor }
    }
    ... on UserError { code message }
    ... on InvalidInput { field }
  }
}
"""
LEAVE = [
    "Can I take unpaid leave for a family wedding?",
    "Is unpaid leave possible for a family wedding?",
    "can i take unpaid leave for a wedding in my family",
    "Can I take unpaid leave for a family wedding?",
]


def yesterday() -> datetime:
    """Insights show whole days, up to yesterday's."""
    return utcnow() - timedelta(days=1)


PARKING = ["Where do I park my bicycle?", "Where can I park my bicycle at the office?"]


@dataclass
class Asked:
    """Questions with signals, asked by people of an agent."""

    container: Container
    agent: uuid.UUID
    sessions: list[str]

    async def ask(
        self,
        person: Person,
        question: str,
        *,
        finish: FinishReason = FinishReason.STOP,
        best_score: float | None = 0.9,
        grounding: Grounding | None = None,
        rating: Rating | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> None:
        when = at or yesterday()
        async with self.container.db.transaction() as session:
            chat = ChatSession(owner_id=person.id, agent_id=self.agent, title="t")
            session.add(chat)
            await session.flush()
            asked = ChatMessage(session_id=chat.id, role=MessageRole.USER, content=question)
            session.add(asked)
            await session.flush()
            reply = ChatMessage(
                session_id=chat.id,
                parent_id=asked.id,
                role=MessageRole.ASSISTANT,
                content="a reply",
                finish_reason=finish,
                best_score=best_score,
                grounding=grounding,
                created_at=when,
            )
            session.add(reply)
            await session.flush()
            if rating is not None:
                session.add(
                    ChatFeedback(
                        message_id=reply.id, user_id=person.id, rating=rating, comment=comment
                    )
                )
            self.sessions += [str(chat.id), str(asked.id), str(reply.id)]


async def world(container: Container, admin: Person) -> Asked:
    agent = await make_agent(container, admin, answer_mode=AnswerMode.EXTRACTIVE)
    return Asked(container, agent.id, [])


async def groups(
    gql: GraphQLClient, admin: Person, first: int = 20, **filter: Any
) -> list[dict[str, Any]]:
    data = await gql.data(INSIGHTS, {"first": first, "filter": filter or None}, admin.token)
    page = data["insights"]
    assert page["__typename"] == "InsightGroupConnection", page
    return [edge["node"] for edge in page["edges"]]


async def test_a_question_enough_people_could_not_get_answered_is_shown_without_them(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    asked = await world(container, admin)
    askers = [await people.member() for _ in range(3)]
    for person, question in zip(askers + askers[:1], LEAVE, strict=True):
        await asked.ask(person, question, finish=FinishReason.NO_ANSWER, best_score=0.1)
    for person in askers[:2]:  # two people only: not shown
        await asked.ask(person, PARKING[0], finish=FinishReason.NO_ANSWER, best_score=0.1)
    for person in askers:  # answered well: nothing to show
        await asked.ask(person, "How many days of annual leave do I get?")

    found = await groups(gql, admin)

    assert len(found) == 1, found
    [group] = found
    assert group["question"] in LEAVE
    assert group["count"] == 4
    assert group["people"] == 3
    assert group["kinds"] == [{"kind": "NO_ANSWER", "count": 4}]
    assert set(group["examples"]) | {group["question"]} == set(LEAVE)
    assert group["language"] == "en"
    text = json.dumps(found)
    everyone = [admin, *askers]
    leaked = [
        value
        for value in [str(p.id) for p in everyone] + [p.email for p in everyone] + asked.sessions
        if value in text
    ]
    assert leaked == []


async def test_each_kind_of_signal_is_shown_and_filtered(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    asked = await world(container, admin)
    askers = [await people.member() for _ in range(3)]
    for n, person in enumerate(askers):
        await asked.ask(person, PARKING[1], best_score=0.2)
        await asked.ask(person, LEAVE[0], rating=Rating.DOWN, comment=f"wrong policy ({n})")
        await asked.ask(
            person, "What is the meal allowance abroad?", grounding=Grounding.UNSUPPORTED
        )
        await asked.ask(person, "How do I book a meeting room?", rating=Rating.UP)

    by_question = {g["question"]: g for g in await groups(gql, admin)}

    assert {q: [k["kind"] for k in g["kinds"]] for q, g in by_question.items()} == {
        PARKING[1]: ["LOW_SCORE"],
        LEAVE[0]: ["RATED_DOWN"],
        "What is the meal allowance abroad?": ["UNSUPPORTED"],
    }
    assert len(by_question[LEAVE[0]]["comments"]) == 3
    only = await groups(gql, admin, kinds=["RATED_DOWN", "UNSUPPORTED"])
    assert {g["question"] for g in only} == {LEAVE[0], "What is the meal allowance abroad?"}
    other = await make_agent(container, admin, answer_mode=AnswerMode.EXTRACTIVE)
    assert await groups(gql, admin, agentId=str(other.id)) == []
    assert len(await groups(gql, admin, agentId=str(asked.agent))) == 3


async def test_the_time_window_narrows_and_malformed_filters_are_invalid_input(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    asked = await world(container, admin)
    long_ago = (utcnow() - timedelta(days=40)).replace(hour=12, minute=0)
    for _ in range(3):
        person = await people.member()
        await asked.ask(person, LEAVE[0], finish=FinishReason.NO_ANSWER, at=long_ago)

    recent = (utcnow() - timedelta(days=30)).isoformat()
    assert await groups(gql, admin, since=recent) == []
    assert len(await groups(gql, admin, until=recent)) == 1
    # The window is whole days: a minute around the questions finds the whole day.
    after = (long_ago + timedelta(minutes=1)).isoformat()
    assert len(await groups(gql, admin, since=after)) == 1
    assert len(await groups(gql, admin, until="9999-12-31T12:00:00Z")) == 1
    for filter, field in (
        ({"agentId": "x"}, "agentId"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"until": "0001-01-01T00:00:00+01:00"}, "until"),
        ({"since": recent, "until": long_ago.isoformat()}, "since"),
    ):
        data = await gql.data(INSIGHTS, {"first": 5, "filter": filter}, admin.token)
        assert data["insights"]["__typename"] == "InvalidInput"
        assert data["insights"]["field"] == field
    bad = await gql.data(INSIGHTS, {"first": 5, "after": "garbage"}, admin.token)
    assert bad["insights"]["__typename"] == "InvalidInput"


async def test_groups_page_most_asked_first_at_a_cost_that_does_not_grow(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    count_statements: StatementCounter,
) -> None:
    admin = await people.admin()
    asked = await world(container, admin)
    askers = [await people.member() for _ in range(3)]
    topics = ["parking", "gym", "canteen", "laptop", "badge", "locker", "visa", "pension"]
    for n, topic in enumerate(topics):
        for person in askers + askers[: n % 3]:
            await asked.ask(person, f"Where is the {topic} policy?", finish=FinishReason.NO_ANSWER)
    await gql.data("{ viewer { email } }", token=admin.token)  # the user cache warm

    counts = {}
    for first in (2, 8):
        count_statements.count = 0
        await groups(gql, admin, first=first)
        counts[first] = count_statements.count
    seen: list[tuple[int, str]] = []
    after = None
    while True:
        data = await gql.data(INSIGHTS, {"first": 3, "after": after}, admin.token)
        page = data["insights"]
        seen += [(e["node"]["count"], e["node"]["question"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert counts[2] == counts[8] == 1, count_statements.statements
    # A cursor tells no more of when than the group shows: the day.
    padded = after + "=" * (-len(after) % 4)
    decoded = json.loads(base64.urlsafe_b64decode(padded))
    assert date.fromisoformat(decoded[1]) == yesterday().date()
    forged = base64.urlsafe_b64encode(json.dumps(["x", "2026-01-01", "q"]).encode()).decode()
    refused = await gql.data(INSIGHTS, {"first": 3, "after": forged}, admin.token)
    assert refused["insights"]["__typename"] == "InvalidInput"
    assert len(seen) == len(topics) == len(set(seen))
    assert [count for count, _ in seen] == sorted((count for count, _ in seen), reverse=True)


async def test_questions_asked_through_the_chat_become_insights(
    client: Any, gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    admin = await people.admin()
    ids, _ = await indexed_document(client, gql, admin.token, VIETNAM)
    agent = await make_agent(
        container, admin, answer_mode=AnswerMode.EXTRACTIVE, general_chat=False
    )
    await answer_from(gql, admin.token, agent.id, ids["model"], [ids["collection"]])
    for _ in range(3):
        member = await people.member()
        (session,) = await make_sessions(container, member, agent.id, 1)
        await ask(live_url, member, session.id, "Can I bring my dog to the office?")
    answered = (
        await ask(live_url, member, session.id, "How many days of annual leave do I get?")
    ).message
    # Today's questions are not shown (polling could tell when each was asked): a day on
    assert await groups(gql, admin) == []
    async with container.db.transaction() as db:
        await db.execute(update(ChatMessage).values(created_at=yesterday()))

    [group] = await groups(gql, admin)

    assert group["question"] == "Can I bring my dog to the office?"
    assert group["people"] == 3
    assert group["kinds"][0]["kind"] == "NO_ANSWER"
    async with container.db.read() as session:
        row = await session.get(ChatMessage, uuid.UUID(answered["id"]))
    assert row is not None
    assert row.best_score is not None
    assert row.best_score > 0.5
    assert datetime.now(UTC) > row.created_at
