"""The committed schema.graphql is the live schema, and the schema documents itself."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    parse,
    validate,
)

from ezhr_graphql.api.graphql.schema import build_schema
from ezhr_graphql.cli import main


def test_committed_schema_matches_the_live_schema(repo_root: Path) -> None:
    committed = (repo_root / "schema.graphql").read_text(encoding="utf-8")
    assert committed == build_schema().as_str().rstrip() + "\n", (
        "schema.graphql is out of date: run `uv run ezhr-graphql schema export`"
    )


def test_schema_check_command_detects_drift(tmp_path: Path, repo_root: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { stale: String }\n", encoding="utf-8")
    assert main(["schema", "check", "--file", str(stale)]) == 1
    assert main(["schema", "export", "--output", str(stale)]) == 0
    assert main(["schema", "check", "--file", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == (repo_root / "schema.graphql").read_text(
        encoding="utf-8"
    )


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    schema = build_schema()._schema
    missing: list[str] = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not getattr(type_, "description", None):
            missing.append(name)
        if isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for field_name, field in type_.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
        if isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                if not value.description:
                    missing.append(f"{name}.{value_name}")
        if isinstance(type_, GraphQLUnionType) and not type_.types:
            missing.append(f"{name} (empty union)")
    assert missing == []


def test_no_output_field_exposes_secrets_or_password_hashes() -> None:
    schema = build_schema()._schema
    readable = {
        f"{name}.{field}".lower()
        for name, type_ in schema.type_map.items()
        if isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType))
        for field in type_.fields
    }
    assert "llmmodel.hassecret" in readable
    assert not [f for f in readable if "secretref" in f or "password" in f]


# What a client writes first to follow a reply: the stored message when it completes,
# why when it fails. Both ends are selected without aliases.
NATURAL_REPLY_QUERY = """
subscription ($id: ID!) {
  messageStream(messageId: $id) {
    ... on ReplyDelta { seq text }
    ... on ReplyCompleted { seq message { content status } }
    ... on ReplyFailed { seq code reason }
  }
}"""


def test_the_natural_reply_query_validates() -> None:
    schema = build_schema()._schema
    assert validate(schema, parse(NATURAL_REPLY_QUERY)) == []
    # The failure's code is a documented enum, not a free string.
    code = schema.get_type("ReplyFailed").fields["code"].type  # type: ignore[union-attr]
    assert isinstance(code.of_type, GraphQLEnumType)
    assert "INTERRUPTED" in code.of_type.values


def test_the_documented_operations_follow_replies_without_aliases(repo_root: Path) -> None:
    operations = (repo_root / "docs" / "operations.graphql").read_text(encoding="utf-8")
    assert operations.count("... on ReplyFailed { seq code reason }") >= 2
    assert "reason: message" not in operations
    assert validate(build_schema()._schema, parse(operations)) == []
