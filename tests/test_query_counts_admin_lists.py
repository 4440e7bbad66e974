"""The administrators' new lists cost the same statements whatever their page size:
the audit log, approved answers (with their audiences) and insights."""

from __future__ import annotations

from typing import Any

from ezhr_graphql.container import Container
from ezhr_graphql.models import AuditAction
from ezhr_graphql.services.audit import AuditLog
from tests.conftest import GraphQLClient, PeopleFactory, StatementCounter

AUDIT = """
query ($first: Int!) {
  auditLog(first: $first) {
    ... on AuditEventConnection {
      edges { cursor node { id at actorId action targetType targetId address details { name } } }
      pageInfo { endCursor }
    }
  }
}"""
APPROVED = """
query ($first: Int!) {
  approvedAnswers(first: $first) {
    ... on ApprovedAnswerConnection {
      edges { node { id questions answer hitCount audience { countries groups everyone } } }
    }
  }
}"""
CREATE = """
mutation ($input: ApprovedAnswerInput!) { createApprovedAnswer(input: $input) { __typename } }
"""


async def _count(
    gql: GraphQLClient, counter: StatementCounter, query: str, first: int, token: str
) -> tuple[int, int]:
    counter.count = 0
    data: dict[str, Any] = await gql.data(query, {"first": first}, token=token)
    edges = next(iter(data.values()))["edges"]
    return counter.count, len(edges)


async def test_audit_log_and_approved_answers_cost_the_same_whatever_the_page_size(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    count_statements: StatementCounter,
) -> None:
    admin = await people.admin()
    async with container.db.transaction() as session:
        log = AuditLog(session, "192.0.2.1")
        for _ in range(40):
            log.record(admin.id, AuditAction.AGENT_CHANGED, ("Agent", admin.id), {"n": 1})
    for i in range(25):
        audience = {"countries": ["VN"], "groups": [f"g{i}"]} if i % 2 else None
        made = await gql.data(
            CREATE,
            {
                "input": {
                    "questions": [f"Where is office number {i}?"],
                    "answer": "There.",
                    "audience": audience,
                }
            },
            admin.token,
        )
        assert made["createApprovedAnswer"]["__typename"] == "ApprovedAnswer", made
    await gql.data("{ viewer { email } }", token=admin.token)  # the user cache warm

    counts = {}
    for name, query in (("audit", AUDIT), ("approved", APPROVED)):
        for first in (3, 20):
            n, edges = await _count(gql, count_statements, query, first, admin.token)
            assert edges == first
            counts[name, first] = n

    # The audit log: the page. Approved answers: the page, then their audiences.
    assert counts == {
        ("audit", 3): 1,
        ("audit", 20): 1,
        ("approved", 3): 2,
        ("approved", 20): 2,
    }, count_statements.statements
