"""Privacy of conversations: retention, a member's export of their data, erasure.

Conversations leave the product one way (:class:`~.purge.ConversationPurge`): rows
removed for real in an order every foreign key accepts, then their reply streams,
leaving nothing but the counts.
"""

from ezhr_graphql.services.privacy.erasure import Erased, Erasure
from ezhr_graphql.services.privacy.export import DataExport, ExportFile
from ezhr_graphql.services.privacy.purge import ConversationPurge, Removed
from ezhr_graphql.services.privacy.retention import RetentionSweep

__all__ = [
    "ConversationPurge",
    "DataExport",
    "Erased",
    "Erasure",
    "ExportFile",
    "Removed",
    "RetentionSweep",
]
