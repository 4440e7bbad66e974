"""The cost of an operation: the most fields its response could hold, refused over a
budget before any resolver runs (``QUERY_TOO_COMPLEX``).

Every selected field costs 1. A list multiplies the cost of what it selects by the
number of items it may hold:

- a field with a page size argument (``first``, ``last`` or ``limit``) holds that many;
  when the argument is left out, its default; never more than ``max_page_size``, which
  the resolvers enforce. A connection passes its page size to the list inside it
  (``edges``), so ``agents(first: 50) { edges { node { name } } pageInfo { hasNextPage } }``
  costs ``1 + 1 + 50 * (1 + 1) + 1 + 1 = 104``;
- any other list is assumed to hold ``assumed_list_size`` items. The schema keeps each
  such list small by a rule of its own (a message's citations, an agent's collections;
  tests/test_cost.py lists them): a list that grows with use, such as a message's
  versions, takes a page size argument instead.

Nested lists multiply. Fragments and inline fragments count where they are spread.
Introspection (``__schema``, ``__type``) costs nothing: it is bounded by the schema and
can be switched off. Fields selected twice count twice (execution merges them), which
errs on the side of refusing.

Page sizes given as variables are read from the request's variables, which a
validation rule does not see: the check runs in the validation extension, right after
the (cached) validation and before execution.
Costs are cached per document and operation, and per value of the variables that are
page sizes when there are any (a variable sent as ``null`` apart from one left out).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    VariableNode,
    get_named_type,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import ValidationCache

from ezhr_graphql.api.guards.limits import QUERY_TOO_COMPLEX

PAGE_SIZE_ARGUMENTS = ("first", "last", "limit")
# Distinct variable values remembered per document: a client paging with a few sizes
# is served from the cache, one sending every size cannot grow it without bound.
COSTS_PER_DOCUMENT = 16


@dataclass
class _Costs:
    """What is known of one operation: its cost, or the variables it depends on and
    the cost for each of their values seen so far."""

    fixed: int | None = None
    variables: tuple[str, ...] = ()
    by_values: dict[tuple[Hashable, ...], int] = field(default_factory=dict)


class _Walk:
    """One cost computation over one operation."""

    def __init__(
        self,
        costing: QueryCost,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> None:
        self.costing = costing
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = {
            d.variable.name.value: d.default_value for d in operation.variable_definitions or ()
        }
        self.read: set[str] = set()
        self.memo: dict[tuple[str, int | None], int] = {}

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, pending: int | None
    ) -> int:
        """The cost of a selection set once; ``pending`` is the page size a connection
        hands to the list it holds."""
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, pending)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, inner, pending)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.spread(selection.name.value, pending)
        return total

    def spread(self, name: str, pending: int | None) -> int:
        # Each fragment is costed once per page size: a fragment spread twice in a
        # fragment spread twice... would otherwise take exponential time to walk.
        key = (name, pending)
        if key not in self.memo:
            self.memo[key] = 0  # a cycle (refused by validation) adds nothing
            fragment = self.fragments.get(name)
            if fragment is not None:
                inner = self.schema.get_type(fragment.type_condition.name.value)
                self.memo[key] = self.selections(fragment.selection_set, inner, pending)
        return self.memo[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, pending: int | None) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 1 if name == "__typename" else 0
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 1
        definition = parent.fields.get(name)
        if definition is None or node.selection_set is None:
            return 1
        size = self.page_size(node, definition)
        inner = get_named_type(definition.type)
        nullable = definition.type
        if isinstance(nullable, GraphQLNonNull):
            nullable = nullable.of_type
        if isinstance(nullable, GraphQLList):
            items = size if size is not None else pending
            if items is None:
                items = self.costing.assumed_list_size
            return 1 + items * self.selections(node.selection_set, inner, None)
        return 1 + self.selections(node.selection_set, inner, size)

    def page_size(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The page size the field is asked for, or ``None`` when it takes none."""
        given = {a.name.value: a.value for a in node.arguments or ()}
        declared = [n for n in PAGE_SIZE_ARGUMENTS if n in definition.args]
        if not declared:
            return None
        value: Any = Undefined
        for name in declared:
            if name in given:
                value = self.literal(given[name])
                break
        if value is Undefined or value is None:
            defaults = (definition.args[n].default_value for n in declared)
            value = next((v for v in defaults if v is not Undefined and v is not None), None)
        limit = self.costing.max_page_size
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one number type; coercion takes 5.0 as 5
        if not isinstance(value, int) or isinstance(value, bool):
            return limit  # absent without a default, or left for coercion to refuse
        return max(0, min(value, limit))

    def literal(self, node: Any) -> Any:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            name = node.name.value
            self.read.add(name)
            if name in self.variables:
                return self.variables[name]
            return self.literal(self.defaults.get(name))
        return None


