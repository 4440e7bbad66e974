from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated, Self

import strawberry

from ezhr_graphql.api.graphql.catalog.types import EmbeddingModel, LlmModel
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.knowledge.types import Collection
from ezhr_graphql.api.graphql.loaders import resolved_or_awaitable
from ezhr_graphql.api.graphql.pagination import Connection
from ezhr_graphql.api.graphql.scalars import gid, input_fields, parse_optional_id
from ezhr_graphql.models import Agent as AgentRow
from ezhr_graphql.models import AnswerMode as AnswerModeModel
from ezhr_graphql.models import UnsupportedNumbers as UnsupportedNumbersModel
from ezhr_graphql.models import Visibility as VisibilityModel
from ezhr_graphql.repositories.columns import AgentColumns
from ezhr_graphql.services.agents import AgentFields
from ezhr_graphql.services.answering.language import no_answer_messages


@strawberry.enum(description="Who can chat with an agent.")
class Visibility(Enum):
    PUBLIC = strawberry.enum_value("PUBLIC", description="Every signed-in user.")
    PRIVATE = strawberry.enum_value("PRIVATE", description="Its owner and administrators.")


@strawberry.enum(description="How an agent turns the passages it found into a reply.")
class AnswerMode(Enum):
    EXTRACTIVE = strawberry.enum_value(
        "EXTRACTIVE",
        description="The sentences of the passages that answer, quoted with their markers: "
        "no language model, nothing that is not in a passage.",
    )
    GENERATIVE = strawberry.enum_value(
        "GENERATIVE",
        description="The LLM writes the reply from the passages, under guards: passages "
        "fenced as data, loops cut, numbers checked against the passages.",
    )


@strawberry.enum(description="What a generative reply with a number no passage holds becomes.")
class UnsupportedNumbers(Enum):
    FLAG = strawberry.enum_value(
        "FLAG", description="Kept, marked UNSUPPORTED with the spans at fault."
    )
    REFUSE = strawberry.enum_value(
        "REFUSE",
        description="Replaced by the no-answer message (the reply is checked before it is "
        "streamed).",
    )


@strawberry.type(description="A message in one language.")
class LocalizedText:
    language: str = strawberry.field(description="ISO 639-1 code: en, vi.")
    text: str = strawberry.field(description="The message.")


# The columns the fields of Agent that are not a column of their own name show (see
# loaders.columns_shown).
AGENT_COMPUTED: dict[str, tuple[str, ...]] = {
    "noAnswerMessages": ("no_answer_message",),
    "llmModel": ("llm_model_id",),
    "embeddingModel": ("embedding_model_id",),
    "collections": (),
}


