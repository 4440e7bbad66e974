"""The schema: root types merged from each domain, and the guards every request passes."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionContext

from ezhr_graphql.api.agents.mutations import AgentMutations
from ezhr_graphql.api.agents.queries import AgentQueries
from ezhr_graphql.api.catalog.mutations import CatalogMutations
from ezhr_graphql.api.catalog.queries import CatalogQueries
from ezhr_graphql.api.chat.mutations import ChatMutations
from ezhr_graphql.api.chat.queries import ChatQueries
from ezhr_graphql.api.context import Context
from ezhr_graphql.api.cost import CostLimiter, QueryCost
from ezhr_graphql.api.knowledge.mutations import KnowledgeMutations
from ezhr_graphql.api.knowledge.queries import KnowledgeQueries
from ezhr_graphql.api.knowledge.subscriptions import KnowledgeSubscriptions
from ezhr_graphql.api.limits import LimitedParser, alias_limit, depth_limit, document_parser
from ezhr_graphql.api.loaders import Loaders
from ezhr_graphql.api.observe import OperationMetrics
from ezhr_graphql.api.replies.mutations import ReplyMutations
from ezhr_graphql.api.replies.subscriptions import ReplySubscriptions
from ezhr_graphql.api.users.mutations import UserMutations
from ezhr_graphql.api.users.queries import UserQueries
from ezhr_graphql.db.errors import SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE, unavailable
from ezhr_graphql.settings import GraphQLSettings

logger = logging.getLogger("ezhr_graphql.api")


@strawberry.type(description="Read the assistant's agents, models, chat sessions and messages.")
class Query(UserQueries, CatalogQueries, AgentQueries, ChatQueries, KnowledgeQueries):
    pass


@strawberry.type(description="Change the assistant's data; each result is a union of typed errors.")
class Mutation(
    UserMutations,
    CatalogMutations,
    AgentMutations,
    ChatMutations,
    ReplyMutations,
    KnowledgeMutations,
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
                self.execution_context.operation_name or "<anonymous>",
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
            self.execution_context.operation_name or "<anonymous>",
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


def extensions(
    settings: GraphQLSettings, introspection: bool = True
) -> list[Callable[[], SchemaExtension]]:
    """Factories: Strawberry builds fresh extensions per request (the parser,
    validation and cost caches live outside them, so they still span requests).

    The limits' validation rules are built once here: the validation cache is keyed
    by the rule classes, and a limiter built per request makes new classes each time,
    so nothing would ever be served from the cache.

    The cost limiter is the validation step too: it validates (cached), then costs.
    """
    # Introspection is not counted in depth: GraphiQL's query is deep by nature, and
    # cheap. The limits are ours, not Strawberry's: see ezhr_graphql/api/limits.py.
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
    return [
        lambda: LimitedParser(parse),
        lambda: AddValidationRules(limits),
        lambda: CostLimiter(costing, maxsize=settings.validation_cache_size),
        lambda: LoggedMaskErrors(should_mask_error=_is_unexpected),
        OperationContext,
        OperationMetrics,
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
    settings: GraphQLSettings | None = None, *, introspection: bool = True
) -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions(settings or GraphQLSettings(), introspection),
    )
