"""GraphQL over HTTP: every audit of graphql-http's ``serverAudits``, in Python.

Mirrors ``lib/audits/server.mjs`` of the npm package graphql-http 1.23.1 (61 audits,
MUST, SHOULD and MAY alike), so CI proves conformance without node. Each test or
parametrize id names the audit ids it covers. Requests are built as the audits build
them with ``fetch``: bodies are compact ``JSON.stringify`` output, and ``Accept: */*``
is sent unless an audit sets its own (httpx sends the same default as ``fetch``).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import httpx
import pytest

ENDPOINT = "/graphql"
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

TYPENAME = "{ __typename }"
NAMED_TYPENAME = "query Query { __typename }"
TYPE_BY_NAME = "query Type($name: String!) { __type(name: $name) { name } }"
UTF8_TYPE_BY_NAME = '{ __type(name: "Run🏃Swim🏊") { name } }'
MUTATION_TYPENAME = "mutation { __typename }"
UNPARSABLE = "{"
UNKNOWN_FIELD = "{ 8f31403dfe404bccbb0e835f2629c6a7 }"
COERCION_FAILURE = "query CoerceFailure($id: ID!){ __typename }"
MALFORMED_JSON = b'{ "not a JSON'

SOME_TYPE = {"name": "sometype"}

EXACTLY_400: Collection[int] = (400,)
CLIENT_ERROR: Collection[int] = range(400, 500)
CLIENT_OR_SERVER_ERROR: Collection[int] = range(400, 600)
SUCCESS_CLIENT_OR_SERVER_ERROR: Collection[int] = (*range(200, 300), *range(400, 600))


def encode(body: Any) -> bytes:
    """``JSON.stringify`` as the audits use it: compact, non-ASCII sent as UTF-8."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def post(
    client: httpx.AsyncClient,
    body: bytes | None,
    *,
    content_type: str | None = JSON,
    accept: str | None = None,
) -> httpx.Response:
    headers = {}
    if content_type is not None:
        headers["content-type"] = content_type
    if accept is not None:
        headers["accept"] = accept
    return await client.post(ENDPOINT, content=body, headers=headers)


async def get(
    client: httpx.AsyncClient, params: dict[str, str], *, accept: str | None = None
) -> httpx.Response:
    headers = {"accept": accept} if accept is not None else {}
    return await client.get(ENDPOINT, params=params, headers=headers)


def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def execution_result(response: httpx.Response) -> dict[str, Any]:
    """The body as the audits read it: strictly UTF-8 text holding a JSON object."""
    body = json.loads(response.content.decode("utf-8"))
    assert isinstance(body, dict), body
    return body


# --- Media types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(GRAPHQL_RESPONSE, GRAPHQL_RESPONSE, id="22EB-graphql-response+json"),
        pytest.param(JSON, JSON, id="4655-json"),
        pytest.param("*/*", JSON, id="47DE-any"),
    ],
)
async def test_the_response_media_type_follows_accept(
    client: httpx.AsyncClient, accept: str, expected: str
) -> None:
    # given a query that accepts `accept`
    body = encode({"query": TYPENAME})

    # when it is posted
    response = await post(client, body, accept=accept)

    # then it is answered in the matching media type
    assert response.status_code == 200, response.text
    assert expected in response.headers["content-type"]
    assert media_type(response) == expected
    assert execution_result(response) == {"data": {"__typename": "Query"}}


async def test_80D8_a_missing_accept_is_answered_with_application_json(
    client: httpx.AsyncClient,
) -> None:
    # given a query posted without any Accept header
    request = client.build_request(
        "POST", ENDPOINT, content=encode({"query": TYPENAME}), headers={"content-type": JSON}
    )
    del request.headers["accept"]
    assert "accept" not in request.headers

    # when it is sent
    response = await client.send(request)

    # then the response is application/json
    assert response.status_code == 200, response.text
    assert media_type(response) == JSON


