"""Embedding models and LLMs: admins write, every signed-in user reads."""

from __future__ import annotations

from typing import Any

from ezhr_graphql.container import Container
from tests.conftest import GraphQLClient, PeopleFactory
from tests.factories import make_agent

CREATE_EMBEDDING = """
mutation ($input: CreateEmbeddingModelInput!) {
  createEmbeddingModel(input: $input) {
    __typename
    ... on EmbeddingModel { id name provider modelName dimensions description }
    ... on UserError { code message }
    ... on InvalidInput { field }
    ... on Conflict { field }
  }
}"""
UPDATE_EMBEDDING = """
mutation ($id: ID!, $input: UpdateEmbeddingModelInput!) {
  updateEmbeddingModel(id: $id, input: $input) {
    __typename ... on EmbeddingModel { name dimensions } ... on UserError { code }
  }
}"""
DELETE_EMBEDDING = """
mutation ($id: ID!) {
  deleteEmbeddingModel(id: $id) { __typename ... on Deleted { id } ... on UserError { code } }
}"""
EMBEDDINGS = """
query ($first: Int, $after: String) {
  embeddingModels(first: $first, after: $after) {
    __typename
    ... on EmbeddingModelConnection { edges { node { name } } pageInfo { hasNextPage endCursor } }
    ... on InvalidInput { field }
  }
}"""
EMBEDDING = """
query ($id: ID!) {
  embeddingModel(id: $id) { __typename ... on EmbeddingModel { name } ... on UserError { code } }
}"""
CREATE_LLM = """
mutation ($input: CreateLlmModelInput!) {
  createLlmModel(input: $input) {
    __typename
    ... on LlmModel { id name provider baseUrl contextWindow hasSecret }
    ... on UserError { code }
    ... on InvalidInput { field }
  }
}"""
UPDATE_LLM = """
mutation ($id: ID!, $input: UpdateLlmModelInput!) {
  updateLlmModel(id: $id, input: $input) {
    __typename ... on LlmModel { name baseUrl hasSecret } ... on UserError { code }
  }
}"""
LLMS = "{ llmModels { ... on LlmModelConnection { edges { node { name } } } } }"
LLM = "query ($id: ID!) { llmModel(id: $id) { __typename ... on LlmModel { name } } }"
DELETE_LLM = """
mutation ($id: ID!) { deleteLlmModel(id: $id) { __typename ... on UserError { code } } }"""

EMBEDDING_INPUT: dict[str, Any] = {
    "name": "MiniLM",
    "provider": "local",
    "modelName": "all-MiniLM-L6-v2",
    "dimensions": 384,
}


async def test_embedding_model_lifecycle(gql: GraphQLClient, people: PeopleFactory) -> None:
    admin = await people.admin()
    member = await people.member()

    created = (await gql.data(CREATE_EMBEDDING, {"input": EMBEDDING_INPUT}, token=admin.token))[
        "createEmbeddingModel"
    ]
    assert created["__typename"] == "EmbeddingModel"
    assert created["dimensions"] == 384
    model_id = created["id"]

    # Members read the catalogue.
    got = await gql.data(EMBEDDING, {"id": model_id}, token=member.token)
    assert got["embeddingModel"] == {"__typename": "EmbeddingModel", "name": "MiniLM"}

    updated = await gql.data(
        UPDATE_EMBEDDING, {"id": model_id, "input": {"dimensions": 768}}, token=admin.token
    )
    assert updated["updateEmbeddingModel"] == {
        "__typename": "EmbeddingModel",
        "name": "MiniLM",
        "dimensions": 768,
    }

    deleted = await gql.data(DELETE_EMBEDDING, {"id": model_id}, token=admin.token)
    assert deleted["deleteEmbeddingModel"] == {"__typename": "Deleted", "id": model_id}

    # Soft-deleted rows never come back, through any query.
    gone = await gql.data(EMBEDDING, {"id": model_id}, token=admin.token)
    assert gone["embeddingModel"] == {"__typename": "NotFound", "code": "NOT_FOUND"}
    listed = await gql.data(EMBEDDINGS, token=admin.token)
    assert listed["embeddingModels"]["edges"] == []
    again = await gql.data(DELETE_EMBEDDING, {"id": model_id}, token=admin.token)
    assert again["deleteEmbeddingModel"]["__typename"] == "NotFound"

    # The name is free again once the old row is deleted.
    recreated = await gql.data(CREATE_EMBEDDING, {"input": EMBEDDING_INPUT}, token=admin.token)
    assert recreated["createEmbeddingModel"]["__typename"] == "EmbeddingModel"


