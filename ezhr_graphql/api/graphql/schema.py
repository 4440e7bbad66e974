"""The schema: root types merged from each domain, and the guards every request passes."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    validate,
)
from graphql.execution import Executor
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from ezhr_graphql.api.graphql.agents.mutations import AgentMutations
from ezhr_graphql.api.graphql.agents.queries import AgentQueries
from ezhr_graphql.api.graphql.catalog.mutations import CatalogMutations
from ezhr_graphql.api.graphql.catalog.queries import CatalogQueries
from ezhr_graphql.api.graphql.chat.mutations import ChatMutations
from ezhr_graphql.api.graphql.chat.queries import ChatQueries
from ezhr_graphql.api.graphql.context import Context
from ezhr_graphql.api.graphql.insights.mutations import InsightMutations
from ezhr_graphql.api.graphql.insights.queries import InsightQueries
from ezhr_graphql.api.graphql.knowledge.mutations import KnowledgeMutations
from ezhr_graphql.api.graphql.knowledge.queries import KnowledgeQueries
from ezhr_graphql.api.graphql.knowledge.subscriptions import KnowledgeSubscriptions
from ezhr_graphql.api.graphql.loaders import Loaders
from ezhr_graphql.api.graphql.observe import OperationLabels, OperationMetrics, logged_name
from ezhr_graphql.api.graphql.privacy.mutations import PrivacyMutations
from ezhr_graphql.api.graphql.privacy.queries import PrivacyQueries
from ezhr_graphql.api.graphql.replies.mutations import ReplyMutations
from ezhr_graphql.api.graphql.replies.subscriptions import ReplySubscriptions
from ezhr_graphql.api.graphql.users.mutations import UserMutations
from ezhr_graphql.api.graphql.users.queries import UserQueries
from ezhr_graphql.api.guards.cost import CostLimiter, QueryCost
from ezhr_graphql.api.guards.limits import LimitedParser, alias_limit, depth_limit, document_parser
from ezhr_graphql.db.errors import SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE, unavailable
from ezhr_graphql.settings import GraphQLSettings

logger = logging.getLogger("ezhr_graphql.api")


@strawberry.type(description="Read the assistant's agents, models, chat sessions and messages.")
class Query(
    UserQueries,
    CatalogQueries,
    AgentQueries,
    ChatQueries,
    KnowledgeQueries,
    PrivacyQueries,
    InsightQueries,
):
    pass


@strawberry.type(description="Change the assistant's data; each result is a union of typed errors.")
class Mutation(
    UserMutations,
    CatalogMutations,
    AgentMutations,
    ChatMutations,
    ReplyMutations,
    KnowledgeMutations,
    InsightMutations,
    PrivacyMutations,
):
    pass


@strawberry.type(description="Live data over websockets: replies as they stream, session changes.")
class Subscription(ReplySubscriptions, KnowledgeSubscriptions):
    pass


def _is_unexpected(error: GraphQLError) -> bool:
    """Errors we raised on purpose are GraphQLErrors; anything else is a bug to hide."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class LoggedMaskErrors(MaskErrors):
    """Masks unexpected exceptions and logs each with the operation that hit it."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if isinstance(error.original_error, InvalidOperationTypeError):
            # The legacy graphql-ws protocol carries subscriptions only.
            return GraphQLError(
                "This transport only accepts subscriptions; send queries and mutations "
                "over HTTP or graphql-transport-ws",
                extensions={"code": "BAD_REQUEST"},
            )
        if error.original_error is not None and unavailable(error.original_error):
            # Not a bug: the database is out of reach, and the client may try again.
            logger.warning(
                "database unavailable in operation %s",
                logged_name(self.execution_context.operation_name),
                exc_info=error.original_error,
            )
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": SERVICE_UNAVAILABLE},
            )
        logger.error(
            "unexpected error in operation %s at %s",
            logged_name(self.execution_context.operation_name),
            ".".join(str(p) for p in error.path or ()),
            exc_info=error.original_error,
        )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


class OperationContext(SchemaExtension):
    """Gives each operation on a websocket a context of its own.

    A websocket connection keeps one context for all its operations, which run
    concurrently: each gets a copy with fresh DataLoaders (no rows cached by another
    operation) and an actor checked again from the connection's token, so a deleted
    user, a changed role or an expired token takes effect on the next operation.
    """

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.long_lived:
            actor, error = await context.reauthenticate()
            self.execution_context.context = dataclasses.replace(
                context,
                loaders=Loaders.build(context.db, actor),
                actor=actor,
                credentials_error=error,
                long_lived=False,
            )
        yield


def _validate_quietly(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """Strawberry's validation, without the names graphql-core would suggest."""
    rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, rules, hide_suggestions=True)


