"""A multipart upload while the database is unreachable: who is asking cannot be
checked, so the answer is a typed 503 to try again, as for any other request, and
not a bare 500."""

from __future__ import annotations

import json

import httpx

from ezhr_graphql.container import Container
from tests.conftest import PeopleFactory
from tests.faults import DatabaseOutage

UPLOAD = json.dumps(
    {
        "query": "mutation ($c: ID!, $f: Upload!) "
        "{ uploadDocument(collectionId: $c, file: $f) { __typename } }",
        "variables": {"c": "00000000-0000-0000-0000-000000000000", "f": None},
    }
)


async def test_an_upload_during_a_database_outage_is_a_typed_503(
    client: httpx.AsyncClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    container.actors.forget(admin.id)  # checking the token needs the database
    with DatabaseOutage(container) as outage:
        outage.down()
        response = await client.post(
            "/graphql",
            data={"operations": UPLOAD, "map": '{"0": ["variables.f"]}'},
            files={"0": ("a.txt", b"text", "text/plain")},
            headers={"authorization": f"Bearer {admin.token}"},
        )
        assert outage.refused
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith("application/json")
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