async def test_82A3_the_response_is_utf8_encoded(client: httpx.AsyncClient) -> None:
    # given the audit's query, without an Accept header of its own
    body = encode({"query": TYPENAME})

    # when it is posted
    response = await post(client, body)

    # then the body decodes as strict UTF-8
    assert response.status_code == 200, response.text
    response.content.decode("utf-8")


async def test_82A3_non_ascii_text_in_the_response_is_utf8_encoded(
    client: httpx.AsyncClient,
) -> None:
    # given a request whose error message echoes non-ASCII input back
    body = encode({"query": TYPE_BY_NAME, "variables": {"name": ["Run🏃Swim🏊"]}})

    # when it is posted
    response = await post(client, body, accept=JSON)

    # then the body decodes as strict UTF-8 and the echoed text survives the round trip
    assert response.status_code == 200, response.text
    message = execution_result(response)["errors"][0]["message"]
    assert "Run🏃Swim🏊" in message


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_82A3_the_content_type_declares_the_utf8_encoding(
    client: httpx.AsyncClient, accept: str
) -> None:
    # The spec's Body section: the server MUST use UTF-8 and SHOULD indicate the encoding,
    # e.g. `application/graphql-response+json; charset=utf-8`.
    # given a query
    body = encode({"query": TYPENAME})

    # when it is posted
    response = await post(client, body, accept=accept)

    # then the content type names utf-8 as its charset
    assert response.status_code == 200, response.text
    assert media_type(response) == accept
    params = [p.strip().lower() for p in response.headers["content-type"].split(";")[1:]]
    assert "charset=utf-8" in params, response.headers["content-type"]


async def test_BF61_a_utf8_request_is_accepted(client: httpx.AsyncClient) -> None:
    # given a document with non-ASCII text, declared as utf-8
    body = encode({"query": UTF8_TYPE_BY_NAME})
    assert "Run🏃Swim🏊".encode() in body

    # when it is posted
    response = await post(client, body, content_type=f"{JSON}; charset=utf-8")

    # then it is executed: no type has that name
    assert response.status_code == 200, response.text
    assert execution_result(response) == {"data": {"__type": None}}


# --- Requests -------------------------------------------------------------------------


async def test_2C94_03D4_78D5_a_json_post_without_charset_is_executed(
    client: httpx.AsyncClient,
) -> None:
    # 2C94 MUST accept POST, 03D4 MUST accept application/json POST,
    # 78D5 MUST assume utf-8 when the encoding is unspecified: the same request.
    # given a query posted as application/json without a charset
    body = encode({"query": TYPENAME})

    # when it is posted
    response = await post(client, body, content_type=JSON)

    # then it is executed
    assert response.request.headers["content-type"] == JSON
    assert response.status_code == 200, response.text
    assert execution_result(response) == {"data": {"__typename": "Query"}}


async def test_5A70_a_query_is_executed_over_get(client: httpx.AsyncClient) -> None:
    # given a query in the URL's query string

    # when it is fetched
    response = await get(client, {"query": TYPENAME})

    # then it is executed
    assert response.status_code == 200, response.text
    assert execution_result(response) == {"data": {"__typename": "Query"}}