async def test_members_cannot_change_the_catalogue(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    member = await people.member()
    body = await gql(CREATE_EMBEDDING, {"input": EMBEDDING_INPUT}, token=member.token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(CREATE_EMBEDDING, {"input": EMBEDDING_INPUT})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_embedding_model_input_errors(gql: GraphQLClient, people: PeopleFactory) -> None:
    admin = await people.admin()
    cases = [
        ({**EMBEDDING_INPUT, "name": "x" * 201}, "name"),
        ({**EMBEDDING_INPUT, "name": "   "}, "name"),
        ({**EMBEDDING_INPUT, "provider": "skynet"}, "provider"),
        ({**EMBEDDING_INPUT, "dimensions": 0}, "dimensions"),
        ({**EMBEDDING_INPUT, "modelName": "m" * 500}, "modelName"),
        ({**EMBEDDING_INPUT, "description": "d" * 2001}, "description"),
    ]
    for payload, field in cases:
        result = (await gql.data(CREATE_EMBEDDING, {"input": payload}, token=admin.token))[
            "createEmbeddingModel"
        ]
        assert result["__typename"] == "InvalidInput", payload
        assert result["field"] == field
    await gql.data(CREATE_EMBEDDING, {"input": EMBEDDING_INPUT}, token=admin.token)
    duplicate = (await gql.data(CREATE_EMBEDDING, {"input": EMBEDDING_INPUT}, token=admin.token))[
        "createEmbeddingModel"
    ]
    assert duplicate["__typename"] == "Conflict"
    assert duplicate["field"] == "name"
    bad_id = await gql.data(EMBEDDING, {"id": "not-a-uuid"}, token=admin.token)
    assert bad_id["embeddingModel"]["__typename"] == "InvalidInput"


async def test_llm_model_secret_reference_is_write_only(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    created = (
        await gql.data(
            CREATE_LLM,
            {
                "input": {
                    "name": "vLLM",
                    "provider": "openai_like",
                    "modelName": "qwen",
                    "baseUrl": "http://127.0.0.1:8000/v1",
                    "contextWindow": 8192,
                    "secretRef": "EZHR_VLLM_KEY",
                }
            },
            token=admin.token,
        )
    )["createLlmModel"]
    assert created["hasSecret"] is True
    assert "EZHR_VLLM_KEY" not in str(created)

    body = await gql(
        "{ llmModels { ... on LlmModelConnection { edges { node { secretRef } } } } }",
        token=admin.token,
    )
    assert "Cannot query field 'secretRef'" in body["errors"][0]["message"]

    cleared = await gql.data(
        UPDATE_LLM, {"id": created["id"], "input": {"secretRef": ""}}, token=admin.token
    )
    assert cleared["updateLlmModel"]["hasSecret"] is False
    bad_url = await gql.data(
        UPDATE_LLM, {"id": created["id"], "input": {"baseUrl": "ftp://x"}}, token=admin.token
    )
    assert bad_url["updateLlmModel"]["__typename"] == "InvalidInput"
    assert (await gql.data(LLMS, token=admin.token))["llmModels"]["edges"] == [
        {"node": {"name": "vLLM"}}
    ]
    assert (await gql.data(LLM, {"id": created["id"]}, token=admin.token))["llmModel"][
        "__typename"
    ] == "LlmModel"


async def test_models_in_use_by_an_agent_cannot_be_deleted(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    agent = await make_agent(container, admin)
    result = await gql.data(DELETE_LLM, {"id": str(agent.llm_model_id)}, token=admin.token)
    assert result["deleteLlmModel"] == {"__typename": "Conflict", "code": "CONFLICT"}
    result = await gql.data(
        DELETE_EMBEDDING, {"id": str(agent.embedding_model_id)}, token=admin.token
    )
    assert result["deleteEmbeddingModel"] == {"__typename": "Conflict", "code": "CONFLICT"}


async def test_catalogue_pages_follow_cursors(gql: GraphQLClient, people: PeopleFactory) -> None:
    admin = await people.admin()
    for i in range(5):
        await gql.data(
            CREATE_EMBEDDING, {"input": {**EMBEDDING_INPUT, "name": f"m{i}"}}, token=admin.token
        )
    first = (await gql.data(EMBEDDINGS, {"first": 2}, token=admin.token))["embeddingModels"]
    assert [e["node"]["name"] for e in first["edges"]] == ["m0", "m1"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await gql.data(
            EMBEDDINGS, {"first": 10, "after": first["pageInfo"]["endCursor"]}, token=admin.token
        )
    )["embeddingModels"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["m2", "m3", "m4"]
    assert rest["pageInfo"]["hasNextPage"] is False
    too_many = await gql.data(EMBEDDINGS, {"first": 1000}, token=admin.token)
    assert too_many["embeddingModels"] == {"__typename": "InvalidInput", "field": "first"}


async def test_base_urls_with_credentials_are_refused(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    result = await gql.data(
        CREATE_LLM,
        {
            "input": {
                "name": "leaky",
                "provider": "openai_like",
                "modelName": "m",
                "baseUrl": "https://user:sk-secret@llm.example.com/v1",
            }
        },
        token=admin.token,
    )
    assert result["createLlmModel"]["__typename"] == "InvalidInput"
    assert result["createLlmModel"]["field"] == "baseUrl"


def test_engines_keep_statement_parameters_out_of_errors_and_logs(container: Container) -> None:
    assert all(engine.sync_engine.hide_parameters for engine in container.db.engines)
