"""ORM rows, one module per domain. Importing this package registers every table."""

from ezhr_graphql.models.agent import Agent, AnswerMode, UnsupportedNumbers, Visibility
from ezhr_graphql.models.ai_model import EmbeddingModel, LlmModel
from ezhr_graphql.models.approved import ApprovedAnswer, ApprovedAnswerAudience
from ezhr_graphql.models.audience import AudienceAttribute, CollectionAudience, DocumentAudience
from ezhr_graphql.models.audit import AuditAction, AuditEvent
from ezhr_graphql.models.chat import (
    ChatFeedback,
    ChatMessage,
    ChatSession,
    FinishReason,
    Folder,
    Grounding,
    MessageRole,
    MessageStatus,
    Rating,
)
from ezhr_graphql.models.knowledge import (
    ChunkVector,
    Collection,
    Document,
    DocumentChunk,
    DocumentContent,
    DocumentStatus,
    agent_collection,
)
from ezhr_graphql.models.lease import JobLease
from ezhr_graphql.models.user import EmploymentType, Role, SignInCode, User

__all__ = [
    "Agent",
    "AnswerMode",
    "ApprovedAnswer",
    "ApprovedAnswerAudience",
    "AudienceAttribute",
    "AuditAction",
    "AuditEvent",
    "ChatFeedback",
    "ChatMessage",
    "ChatSession",
    "ChunkVector",
    "Collection",
    "CollectionAudience",
    "Document",
    "DocumentAudience",
    "DocumentChunk",
    "DocumentContent",
    "DocumentStatus",
    "EmbeddingModel",
    "EmploymentType",
    "FinishReason",
    "Folder",
    "Grounding",
    "JobLease",
    "LlmModel",
    "MessageRole",
    "MessageStatus",
    "Rating",
    "Role",
    "SignInCode",
    "UnsupportedNumbers",
    "User",
    "Visibility",
    "agent_collection",
]