async def test_9C48_a_mutation_is_refused_over_get(client: httpx.AsyncClient) -> None:
    # given a mutation in the URL's query string

    # when it is fetched
    response = await get(client, {"query": MUTATION_TYPENAME}, accept=GRAPHQL_RESPONSE)

    # then it is refused with a 4xx; the spec asks for 405 and our server says POST works
    assert response.status_code in CLIENT_ERROR
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param(None, id="9ABE-no-content-type"),
        # what `fetch` itself sends for a string body when the audit sets no content type
        pytest.param("text/plain;charset=UTF-8", id="9ABE-fetch-default"),
    ],
)
async def test_9ABE_a_post_without_json_content_type_is_a_4xx(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    # given a JSON body posted without declaring application/json
    body = encode({"query": TYPENAME})

    # when it is posted
    response = await post(client, body, content_type=content_type)

    # then it is rejected as a client error
    assert response.request.headers.get("content-type") == content_type
    assert response.status_code in CLIENT_ERROR


async def test_A5BF_a_post_without_body_is_a_400(client: httpx.AsyncClient) -> None:
    # given an application/json POST with no body

    # when it is posted
    response = await post(client, None)

    # then it is a bad request
    assert response.request.content == b""
    assert response.status_code == 400


# --- Request parameters ---------------------------------------------------------------


async def test_423L_a_missing_query_is_a_400(client: httpx.AsyncClient) -> None:
    # given a body without a `query`
    body = encode({"notquery": TYPENAME})

    # when it is posted accepting application/graphql-response+json
    response = await post(client, body, accept=GRAPHQL_RESPONSE)

    # then it is a bad request
    assert response.status_code == 400


async def test_8764_3E3A_a_misspelt_query_parameter_is_a_400(client: httpx.AsyncClient) -> None:
    # given a body whose only parameter is a typo of `query`
    body = encode({"qeury": TYPENAME})

    # when it is posted
    response = await post(client, body)

    # then it is a 4xx/5xx (8764), precisely a 400 (3E3A)
    assert response.status_code in CLIENT_OR_SERVER_ERROR
    assert response.status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"query": {"obj": "ect"}}, id="LKJ0-object-query"),
        pytest.param({"query": 0}, id="LKJ1-number-query"),
        pytest.param({"query": False}, id="LKJ2-boolean-query"),
        pytest.param({"query": ["array"]}, id="LKJ3-array-query"),
        pytest.param({"operationName": {"obj": "ect"}, "query": TYPENAME}, id="6C00-object-opname"),
        pytest.param({"operationName": 0, "query": TYPENAME}, id="6C01-number-opname"),
        pytest.param({"operationName": False, "query": TYPENAME}, id="6C02-boolean-opname"),
        pytest.param({"operationName": ["array"], "query": TYPENAME}, id="6C03-array-opname"),
        pytest.param({"query": TYPENAME, "variables": "string"}, id="4760-string-variables"),
        pytest.param({"query": TYPENAME, "variables": 0}, id="4761-number-variables"),
        pytest.param({"query": TYPENAME, "variables": False}, id="4762-boolean-variables"),
        pytest.param({"query": TYPENAME, "variables": ["array"]}, id="4763-array-variables"),
        pytest.param({"query": TYPENAME, "extensions": "string"}, id="58B0-string-extensions"),
        pytest.param({"query": TYPENAME, "extensions": 0}, id="58B1-number-extensions"),
        pytest.param({"query": TYPENAME, "extensions": False}, id="58B2-boolean-extensions"),
        pytest.param({"query": TYPENAME, "extensions": ["array"]}, id="58B3-array-extensions"),
    ],
)
async def test_a_parameter_of_the_wrong_type_is_a_400(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    # given a body with one parameter of the wrong JSON type
    body = encode(params)

    # when it is posted
    response = await post(client, body)

    # then it is a bad request
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("params", "accept", "audit_checks_no_errors"),
    [
        pytest.param({"query": TYPENAME}, GRAPHQL_RESPONSE, False, id="34A2-string-query"),
        pytest.param({"query": TYPENAME}, JSON, True, id="13EE-string-query"),
        pytest.param(
            {"operationName": "Query", "query": NAMED_TYPENAME},
            GRAPHQL_RESPONSE,
            False,
            id="8161-string-opname",
        ),
        pytest.param(
            {"operationName": "Query", "query": NAMED_TYPENAME},
            JSON,
            True,
            id="B8B3-string-opname",
        ),
        pytest.param(
            {"query": TYPENAME, "variables": None}, GRAPHQL_RESPONSE, True, id="94B0-null-variables"
        ),
        pytest.param({"query": TYPENAME, "variables": None}, JSON, True, id="0220-null-variables"),
        pytest.param(
            {"query": TYPENAME, "operationName": None},
            GRAPHQL_RESPONSE,
            True,
            id="94B1-null-opname",
        ),
        pytest.param({"query": TYPENAME, "operationName": None}, JSON, True, id="0221-null-opname"),
        pytest.param(
            {"query": TYPENAME, "extensions": None},
            GRAPHQL_RESPONSE,
            True,
            id="94B2-null-extensions",
        ),
        pytest.param(
            {"query": TYPENAME, "extensions": None}, JSON, True, id="0222-null-extensions"
        ),
        pytest.param(
            {"query": TYPE_BY_NAME, "variables": SOME_TYPE},
            GRAPHQL_RESPONSE,
            False,
            id="2EA1-map-variables",
        ),
        pytest.param(
            {"query": TYPE_BY_NAME, "variables": SOME_TYPE}, JSON, True, id="28B9-map-variables"
        ),
        pytest.param(
            {"query": TYPENAME, "extensions": {"some": "value"}},
            GRAPHQL_RESPONSE,
            False,
            id="428F-map-extensions",
        ),
        pytest.param(
            {"query": TYPENAME, "extensions": {"some": "value"}},
            JSON,
            True,
            id="1B7A-map-extensions",
        ),
    ],
)
async def test_well_typed_parameters_are_executed(
    client: httpx.AsyncClient, params: dict[str, Any], accept: str, audit_checks_no_errors: bool
) -> None:
    # given a body whose parameters have the spec's types (or null)
    body = encode(params)

    # when it is posted
    response = await post(client, body, accept=accept)

    # then it is executed, without errors where the audit checks for them
    assert response.status_code == 200, response.text
    result = execution_result(response)
    if audit_checks_no_errors:
        assert "errors" not in result, result


