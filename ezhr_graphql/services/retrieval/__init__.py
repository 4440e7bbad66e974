"""Retrieval for a run: the agent's top passages for a question, as citations.

Two legs search the agent's collections side by side: the vector leg (each collection
with the embedding model it is indexed with) and the keyword leg (full-text search in
the application database). Their candidates are fused and reranked
(:mod:`~ezhr_graphql.services.retrieval.rerank`).
"""

from ezhr_graphql.services.retrieval.passage import QUOTE_LENGTH, Passage
from ezhr_graphql.services.retrieval.retriever import Knowledge, Retriever

__all__ = ["QUOTE_LENGTH", "Knowledge", "Passage", "Retriever"]