class QueryCost:
    """Computes and caches operation costs for one schema's settings."""

    def __init__(
        self, max_cost: int, max_page_size: int, assumed_list_size: int, cache_size: int
    ) -> None:
        self.max_cost = max_cost
        self.max_page_size = max_page_size
        self.assumed_list_size = assumed_list_size
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str | None], _Costs] = OrderedDict()

    def cost(
        self,
        schema: GraphQLSchema,
        query: str | None,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> int:
        """The cost of the operation ``operation_name`` picks in a valid document."""
        variables = variables or {}
        key = (query or "", operation_name)
        known = self._cache.get(key) if query else None
        if known is not None:
            self._cache.move_to_end(key)
            if known.fixed is not None:
                return known.fixed
            values = _values(variables, known.variables)
            if values in known.by_values:
                return known.by_values[values]
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return 0  # Strawberry reports the missing operation itself
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        walk = _Walk(self, schema, fragments, operation, variables)
        root = schema.get_root_type(operation.operation)
        total = walk.selections(operation.selection_set, root, None)
        if query:
            self._remember(key, known, walk.read, variables, total)
        return total

    def _remember(
        self,
        key: tuple[str, str | None],
        known: _Costs | None,
        read: set[str],
        variables: Mapping[str, Any],
        total: int,
    ) -> None:
        if self.cache_size <= 0:
            return
        if known is None:
            known = _Costs(fixed=None if read else total, variables=tuple(sorted(read)))
            self._cache[key] = known
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if known.fixed is None:
            values = _values(variables, known.variables)
            if len(known.by_values) >= COSTS_PER_DOCUMENT:
                known.by_values.clear()
            known.by_values[values] = total


# A variable left out, told apart from one sent as null: the walk takes the document's
# default for the first and the argument's default for the second, which may differ.
_ABSENT = ("absent",)


def _values(variables: Mapping[str, Any], names: tuple[str, ...]) -> tuple[Hashable, ...]:
    """The cache key of the page size variables ``names`` hold."""
    return tuple(_hashable(variables[n]) if n in variables else _ABSENT for n in names)


def _hashable(value: Any) -> Hashable:
    # By exact type: True == 1 and 5.0 == 5 as keys, yet only 5 is costed as 5 pages
    # (5.0 too, but True is refused by coercion later); and the string "5.0" is not 5.0.
    if type(value) in (int, str, type(None)):
        return (type(value).__name__, value)
    return (type(value).__name__, repr(value))


class CostLimiter(ValidationCache):
    """Strawberry's validation cache, then the cost check: an operation over the
    budget is refused after validation (so the document is known to be valid) and
    before execution. One extension rather than two: each costs every request a hook.
    """

    def __init__(self, costing: QueryCost, maxsize: int) -> None:
        super().__init__(maxsize=maxsize)
        self.costing = costing

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema = context.schema._schema
        document = context.graphql_document
        errors = self.cached_validate_document(schema, document, context.validation_rules)
        if not errors and document is not None:
            cost = self.costing.cost(
                schema, context.query, document, context.operation_name, context.variables
            )
            if cost > self.costing.max_cost:
                errors = [
                    GraphQLError(
                        f"This operation may resolve up to {cost} fields, over the limit of "
                        f"{self.costing.max_cost}: ask for smaller pages (`first`) or fewer "
                        "nested lists.",
                        extensions={
                            "code": QUERY_TOO_COMPLEX,
                            "cost": cost,
                            "maxCost": self.costing.max_cost,
                        },
                    )
                ]
        context.pre_execution_errors = errors
        yield