@pytest.mark.parametrize(
    "accept",
    [
        pytest.param(GRAPHQL_RESPONSE, id="D6D5-graphql-response+json"),
        pytest.param(JSON, id="6A70-json"),
    ],
)
async def test_url_encoded_json_variables_are_accepted_over_get(
    client: httpx.AsyncClient, accept: str
) -> None:
    # given a query whose variables are a JSON string in the URL
    params = {"query": TYPE_BY_NAME, "variables": json.dumps(SOME_TYPE, separators=(",", ":"))}

    # when it is fetched
    response = await get(client, params, accept=accept)

    # then it is executed without errors
    assert response.status_code == 200, response.text
    assert execution_result(response) == {"data": {"__type": None}}


@pytest.mark.parametrize(
    ("accept", "allowed"),
    [
        pytest.param(JSON, SUCCESS_CLIENT_OR_SERVER_ERROR, id="B6DC-json-2xx-4xx-5xx"),
        pytest.param(JSON, EXACTLY_400, id="BCF8-json-400"),
        pytest.param(GRAPHQL_RESPONSE, EXACTLY_400, id="B7N8-graphql-response+json-400"),
    ],
)
async def test_a_body_that_is_not_json_is_rejected(
    client: httpx.AsyncClient, accept: str, allowed: Collection[int]
) -> None:
    # given an application/json body that is not JSON
    body = MALFORMED_JSON

    # when it is posted
    response = await post(client, body, accept=accept)

    # then the status is one the audit allows
    assert response.status_code in allowed, response.text


