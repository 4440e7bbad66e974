"""Administrators deactivate and reactivate users: a deactivated user's tokens stop
working at once, their open subscriptions end, and they cannot sign in; reactivated,
they sign in again, while the tokens they had stay revoked."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from ezhr_graphql.container import Container
from ezhr_graphql.models import Role
from ezhr_graphql.pubsub import BrokerUnavailable, MemoryBroker
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.actor_cache import ActorCache
from ezhr_graphql.services.replies.updates import TitleChanged
from ezhr_graphql.services.user_changes import UserChanges
from tests.conftest import GraphQLClient, PeopleFactory, Person
from tests.wsclient import LEGACY_WS, TRANSPORT_WS

PASSWORD = "correct horse battery"
PROTECTED = "{ agents { __typename } }"
USER_FIELDS = "__typename ... on User { id active deactivatedAt } ... on UserError { code message }"
DEACTIVATE = f"mutation ($id: ID!) {{ deactivateUser(userId: $id) {{ {USER_FIELDS} }} }}"
REACTIVATE = f"mutation ($id: ID!) {{ reactivateUser(userId: $id) {{ {USER_FIELDS} }} }}"
LOGIN = """
mutation ($e: String!, $p: String!) {
  login(email: $e, password: $p) {
    __typename ... on AuthPayload { token } ... on UserError { code message }
  }
}"""
USERS = "{ users { ... on UserConnection { edges { node { id active deactivatedAt } } } } }"
UPDATES = "subscription { sessionUpdates { __typename } }"


async def until_closed(ws: Any) -> None:
    while True:  # whatever was on its way (keep-alives...), then the close
        await asyncio.wait_for(ws.recv(), 10)


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_a_deactivated_users_tokens_stop_working_at_once(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin, member = await people.admin(), await people.member()
    # Given the member's token works (and their user is cached)
    assert "errors" not in await gql(PROTECTED, token=member.token)
    # When an administrator deactivates them
    done = (await gql.data(DEACTIVATE, {"id": str(member.id)}, admin.token))["deactivateUser"]
    assert done["active"] is False
    assert done["deactivatedAt"] is not None
    # Then their very next request is refused, and they cannot sign in
    refused = await gql(PROTECTED, token=member.token)
    assert code(refused) == "UNAUTHENTICATED"
    assert refused["errors"][0]["message"] == "This account is deactivated"
    login = (await gql.data(LOGIN, {"e": member.email, "p": PASSWORD}))["login"]
    assert login == {
        "__typename": "PermissionDenied",
        "code": "PERMISSION_DENIED",
        "message": "This account is deactivated; ask an administrator",
    }
    wrong = (await gql.data(LOGIN, {"e": member.email, "p": "not the password"}))["login"]
    assert wrong["__typename"] == "InvalidCredentials"  # says nothing of the account
    listed = (await gql.data(USERS, token=admin.token))["users"]["edges"]
    assert {e["node"]["id"]: e["node"]["active"] for e in listed} == {
        str(admin.id): True,
        str(member.id): False,
    }


async def test_a_reactivated_user_signs_in_again_but_old_tokens_stay_revoked(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin, member = await people.admin(), await people.member()
    await gql.data(DEACTIVATE, {"id": str(member.id)}, admin.token)
    # Deactivating again changes nothing
    twice = (await gql.data(DEACTIVATE, {"id": str(member.id)}, admin.token))["deactivateUser"]
    assert twice["active"] is False
    back = (await gql.data(REACTIVATE, {"id": str(member.id)}, admin.token))["reactivateUser"]
    assert back == {
        "__typename": "User",
        "id": str(member.id),
        "active": True,
        "deactivatedAt": None,
    }
    revoked = await gql(PROTECTED, token=member.token)
    assert code(revoked) == "UNAUTHENTICATED"
    assert revoked["errors"][0]["message"] == "This token was revoked; sign in again"
    login = (await gql.data(LOGIN, {"e": member.email, "p": PASSWORD}))["login"]
    assert login["__typename"] == "AuthPayload"
    assert "errors" not in await gql(PROTECTED, token=login["token"])
    # Reactivating an active user changes nothing either: the new token still works
    await gql.data(REACTIVATE, {"id": str(member.id)}, admin.token)
    assert "errors" not in await gql(PROTECTED, token=login["token"])


async def test_who_may_deactivate_whom(gql: GraphQLClient, people: PeopleFactory) -> None:
    admin, member, other = await people.admin(), await people.member(), await people.member()
    for document in (DEACTIVATE, REACTIVATE):
        assert code(await gql(document, {"id": str(other.id)})) == "UNAUTHENTICATED"
        assert code(await gql(document, {"id": str(other.id)}, member.token)) == "FORBIDDEN"
        own = (await gql.data(document, {"id": str(admin.id)}, admin.token)).popitem()[1]
        assert own["__typename"] == "PermissionDenied"
        unknown = (await gql.data(document, {"id": str(uuid.uuid4())}, admin.token)).popitem()[1]
        assert unknown["__typename"] == "NotFound"
        malformed = (await gql.data(document, {"id": "not-an-id"}, admin.token)).popitem()[1]
        assert malformed["__typename"] == "InvalidInput"
    # None of that touched the others
    assert "errors" not in await gql(PROTECTED, token=other.token)
    assert "errors" not in await gql(PROTECTED, token=admin.token)


async def _subscribed(url: str, person: Person, container: Container, protocol: str) -> Any:
    """A websocket of ``person`` with a live sessionUpdates subscription."""
    ws = await websockets.connect(url, subprotocols=[protocol])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"token": person.token}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
    start = "subscribe" if protocol == TRANSPORT_WS else "start"
    await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": UPDATES}}))
    while True:  # until the subscription hears its own channel
        await container.session_updates.publish(person.id, TitleChanged(uuid.uuid4(), "Leave"))
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
        except TimeoutError:
            continue
        if message["type"] in ("next", "data"):
            return ws


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_an_open_subscription_of_a_deactivated_user_is_ended(
    protocol: str,
    live_url: str,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
) -> None:
    admin, member, other = await people.admin(), await people.member(), await people.member()
    ws = await _subscribed(live_url, member, container, protocol)
    bystander = await _subscribed(live_url, other, container, protocol)
    try:
        await gql.data(DEACTIVATE, {"id": str(member.id)}, admin.token)
        with pytest.raises(ConnectionClosed) as closed:
            await until_closed(ws)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            4403,
            "This account is deactivated",
        )
        # Another user's subscription goes on
        await container.session_updates.publish(other.id, TitleChanged(uuid.uuid4(), "Pay"))
        message = {"type": "ping"}
        while message["type"] in ("ping", "ka"):  # keep-alives, then the update
            message = json.loads(await asyncio.wait_for(bystander.recv(), 10))
        assert message["type"] in ("next", "data"), message
    finally:
        await ws.close()
        await bystander.close()


class DownBroker(MemoryBroker):
    """A broker that cannot be reached to publish (Redis down)."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        raise BrokerUnavailable("connection refused")


async def test_a_change_the_broker_cannot_carry_still_applies_in_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actors = ActorCache(ttl=3600)
    changes = UserChanges(DownBroker(), actors)
    heard: list[uuid.UUID] = []

    async def listener(user_id: uuid.UUID) -> None:
        heard.append(user_id)

    changes.listen(listener)
    user_id, loads = uuid.uuid4(), []

    async def load(id: uuid.UUID) -> Actor:
        loads.append(id)
        return Actor(id=id, role=Role.MEMBER, email="m@example.com")

    await actors.get(user_id, load)
    await changes.announce(user_id)
    # This process forgot the user and told its listeners (its websockets)...
    assert heard == [user_id]
    await actors.get(user_id, load)
    assert loads == [user_id, user_id]
    # ...and says the others learn it when their caches expire.
    assert "other workers catch up" in caplog.text
