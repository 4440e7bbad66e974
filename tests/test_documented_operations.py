"""Every operation in docs/operations.graphql, run as a single-page app would: log in,
list, ask, stream, stop, regenerate, rate, upload and watch the ingestion."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
from graphql import OperationDefinitionNode, parse, print_ast

from ezhr_graphql.container import Container
from ezhr_graphql.db import utcnow
from ezhr_graphql.repositories.sign_in_code import SignInCodeRepository
from tests.conftest import ROOT, GraphQLClient, PeopleFactory
from tests.factories import make_agent
from tests.knowledge import HANDBOOK, make_collection
from tests.wsclient import connect

DOCUMENT = (ROOT / "docs" / "operations.graphql").read_text()


def operations() -> dict[str, str]:
    found = {}
    for definition in parse(DOCUMENT).definitions:
        assert isinstance(definition, OperationDefinitionNode)
        assert definition.name is not None, "every documented operation has a name"
        found[definition.name.value] = print_ast(definition)
    return found


OPS = operations()


async def run(gql: GraphQLClient, name: str, token: str | None, **variables: Any) -> Any:
    data = await gql.data(OPS[name], variables, token)
    return next(iter(data.values()))


async def stream(url: str, token: str, name: str, **variables: Any) -> list[dict[str, Any]]:
    async with connect(url, token) as ws:
        return [next(iter(d.values())) async for d in ws.subscribe(OPS[name], variables, wait=60)]


async def test_the_documented_operations_work_end_to_end(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    live_url: str,
) -> None:
    assert set(OPS) == {
        "SignInOptions", "RedeemSignInCode", "LogIn", "Agents", "StartSession", "Sessions",
        "Ask", "FollowReply", "AskAndStream", "Stop", "Regenerate", "Rate", "Upload",
        "WatchIngestion", "ExportMyData", "EraseMyData",
    }  # fmt: skip
    admin = await people.admin()
    await make_agent(container, admin, name="Slow helper", llm="scripted?tokens=400&delay_ms=20")
    await make_agent(container, admin, name="Quick helper", llm="scripted?tokens=8")
    await gql.data(
        "mutation ($i: RegisterInput!) { register(input: $i) { __typename } }",
        {"i": {"email": "spa@example.com", "password": "spa-password-1"}},
    )
    options = await run(gql, "SignInOptions", None)
    assert options == {"localAccounts": True, "singleSignOnUrl": None}
    login = await run(gql, "LogIn", None, email="spa@example.com", password="spa-password-1")
    assert login["__typename"] == "AuthPayload"
    token = login["token"]
    # The code single sign-on would leave in the app's URL (tests/test_oidc_flow.py
    # goes through a real provider), redeemed for the same user.
    code = "one-time-code-of-a-single-sign-on"
    async with container.db.transaction() as session:
        codes = SignInCodeRepository.from_session(session)
        codes.issue(uuid.UUID(login["user"]["id"]), code, utcnow() + timedelta(minutes=1))
    redeemed = await run(gql, "RedeemSignInCode", None, code=code)
    assert redeemed["__typename"] == "AuthPayload"
    assert redeemed["user"] == login["user"]

    agents = {
        e["node"]["name"]: e["node"]["id"] for e in (await run(gql, "Agents", token))["edges"]
    }
    quick = await run(gql, "StartSession", token, agentId=agents["Quick helper"])
    slow = await run(gql, "StartSession", token, agentId=agents["Slow helper"])
    listed = await run(gql, "Sessions", token)
    assert {e["node"]["id"] for e in listed["edges"]} == {quick["id"], slow["id"]}

    # Ask, then follow the reply to its end.
    asked = await run(
        gql, "Ask", token, sessionId=quick["id"], content="How much leave?",
        clientMessageId=str(uuid.uuid4()),
    )  # fmt: skip
    reply_id = asked["assistantMessage"]["id"]
    events = await stream(live_url, token, "FollowReply", messageId=reply_id)
    assert events[-1]["__typename"] == "ReplyCompleted"
    # Resuming after seq 2 replays the rest only (deltas waiting together arrive as one).
    resumed = await stream(live_url, token, "FollowReply", messageId=reply_id, afterSeq=2)
    assert all(e["seq"] > 2 for e in resumed)
    assert resumed[-1] == events[-1]

    # Ask and stream in one operation; then regenerate and rate.
    chat = await stream(
        live_url, token, "AskAndStream", sessionId=quick["id"], content="And sick leave?",
        clientMessageId=str(uuid.uuid4()),
    )  # fmt: skip
    assert chat[0]["__typename"] == "ReplyStarted"
    assert chat[-1]["__typename"] == "ReplyCompleted"
    again = await run(gql, "Regenerate", token, messageId=chat[0]["messageId"])
    assert again["__typename"] == "SentMessage"
    rated = await run(gql, "Rate", token, messageId=chat[0]["messageId"], rating="UP")
    assert rated == {"__typename": "Feedback", "rating": "UP", "comment": None}

    # A long reply, stopped.
    long = await run(
        gql, "Ask", token, sessionId=slow["id"], content="Tell me everything",
        clientMessageId=str(uuid.uuid4()),
    )  # fmt: skip
    stopped = await run(gql, "Stop", token, messageId=long["assistantMessage"]["id"])
    assert stopped["__typename"] == "ChatMessage"
    tail = await stream(live_url, token, "FollowReply", messageId=long["assistantMessage"]["id"])
    assert tail[-1]["__typename"] == "ReplyCompleted"
    assert tail[-1]["message"]["status"] == "CANCELLED"

    # An administrator uploads a document and watches it being indexed.
    ids = await make_collection(gql, admin.token)
    path = HANDBOOK / "travel-and-leave" / "overtime.md"
    response = await client.post(
        "/graphql",
        data={
            "operations": json.dumps(
                {
                    "query": OPS["Upload"],
                    "variables": {"collectionId": ids["collection"], "file": None},
                }
            ),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": ("overtime.md", path.read_bytes(), "text/markdown")},
        headers={"authorization": f"Bearer {admin.token}"},
    )
    uploaded = response.json()["data"]["uploadDocument"]
    assert uploaded["__typename"] == "UploadedDocument"
    progress = await stream(
        live_url, admin.token, "WatchIngestion", documentId=uploaded["document"]["id"]
    )
    assert progress[-1]["status"] == "READY"

    # The member downloads what the assistant holds about them, then erases it.
    exported = await run(gql, "ExportMyData", token)
    assert exported["__typename"] == "DataExport"
    held = json.loads(exported["json"])
    assert "How much leave?" in json.dumps(held)
    erased = await run(gql, "EraseMyData", token, confirm="spa@example.com")
    assert erased["__typename"] == "ErasedUser"
    assert erased["sessions"] == 2
    gone = await gql(OPS["Sessions"], {}, token)
    assert gone["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