@strawberry.type(description="An assistant configured to answer from a company's HR documents.")
class Agent:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    name: str = strawberry.field(description="Unique display name.")
    description: str = strawberry.field(description="What the agent helps with.")
    system_prompt: str = strawberry.field(description="Instructions given to the LLM.")
    starter_messages: list[str] = strawberry.field(
        description="Up to four suggested first questions."
    )
    temperature: float = strawberry.field(description="Sampling temperature, 0 to 2.")
    top_k: int = strawberry.field(description="How many document chunks to retrieve.")
    similarity_threshold: float = strawberry.field(
        description=(
            "Vector hits below this cosine similarity are not used; a passage the keyword "
            "search finds is kept whatever its cosine."
        )
    )
    include_outdated: bool = strawberry.field(
        description="Whether documents marked outdated are used in answers."
    )
    answer_mode: AnswerMode = strawberry.field(description="How it turns passages into a reply.")
    general_chat: bool = strawberry.field(
        description="With no ready document to answer from: chat anyway (true), or say the "
        "no-answer message (false)."
    )
    unsupported_numbers: UnsupportedNumbers = strawberry.field(
        description="What a generative reply with a number its passages lack becomes."
    )
    visibility: Visibility = strawberry.field(description="Who can chat with the agent.")
    retention_days: int | None = strawberry.field(
        description="Days a conversation with the agent is kept after its last activity, "
        "then removed for real; null keeps conversations until their owners delete them."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    llm_model_id: strawberry.Private[uuid.UUID]
    embedding_model_id: strawberry.Private[uuid.UUID]
    own_no_answer_message: strawberry.Private[str]
    own_max_tokens: strawberry.Private[int | None]

    @strawberry.field(
        description="Said when nothing relevant is found, to questions in English (the "
        "agent's own message, or the server's default)."
    )
    def no_answer_message(self, info: Info) -> str:
        return no_answer_messages(self.own_no_answer_message, _default(info))["en"]

    @strawberry.field(
        description="Said when nothing relevant is found, in each language the agent "
        "answers in: its own message, or the server's default for that language."
    )
    def no_answer_messages(self, info: Info) -> list[LocalizedText]:
        messages = no_answer_messages(self.own_no_answer_message, _default(info))
        return [LocalizedText(language=lang, text=text) for lang, text in messages.items()]

    @strawberry.field(
        description="Longest reply the LLM may write, in tokens (the agent's own limit, or "
        "the server's default)."
    )
    def max_tokens(self, info: Info) -> int:
        return self.own_max_tokens or info.context.container.settings.chat.max_reply_tokens

    @strawberry.field(description="The LLM the agent answers with.")
    def llm_model(self, info: Info) -> LlmModel | None:
        loader = info.context.loaders.llm_model_by_id
        return resolved_or_awaitable(loader, self.llm_model_id, LlmModel.from_model)  # type: ignore[return-value]

    @strawberry.field(description="The embedding model used to search its documents.")
    def embedding_model(self, info: Info) -> EmbeddingModel | None:
        loader = info.context.loaders.embedding_model_by_id
        return resolved_or_awaitable(loader, self.embedding_model_id, EmbeddingModel.from_model)  # type: ignore[return-value]

    @strawberry.field(
        description="The document collections it answers from (listed for admins only)."
    )
    async def collections(self, info: Info) -> list[Collection]:
        ctx = info.context
        if ctx.actor is None or not ctx.actor.is_admin:
            return []
        rows = await ctx.loaders.collections_by_agent.load(uuid.UUID(str(self.id)))
        return [Collection.from_model(row) for row in rows]

    @classmethod
    def from_model(cls, row: AgentRow | AgentColumns) -> Self:
        return cls(
            id=gid(row.id),
            name=row.name,
            description=row.description,
            system_prompt=row.system_prompt,
            starter_messages=list(row.starter_messages),
            temperature=row.temperature,
            top_k=row.top_k,
            similarity_threshold=row.similarity_threshold,
            include_outdated=row.include_outdated,
            answer_mode=AnswerMode[row.answer_mode.name],
            general_chat=row.general_chat,
            unsupported_numbers=UnsupportedNumbers[row.unsupported_numbers.name],
            visibility=Visibility[row.visibility.name],
            retention_days=row.retention_days,
            created_at=row.created_at,
            updated_at=row.updated_at,
            llm_model_id=row.llm_model_id,
            embedding_model_id=row.embedding_model_id,
            own_no_answer_message=row.no_answer_message,
            own_max_tokens=row.max_tokens,
        )


def _default(info: Info) -> str:
    return info.context.container.settings.knowledge.default_no_answer_message


@strawberry.input(description="A new agent.")
class CreateAgentInput:
    name: str = strawberry.field(description="Unique display name.")
    llm_model_id: strawberry.ID = strawberry.field(description="The LLM to answer with.")
    embedding_model_id: strawberry.ID = strawberry.field(description="The embedding model.")
    description: str = strawberry.field(default="", description="What the agent helps with.")
    system_prompt: str = strawberry.field(default="", description="Instructions for the LLM.")
    starter_messages: list[str] = strawberry.field(
        default_factory=list, description="Up to four suggested first questions."
    )
    temperature: float = strawberry.field(default=0.2, description="Sampling temperature, 0 to 2.")
    top_k: int = strawberry.field(default=4, description="Chunks to retrieve, 1 to 50.")
    similarity_threshold: float = strawberry.field(
        default=0.3, description="Minimum cosine similarity of a passage, -1 to 1."
    )
    include_outdated: bool = strawberry.field(
        default=False, description="Use documents marked outdated too."
    )
    no_answer_message: str = strawberry.field(
        default="", description="Said when nothing relevant is found (empty: the default)."
    )
    visibility: Visibility = strawberry.field(
        default=Visibility.PUBLIC, description="Who can chat with it."
    )
    answer_mode: AnswerMode = strawberry.field(
        default=AnswerMode.EXTRACTIVE, description="How it turns passages into a reply."
    )
    general_chat: bool = strawberry.field(
        default=False, description="Chat without documents (true) or say the no-answer message."
    )
    max_tokens: int | None = strawberry.field(
        default=None, description="Longest LLM reply in tokens, 16 to 8192 (null: the default)."
    )
    unsupported_numbers: UnsupportedNumbers = strawberry.field(
        default=UnsupportedNumbers.FLAG,
        description="What a generative reply with a number its passages lack becomes.",
    )
    retention_days: int | None = strawberry.field(
        default=None,
        description="Days conversations are kept after their last activity, 1 to 3650 "
        "(null: until their owners delete them).",
    )

    def to_fields(self) -> AgentFields:
        return _agent_fields(self)


@strawberry.input(description="Changes to an agent; omitted fields stay as they are.")
class UpdateAgentInput:
    name: str | None = strawberry.field(default=None, description="New name.")
    llm_model_id: strawberry.ID | None = strawberry.field(default=None, description="New LLM.")
    embedding_model_id: strawberry.ID | None = strawberry.field(
        default=None, description="New embedding model."
    )
    description: str | None = strawberry.field(default=None, description="New description.")
    system_prompt: str | None = strawberry.field(default=None, description="New instructions.")
    starter_messages: list[str] | None = strawberry.field(
        default=None, description="New starter messages (replaces all)."
    )
    temperature: float | None = strawberry.field(default=None, description="New temperature.")
    top_k: int | None = strawberry.field(default=None, description="New top-k.")
    similarity_threshold: float | None = strawberry.field(
        default=None, description="New similarity threshold."
    )
    include_outdated: bool | None = strawberry.field(
        default=None, description="Use outdated documents or not."
    )
    no_answer_message: str | None = strawberry.field(
        default=None, description="New message for questions nothing answers."
    )
    visibility: Visibility | None = strawberry.field(default=None, description="New visibility.")
    answer_mode: AnswerMode | None = strawberry.field(default=None, description="New answer mode.")
    general_chat: bool | None = strawberry.field(
        default=None, description="Chat without documents or not."
    )
    max_tokens: int | None = strawberry.field(default=None, description="New reply length limit.")
    unsupported_numbers: UnsupportedNumbers | None = strawberry.field(
        default=None, description="New treatment of unsupported numbers."
    )
    retention_days: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="New retention period in days, 1 to 3650; null keeps conversations "
        "until their owners delete them (omitted: unchanged).",
    )

    def to_fields(self) -> AgentFields:
        return _agent_fields(self)


def _agent_fields(input: CreateAgentInput | UpdateAgentInput) -> AgentFields:
    """Raises:
    InvalidInputError: a model ID is malformed.
    """
    return input_fields(
        input,
        AgentFields,
        llm_model_id=parse_optional_id(input.llm_model_id, "llmModelId"),
        embedding_model_id=parse_optional_id(input.embedding_model_id, "embeddingModelId"),
        visibility=None if input.visibility is None else VisibilityModel[input.visibility.name],
        answer_mode=None if input.answer_mode is None else AnswerModeModel[input.answer_mode.name],
        unsupported_numbers=None
        if input.unsupported_numbers is None
        else UnsupportedNumbersModel[input.unsupported_numbers.name],
        retention_days=None if input.retention_days is strawberry.UNSET else input.retention_days,
        keep_forever=input.retention_days is None,
    )


AgentResult = Annotated[
    Agent | UserErrorType,
    strawberry.union("AgentResult", description="An agent, or why not."),
]
AgentConnectionResult = Annotated[
    Connection[Agent] | UserErrorType,
    strawberry.union("AgentConnectionResult", description="A page of agents."),
]
