"""Tokens signed with the right key whose time claims are out of any range (huge,
negative, fractional, strings, NaN) are refused like any other invalid token."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from ezhr_graphql.models import Role
from ezhr_graphql.services.security import InvalidTokenError, TokenIssuer, key_id
from tests.conftest import TEST_SECRET, GraphQLClient, PeopleFactory

NOW = int(datetime.now(UTC).timestamp())
HOUR = int(timedelta(hours=1).total_seconds())
# Claims that overflow datetime, are no JSON numbers PyJWT checks as such, or are not
# finite: each with a valid signature.
BAD_CLAIMS: list[dict[str, Any]] = [
    {"exp": 10**18},
    {"exp": 2**70},
    {"exp": 1e300},
    {"exp": float("inf")},
    {"exp": float("nan")},
    {"exp": str(NOW + HOUR)},
    {"exp": str(10**18)},
    {"exp": True},
    {"exp": None},
    {"exp": [NOW + HOUR]},
    {"iat": -(10**18)},
    {"iat": float("-inf")},
    {"iat": "0"},
    {"nbf": -(10**18)},
    {"nbf": float("nan")},
    {"nbf": str(NOW)},
    {"iat": NOW + 10 * HOUR},
]


def crafted(user_id: uuid.UUID, kid: bool = True, **claims: Any) -> str:
    payload = {
        "sub": str(user_id),
        "role": "MEMBER",
        "iss": "ezhr-graphql",
        "iat": NOW,
        "exp": NOW + HOUR,
        **claims,
    }
    headers = {"kid": key_id(TEST_SECRET)} if kid else None
    # PyJWT writes NaN and Infinity as such (Python's json), and reads them back.
    return jwt.encode(payload, TEST_SECRET, algorithm="HS256", headers=headers)


def issuer() -> TokenIssuer:
    return TokenIssuer(TEST_SECRET, algorithm="HS256", ttl_seconds=3600, issuer="ezhr-graphql")


@pytest.mark.parametrize("claims", BAD_CLAIMS, ids=repr)
def test_out_of_range_time_claims_are_invalid_tokens(claims: dict[str, Any]) -> None:
    user = uuid.uuid4()
    for kid in (True, False):
        with pytest.raises(InvalidTokenError):
            issuer().verify(crafted(user, kid=kid, **claims))


def test_fractional_and_far_but_representable_claims_still_verify() -> None:
    user = uuid.uuid4()
    for claims in ({"exp": NOW + HOUR + 0.5}, {"iat": NOW - 0.25, "nbf": NOW - 1.5}):
        assert issuer().verify(crafted(user, **claims)).user_id == user
    token, _ = issuer().issue(user, Role.ADMIN)
    assert issuer().verify(token).role is Role.ADMIN


async def test_a_huge_exp_over_http_is_unauthenticated_not_a_500(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    member = await people.member()
    forged = await gql("{ viewer { email } }", token="garbage")
    for claims in BAD_CLAIMS:
        token = crafted(member.id, **claims)
        response = await gql.raw("{ agents { __typename } }", token=token)
        assert response.status_code == 200, (claims, response.text)
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", claims
        assert body["errors"][0]["message"] == "Invalid or expired token"
        # Fields anyone may ask for answer as they do for any bad token.
        assert await gql("{ viewer { email } }", token=token) == forged


async def test_a_huge_exp_over_a_websocket_is_refused(live_url: str, people: PeopleFactory) -> None:
    member = await people.member()
    for claims in ({"exp": 10**18}, {"exp": 1e300}, {"exp": str(10**18)}, {"nbf": "0"}):
        token = crafted(member.id, **claims)
        async with websockets.connect(live_url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None, claims
        assert closed.value.rcvd.code == 4403, claims
