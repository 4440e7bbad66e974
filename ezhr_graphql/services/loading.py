"""Loading files from disk into a collection an agent answers from (the ``ingest``
command): folders are walked, each file is uploaded as an administrator would, and
the indexing work goes to the queue the services were built with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ezhr_graphql.errors import InvalidInputError, LimitExceededError
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.ingestion import IngestJob
from ezhr_graphql.services.knowledge import CollectionFields, DocumentFields, KnowledgeService

SKIPPED_FOLDERS = {"redirects", ".git", "node_modules"}


@dataclass
class Loaded:
    """What was loaded: the documents stored for indexing, and a line per file that
    was not (or was there already)."""

    new_documents: int
    report: list[str]


def files(paths: list[Path]) -> list[Path]:
    """The files of ``paths``, folders walked in order (hidden files and the folders
    of a site's build left out)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not p.name.startswith(".")
                and not SKIPPED_FOLDERS.intersection(p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return found


async def load_files(
    knowledge: KnowledgeService, paths: list[Path], collection_name: str, agent_name: str
) -> Loaded:
    """Upload files (folders walked) into a collection, created on the agent's
    embedding model if needed, and attach it to the agent, as its first administrator.
    Their indexing is queued once the transaction commits.

    Raises:
        LookupError: no administrator or no such agent.
    """
    admin_row = await UserRepository.from_session(knowledge.session).first_admin()
    if admin_row is None:
        raise LookupError("there is no administrator yet: run 'ezhr-graphql seed' first")
    admin = Actor(id=admin_row.id, role=admin_row.role, email=admin_row.email)
    agent = await knowledge.agents.get_by_name(agent_name)
    if agent is None:
        raise LookupError(f"no agent named {agent_name!r}")
    collection = await knowledge.collections.get_by_name(collection_name)
    if collection is None:
        collection = await knowledge.create_collection(
            admin,
            CollectionFields(name=collection_name, embedding_model_id=agent.embedding_model_id),
        )
    attached = [c.id for c in await knowledge.collections.of_agent(agent.id)]
    if collection.id not in attached:
        await knowledge.set_agent_collections(admin, agent.id, [*attached, collection.id])
    limit = knowledge.settings.max_upload_bytes
    report: list[str] = []
    new = 0
    for path in files(paths):
        if path.stat().st_size > limit:
            report.append(f"skipped {path}: larger than {limit} bytes")
            continue
        try:
            uploaded = await knowledge.upload(
                admin, collection.id, path.name, path.read_bytes(), DocumentFields()
            )
        except (InvalidInputError, LimitExceededError) as exc:
            report.append(f"skipped {path}: {exc.message}")
            continue
        if uploaded.duplicate:
            report.append(f"already there: {path}")
        else:
            new += 1
    report.append(f"{new} new documents in {collection_name!r}")
    return Loaded(new, report)


class JobList:
    """An ingestion queue that keeps its jobs for the caller to run (the command line
    runs them in order, to show progress)."""

    def __init__(self) -> None:
        self.jobs: list[IngestJob] = []

    async def submit(self, job: IngestJob) -> None:
        self.jobs.append(job)

    async def depth(self) -> int:
        return len(self.jobs)

    async def close(self) -> None:
        return None
