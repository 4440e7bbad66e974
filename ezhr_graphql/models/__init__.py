"""ORM rows, one module per domain. Importing this package registers every table."""

from ezhr_graphql.models.agent import Agent, Visibility
from ezhr_graphql.models.ai_model import EmbeddingModel, LlmModel
from ezhr_graphql.models.chat import (
    ChatFeedback,
    ChatMessage,
    ChatSession,
    Folder,
    MessageRole,
    MessageStatus,
    Rating,
)
from ezhr_graphql.models.user import Role, User

__all__ = [
    "Agent",
    "ChatFeedback",
    "ChatMessage",
    "ChatSession",
    "EmbeddingModel",
    "Folder",
    "LlmModel",
    "MessageRole",
    "MessageStatus",
    "Rating",
    "Role",
    "User",
    "Visibility",
]