# --- Responses in application/json ----------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"query": UNPARSABLE}, id="572B-parse-failure"),
        pytest.param({"query": UNKNOWN_FIELD}, id="FDE2-validation-failure"),
        pytest.param(
            {"query": COERCION_FAILURE, "variables": {"id": None}}, id="7B9B-coercion-failure"
        ),
    ],
)
async def test_request_errors_are_a_200_in_application_json(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    # given a well-formed request whose document cannot be executed
    body = encode(params)

    # when it is posted accepting application/json
    response = await post(client, body, accept=JSON)

    # then it is a 200 that carries the request error
    assert response.status_code == 200, response.text
    assert execution_result(response)["errors"]


# --- Responses in application/graphql-response+json -----------------------------------


@pytest.mark.parametrize(
    ("params", "allowed"),
    [
        pytest.param({"query": UNPARSABLE}, CLIENT_OR_SERVER_ERROR, id="865D-parse-4xx-5xx"),
        pytest.param({"query": UNPARSABLE}, EXACTLY_400, id="556A-parse-400"),
        pytest.param(
            {"query": UNKNOWN_FIELD}, CLIENT_OR_SERVER_ERROR, id="51FE-validation-4xx-5xx"
        ),
        pytest.param({"query": UNKNOWN_FIELD}, EXACTLY_400, id="74FF-validation-400"),
        pytest.param(
            {"query": COERCION_FAILURE, "variables": {"id": None}},
            EXACTLY_400,
            id="86EE-coercion-400",
        ),
    ],
)
async def test_request_errors_are_an_error_status_in_graphql_response_json(
    client: httpx.AsyncClient, params: dict[str, Any], allowed: Collection[int]
) -> None:
    # given a well-formed request whose document cannot be executed
    body = encode(params)

    # when it is posted accepting application/graphql-response+json
    response = await post(client, body, accept=GRAPHQL_RESPONSE)

    # then the status is one the audit allows
    assert response.status_code in allowed, response.text
    assert media_type(response) == GRAPHQL_RESPONSE


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(UNPARSABLE, id="D586-parse-failure"),
        pytest.param(UNKNOWN_FIELD, id="5E5B-validation-failure"),
    ],
)
async def test_request_errors_have_no_data_entry_in_graphql_response_json(
    client: httpx.AsyncClient, query: str
) -> None:
    # given a document that does not parse or does not validate
    body = encode({"query": query})

    # when it is posted accepting application/graphql-response+json
    response = await post(client, body, accept=GRAPHQL_RESPONSE)

    # then the body has errors and no `data` entry at all (not even null)
    result = execution_result(response)
    assert "data" not in result, result
    assert result["errors"]


# --- Beyond the audits: the spec's rules for choosing the operation and the encoding.

TWO_OPERATIONS = "query A { a: __typename } query B { b: __typename }"


@pytest.mark.parametrize(("accept", "status"), [(JSON, 200), (GRAPHQL_RESPONSE, 400)])
async def test_several_operations_without_a_name_is_a_request_error(
    client: httpx.AsyncClient, accept: str, status: int
) -> None:
    # given a document with two operations and no operationName
    response = await post(client, encode({"query": TWO_OPERATIONS}), accept=accept)
    # then no operation runs and the error says why
    assert response.status_code == status
    body = response.json()
    assert "data" not in body
    assert "operation name" in body["errors"][0]["message"]
    # and naming one runs exactly that one
    named = await post(
        client, encode({"query": TWO_OPERATIONS, "operationName": "B"}), accept=accept
    )
    assert named.json() == {"data": {"b": "Query"}}


@pytest.mark.parametrize(("accept", "status"), [(JSON, 200), (GRAPHQL_RESPONSE, 400)])
async def test_an_unknown_operation_name_is_a_request_error(
    client: httpx.AsyncClient, accept: str, status: int
) -> None:
    body = encode({"query": TYPENAME, "operationName": "Nope"})
    response = await post(client, body, accept=accept)
    assert response.status_code == status
    assert "data" not in response.json()


async def test_an_empty_operation_name_on_get_means_no_name(client: httpx.AsyncClient) -> None:
    response = await client.get(ENDPOINT, params={"query": TYPENAME, "operationName": ""})
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_non_utf8_charset_is_refused(client: httpx.AsyncClient) -> None:
    body = encode({"query": TYPENAME})
    response = await post(client, body, content_type=f"{JSON}; charset=latin-1")
    assert response.status_code == 415


async def test_a_nan_quality_does_not_make_a_media_type_acceptable(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, encode({"query": TYPENAME}), accept=f"{JSON};q=nan")
    assert response.status_code == 406
