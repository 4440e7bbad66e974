"""Limits a document meets before it runs, each refused with its own ``extensions.code``.

- ``QUERY_TOO_LARGE``: more characters than ``max_query_length``, refused before it
  is parsed or cached (the parser cache keeps each document whole, and comments or
  long strings fit in few tokens); or more lexical tokens (or comments) than
  ``max_tokens``: the parser stops at the first token over the limit, so a huge
  document costs no more than a document at the limit.
- ``QUERY_TOO_DEEP`` and ``TOO_MANY_ALIASES``: validation rules measuring each
  operation, in time linear in the document.
- ``QUERY_TOO_COMPLEX``: see :mod:`ezhr_graphql.api.guards.cost`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache, lru_cache, partial
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    parse,
)
from strawberry.extensions import SchemaExtension

from ezhr_graphql.settings import GraphQLSettings

QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"

Parse = Callable[[str], DocumentNode]


def _over_limit(error: GraphQLSyntaxError) -> bool:
    # graphql-core reports its parser limits as syntax errors; only the wording
    # ("Document contains more than 3000 tokens.") tells them from typos.
    return "contains more than" in error.message


def _limited_parse(raw: Parse, max_length: int, query: str) -> DocumentNode:
    if len(query) > max_length:
        # Before the cache: a refused document is neither parsed nor kept.
        raise GraphQLError(
            f"Document contains more than {max_length} characters.",
            extensions={"code": QUERY_TOO_LARGE},
        )
    try:
        return raw(query)
    except GraphQLSyntaxError as exc:
        if not _over_limit(exc):
            raise
        raise GraphQLError(
            exc.message.removeprefix("Syntax Error: "),
            source=exc.source,
            positions=exc.positions,
            extensions={"code": QUERY_TOO_LARGE},
        ) from None


def document_parser(settings: GraphQLSettings) -> Parse:
    """The parser every request of a process shares, HTTP's operation check and the
    executor alike, so a document is parsed once and its AST served from the cache.

    Raises (from the returned function):
        GraphQLError: ``QUERY_TOO_LARGE`` over the limits, or a syntax error.
    """
    return _document_parser(
        settings.max_tokens, settings.parser_cache_size, settings.max_query_length
    )


@cache
def _document_parser(max_tokens: int, cache_size: int, max_length: int) -> Parse:
    """One parser per set of limits.

    Comments are limited apart from tokens (to the same number): the lexer keeps them,
    so unlimited they would be a way around the token limit.

    Raises (from the returned function):
        GraphQLError: ``QUERY_TOO_LARGE`` over the limits, or a syntax error.
    """
    raw = lru_cache(maxsize=cache_size)(
        partial(parse, max_lexical_tokens=max_tokens, max_comments=max_tokens)
    )
    return partial(_limited_parse, raw, max_length)


class LimitedParser(SchemaExtension):
    """Strawberry's ``ParserCache`` with the token limit: parses through
    :func:`document_parser`."""

    def __init__(self, parse_document: Parse) -> None:
        super().__init__()
        self.parse_document = parse_document

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query
        if query:  # otherwise Strawberry reports the missing query itself
            self.execution_context.graphql_document = self.parse_document(query)
        yield


class _Measure:
    """Depth and alias count of a document's operations, each fragment measured once.

    Strawberry's own limiters walk a fragment again wherever it is spread, so a few
    hundred tokens of fragments that each spread the next one twice take minutes to
    validate; memoizing per fragment makes it linear in the document.
    """

    def __init__(self, context: ValidationContext) -> None:
        self.context = context
        self.depths: dict[str, int] = {}
        self.aliases: dict[str, int] = {}

    def depth(self, selection_set: SelectionSetNode) -> int:
        """Fields nested within fields; introspection (``__schema``...) is free."""
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set and not selection.name.value.startswith("__"):
                    deepest = max(deepest, 1 + self.depth(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._fragment(selection, self.depths, self.depth))
        return deepest

    def alias_count(self, selection_set: SelectionSetNode) -> int:
        """Aliased fields, a fragment's counted as often as it is spread."""
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += selection.alias is not None
                if selection.selection_set:
                    count += self.alias_count(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.alias_count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment(selection, self.aliases, self.alias_count)
        return count

    def _fragment(
        self,
        spread: FragmentSpreadNode,
        memo: dict[str, int],
        measure: Callable[[SelectionSetNode], int],
    ) -> int:
        name = spread.name.value
        if name not in memo:
            memo[name] = 0  # an unknown fragment or a cycle, both refused by validation
            fragment = self.context.get_fragment(name)
            if fragment is not None:
                memo[name] = measure(fragment.selection_set)
        return memo[name]


class _MeasuringRule(ValidationRule):
    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.measure = _Measure(context)


def _name(operation: OperationDefinitionNode) -> str:
    return operation.name.value if operation.name else "anonymous"


def depth_limit(max_depth: int) -> type[ValidationRule]:
    """A rule refusing operations nested deeper than ``max_depth`` (``QUERY_TOO_DEEP``)."""

    class DepthLimit(_MeasuringRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            if self.measure.depth(node.selection_set) > max_depth:
                self.report_error(
                    GraphQLError(
                        f"'{_name(node)}' exceeds maximum operation depth of {max_depth}",
                        node,
                        extensions={"code": QUERY_TOO_DEEP},
                    )
                )

    return DepthLimit


def alias_limit(max_aliases: int) -> type[ValidationRule]:
    """A rule refusing operations with more than ``max_aliases`` aliased fields
    (``TOO_MANY_ALIASES``): aliases let one request ask for the same field many times."""

    class AliasLimit(_MeasuringRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            count = self.measure.alias_count(node.selection_set)
            if count > max_aliases:
                self.report_error(
                    GraphQLError(
                        f"{count} aliases found in '{_name(node)}'. Allowed: {max_aliases}",
                        node,
                        extensions={"code": TOO_MANY_ALIASES},
                    )
                )

    return AliasLimit