@functools.cache
def _quiet_validation(maxsize: int) -> Callable[..., list[GraphQLError]]:
    """One cache per size, shared by every request, as Strawberry's own."""
    return functools.lru_cache(maxsize=maxsize)(_validate_quietly)


class QuietCostLimiter(CostLimiter):
    """The cost limiter, its validation suggesting no names ("Did you mean 'viewer'?"):
    with introspection off, suggestions would spell the schema out bit by bit."""

    def __init__(self, costing: QueryCost, maxsize: int) -> None:
        super().__init__(costing, maxsize)
        self.cached_validate_document = _quiet_validation(maxsize)


class QuietExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, suggesting no names in the errors of execution (an enum
    value or input field of the variables), for the same reason."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> list[GraphQLError] | Executor[Any]:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)


def extensions(
    settings: GraphQLSettings,
    introspection: bool = True,
    *,
    labels: OperationLabels | None = None,
) -> list[Callable[[], SchemaExtension]]:
    """Factories: Strawberry builds fresh extensions per request (the parser,
    validation and cost caches live outside them, so they still span requests).

    The limits' validation rules are built once here: the validation cache is keyed
    by the rule classes, and a limiter built per request makes new classes each time,
    so nothing would ever be served from the cache.

    The cost limiter is the validation step too: it validates (cached), then costs.
    Without introspection, it suggests no names in errors either.
    """
    # Introspection is not counted in depth: GraphiQL's query is deep by nature, and
    # cheap. The limits are ours, not Strawberry's: see ezhr_graphql/api/guards/limits.py.
    limits: list[type[ASTValidationRule]] = [
        depth_limit(settings.max_depth),
        alias_limit(settings.max_aliases),
    ]
    if not introspection:
        limits.append(NoSchemaIntrospectionCustomRule)
    parse = document_parser(settings)
    costing = QueryCost(
        max_cost=settings.max_cost,
        max_page_size=settings.max_page_size,
        assumed_list_size=settings.assumed_list_size,
        cache_size=settings.validation_cache_size,
    )
    limiter = CostLimiter if introspection else QuietCostLimiter
    names = labels
    if names is None:
        per_user = settings.metrics_operation_names_per_user
        names = OperationLabels(settings.metrics_operation_names, per_user=per_user)
    return [
        lambda: LimitedParser(parse),
        lambda: AddValidationRules(limits),
        lambda: limiter(costing, maxsize=settings.validation_cache_size),
        lambda: LoggedMaskErrors(should_mask_error=_is_unexpected),
        OperationContext,
        lambda: OperationMetrics(names),
    ]


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Client mistakes (syntax, validation, typed errors) are not server faults;
        # unexpected exceptions are logged by LoggedMaskErrors with their traceback.
        for error in errors:
            logger.debug("graphql error: %s", error.message)


def build_schema(
    settings: GraphQLSettings | None = None,
    *,
    introspection: bool = True,
    labels: OperationLabels | None = None,
) -> strawberry.Schema:
    """The schema; ``labels``: the operation names metrics may be labelled by (by
    default, those signed-in callers use, up to ``metrics_operation_names``)."""
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions(settings or GraphQLSettings(), introspection, labels=labels),
        execution_context_class=None if introspection else QuietExecutor,
    )
