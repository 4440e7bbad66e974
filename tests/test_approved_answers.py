"""Approved answers: an administrator's answer said, as written and cited as
approved, to whoever asks its question again; never to a different question."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from ezhr_graphql.container import Container
from ezhr_graphql.models import AnswerMode, ApprovedAnswer, AuditAction, AuditEvent, ChatMessage
from tests.conftest import GraphQLClient, PeopleFactory, Person
from tests.factories import make_agent, make_sessions
from tests.knowledge import ask
from tests.test_attributes import set_attributes

FIELDS = """
    id questions answer language agentId authorRole approvedAt retiredAt hitCount lastHitAt
    audience { countries everyone }
"""
RESULT = f"""
  __typename
  ... on ApprovedAnswer {{ {FIELDS} }}
  ... on UserError {{ code message }}
  ... on InvalidInput {{ field }}
"""
CREATE = f"""
mutation ($input: ApprovedAnswerInput!) {{ createApprovedAnswer(input: $input) {{ {RESULT} }} }}
"""
UPDATE = f"""
mutation ($id: ID!, $input: ApprovedAnswerInput!) {{
  updateApprovedAnswer(id: $id, input: $input) {{ {RESULT} }}
}}
"""
RETIRE = f"mutation ($id: ID!) {{ retireApprovedAnswer(id: $id) {{ {RESULT} }} }}"
LIST = f"""
query ($first: Int!, $after: String, $agentId: ID, $retired: Boolean) {{
  approvedAnswers(first: $first, after: $after, agentId: $agentId, retired: $retired) {{
    __typename
    ... on ApprovedAnswerConnection {{
      edges {{ node {{ {FIELDS} }} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""
ANNUAL = "How many days of annual leave do I get?"
ANSWER = "Full-time employees get 14 days of annual leave a year (approved by HR)."
CARRY = "Can I carry over unused annual leave to next year?"
CARRY_ANSWER = "Up to 5 unused days carry over into the next year."
VIETNAMESE = "Tôi được nghỉ phép năm bao nhiêu ngày?"
VIETNAMESE_ANSWER = "Nhân viên toàn thời gian được 14 ngày nghỉ phép năm."


async def approve(
    gql: GraphQLClient, admin: Person, questions: list[str], answer: str = ANSWER, **more: Any
) -> dict[str, Any]:
    data = await gql.data(
        CREATE, {"input": {"questions": questions, "answer": answer, **more}}, admin.token
    )
    created: dict[str, Any] = data["createApprovedAnswer"]
    assert created["__typename"] == "ApprovedAnswer", created
    return created


async def chat_agent(container: Container, admin: Person) -> uuid.UUID:
    """A generative agent on a scripted model, chatting without documents: whatever
    it says that is not an approved answer came from its model."""
    agent = await make_agent(container, admin, llm="scripted?tokens=5", general_chat=True)
    return agent.id


async def reply(
    container: Container, url: str, person: Person, agent: uuid.UUID, text: str
) -> dict[str, Any]:
    (session,) = await make_sessions(container, person, agent, 1)
    return (await ask(url, person, session.id, text)).message


async def stored(container: Container, message_id: str) -> ChatMessage:
    async with container.db.read() as session:
        row = await session.get(ChatMessage, uuid.UUID(message_id))
    assert row is not None
    return row


async def test_a_paraphrase_gets_the_approved_answer_without_the_model(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    admin, member = await people.admin(), await people.member()
    agent = await chat_agent(container, admin)
    approved = await approve(gql, admin, [ANNUAL], agentId=str(agent))
    carry_over = [CARRY, "Can unused annual leave be carried over to the next year?"]
    await approve(gql, admin, carry_over, CARRY_ANSWER, agentId=str(agent))

    said = await reply(container, live_url, member, agent, "how many days of annual leave do i get")
    reworded = await reply(
        container,
        live_url,
        member,
        agent,
        "can unused annual leave be carried over to the next year",
    )
    other = await reply(container, live_url, member, agent, "When is payday?")

    assert said["content"] == ANSWER
    [citation] = said["citations"]
    assert citation["documentId"] is None
    assert citation["approvedAnswer"]["id"] == approved["id"]
    assert citation["approvedAnswer"]["authorRole"] == "ADMIN"
    assert citation["approvedAnswer"]["approvedAt"] == approved["approvedAt"]
    row = await stored(container, said["id"])
    assert (row.prompt_tokens, row.completion_tokens) == (None, None)  # no model was asked
    # Another way of asking, listed among the answer's phrasings.
    assert reworded["content"] == CARRY_ANSWER
    assert other["content"] not in (ANSWER, CARRY_ANSWER)  # another question: the model
    assert (await stored(container, other["id"])).completion_tokens
    listed = await gql.data(LIST, {"first": 5}, admin.token)
    hits = {e["node"]["id"]: e["node"] for e in listed["approvedAnswers"]["edges"]}
    assert hits[approved["id"]]["hitCount"] == 1
    assert hits[approved["id"]]["lastHitAt"] is not None


async def test_one_word_that_changes_the_policy_is_not_the_approved_question(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    admin, member = await people.admin(), await people.member()
    agent = await chat_agent(container, admin)
    await approve(gql, admin, [ANNUAL])
    await approve(gql, admin, [VIETNAMESE], VIETNAMESE_ANSWER)
    approved = {
        "Can I take annual leave before probation ends?": "Yes, from the first month.",
        "Does the employer pay for the employee's training?": "Yes, up to $2,000.",
        "Nhân viên hết thử việc có được nghỉ phép năm không?": "Có.",
    }
    for question, answer in approved.items():
        await approve(gql, admin, [question], answer)
    said = {ANSWER, VIETNAMESE_ANSWER, *approved.values()}

    for other in (
        "How many days of sick leave do I get?",
        "How many days of annual leave do contractors get?",
        "How many days of annual leave does she get?",
        "How many days of annual leave don't I get?",
        "how many annual leave days do I get?",  # reordered: not the same words
        "Nghỉ phép năm tôi được bao nhiêu ngày?",  # likewise
        "Tôi được nghỉ ốm bao nhiêu ngày?",  # sick leave: the local model cannot tell
        "What is the dress code?",
        "Can I take annual leave after probation ends?",
        "Does the employee pay for the employer's training?",  # cosine 0.998
        "Nhân viên chưa hết thử việc có được nghỉ phép năm không?",  # not yet finished
    ):
        got = await reply(container, live_url, member, agent, other)
        assert got["content"] not in said, other
    dressed = "Cho tôi hỏi, tôi được nghỉ phép năm bao nhiêu ngày ạ?"  # "may I ask", a particle
    same = await reply(container, live_url, member, agent, dressed)
    assert same["content"] == VIETNAMESE_ANSWER


async def test_a_retired_answer_is_no_longer_said_and_an_edit_is_said_at_once(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    admin, member = await people.admin(), await people.member()
    agent = await chat_agent(container, admin)
    approved = await approve(gql, admin, [ANNUAL])
    edited = await gql.data(
        UPDATE,
        {"id": approved["id"], "input": {"questions": [ANNUAL], "answer": "Fifteen days."}},
        admin.token,
    )
    assert edited["updateApprovedAnswer"]["answer"] == "Fifteen days."
    assert (await reply(container, live_url, member, agent, ANNUAL))["content"] == "Fifteen days."

    retired = await gql.data(RETIRE, {"id": approved["id"]}, admin.token)

    assert retired["retireApprovedAnswer"]["retiredAt"] is not None
    assert (await reply(container, live_url, member, agent, ANNUAL))["content"] != "Fifteen days."
    in_use = await gql.data(LIST, {"first": 5, "retired": False}, admin.token)
    assert in_use["approvedAnswers"]["edges"] == []
    async with container.db.read() as session:
        actions = list(
            await session.scalars(select(AuditEvent.action).order_by(AuditEvent.created_at))
        )
    assert [a for a in actions if a.name.startswith("APPROVED")] == [
        AuditAction.APPROVED_ANSWER_CREATED,
        AuditAction.APPROVED_ANSWER_CHANGED,
        AuditAction.APPROVED_ANSWER_RETIRED,
    ]


async def test_an_answer_is_said_only_to_its_audience_and_for_its_agent(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    admin = await people.admin()
    in_vietnam, in_us = await people.member(), await people.member()
    for person, country in ((in_vietnam, "VN"), (in_us, "US")):
        await set_attributes(gql, admin.token, str(person.id), {"country": country})
    agent, other_agent = await chat_agent(container, admin), await chat_agent(container, admin)
    approved = await approve(
        gql, admin, [ANNUAL], agentId=str(agent), audience={"countries": ["VN"]}
    )
    assert approved["audience"] == {"countries": ["VN"], "everyone": False}

    assert (await reply(container, live_url, in_vietnam, agent, ANNUAL))["content"] == ANSWER
    assert (await reply(container, live_url, in_us, agent, ANNUAL))["content"] != ANSWER
    assert (await reply(container, live_url, in_vietnam, other_agent, ANNUAL))["content"] != ANSWER


async def test_malformed_answers_are_refused_with_the_field_at_fault(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"questions": [], "answer": ANSWER}, "questions"),
        (
            {"questions": ["q?"] * 0 + [f"question {i}?" for i in range(21)], "answer": ANSWER},
            "questions",
        ),
        ({"questions": ["x" * 501], "answer": ANSWER}, "questions"),
        ({"questions": ["  "], "answer": ANSWER}, "questions"),
        ({"questions": [ANNUAL, VIETNAMESE], "answer": ANSWER}, "questions"),
        ({"questions": [ANNUAL], "answer": ""}, "answer"),
        ({"questions": [ANNUAL], "answer": "a\x00b"}, "answer"),
        ({"questions": [ANNUAL], "answer": ANSWER, "agentId": "nope"}, "agentId"),
        ({"questions": [ANNUAL], "answer": ANSWER, "audience": {"countries": ["XX"]}}, "countries"),
    ]
    for given, field in cases:
        data = await gql.data(CREATE, {"input": given}, admin.token)
        result = data["createApprovedAnswer"]
        assert result["__typename"] == "InvalidInput", (given, result)
        assert result["field"] == field, (given, result)
    unknown = {"questions": [ANNUAL], "answer": ANSWER, "agentId": str(uuid.uuid4())}
    missing = (await gql.data(CREATE, {"input": unknown}, admin.token))["createApprovedAnswer"]
    assert missing["__typename"] == "NotFound"
    gone = await gql.data(RETIRE, {"id": str(uuid.uuid4())}, admin.token)
    assert gone["retireApprovedAnswer"]["__typename"] == "NotFound"
    async with container.db.read() as session:
        assert list(await session.scalars(select(ApprovedAnswer.id))) == []


async def test_the_list_pages_newest_first_and_filters_by_agent(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    agent = await make_agent(container, admin, answer_mode=AnswerMode.EXTRACTIVE)
    made = [
        await approve(
            gql,
            admin,
            [f"Question number {i} about leave?"],
            agentId=str(agent.id) if i % 2 else None,
        )
        for i in range(5)
    ]
    seen: list[str] = []
    after = None
    while True:
        data = await gql.data(LIST, {"first": 2, "after": after}, admin.token)
        page = data["approvedAnswers"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [m["id"] for m in reversed(made)]
    other = await make_agent(container, admin, answer_mode=AnswerMode.EXTRACTIVE)
    for_other = await gql.data(LIST, {"first": 10, "agentId": str(other.id)}, admin.token)
    # Another agent gets the answers for every agent only.
    assert {e["node"]["id"] for e in for_other["approvedAnswers"]["edges"]} == {
        made[0]["id"],
        made[2]["id"],
        made[4]["id"],
    }
