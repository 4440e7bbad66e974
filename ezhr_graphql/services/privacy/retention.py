"""The retention sweep: conversations past their agent's retention period, and those
deleted longer ago than the grace period, removed for real.

Every server process offers to sweep now and then; a lease in the database lets one
of them at a time do it (:class:`~ezhr_graphql.repositories.lease.LeaseRepository`),
and each batch counts only the rows it removed itself, so even sweeps that overlap
(a lease that expired under a slow sweep) count every row once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from ezhr_graphql.db import Database, utcnow
from ezhr_graphql.people_settings import PrivacySettings
from ezhr_graphql.repositories.lease import LeaseRepository
from ezhr_graphql.repositories.purge import PurgeRepository
from ezhr_graphql.services.privacy.purge import ConversationPurge, Removed

logger = logging.getLogger(__name__)

JOB = "privacy-sweep"
# A sweep holds the job this long past its latest batch; a process that died while
# sweeping lets another take over after it.
LEASE_SECONDS = 600

Select = Callable[[PurgeRepository], Awaitable[list[uuid.UUID]]]


def _idle(agent_id: uuid.UUID, before: datetime) -> Select:
    async def select(rows: PurgeRepository) -> list[uuid.UUID]:
        return await rows.idle_sessions(agent_id, before)

    return select


def _deleted(before: datetime) -> Select:
    async def select(rows: PurgeRepository) -> list[uuid.UUID]:
        return await rows.deleted_sessions(before)

    return select


class RetentionSweep:
    def __init__(self, db: Database, purge: ConversationPurge, settings: PrivacySettings) -> None:
        self.db = db
        self.purge = purge
        self.settings = settings
        # Who holds the lease: this sweeper of this process (never anything personal).
        self.holder = f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def sweep(self, now: datetime | None = None) -> Removed | None:
        """Sweep once, if no other process is sweeping; what it removed (``None``:
        another process holds the sweep). ``now`` stands for the present in what is
        old enough to go (tests); the lease always runs on the clock."""
        if not await self._hold(utcnow()):
            return None
        now = now or utcnow()
        removed = Removed()
        try:
            await self._sweep(now, removed)
            if removed.sessions or removed.folders:
                await self.purge.scrub()
        finally:
            await self._release()
        logger.info(
            "privacy sweep removed %d conversations, %d messages, %d feedback, "
            "%d folders and %d reply streams",
            removed.sessions,
            removed.messages,
            removed.feedback,
            removed.folders,
            removed.streams,
        )
        return removed

    async def _sweep(self, now: datetime, removed: Removed) -> None:
        async with self.db.read() as session:
            agents = await PurgeRepository.from_session(session).retained_agents()
        for agent_id, days in agents:
            before = now - timedelta(days=days)
            if not await self._conversations(_idle(agent_id, before), removed):
                return
        grace = now - timedelta(days=self.settings.purge_grace_days)
        if not await self._conversations(_deleted(grace), removed):
            return
        while await self._hold(utcnow()):
            async with self.db.transaction() as session:
                rows = PurgeRepository.from_session(session)
                folders = await rows.folders(await rows.deleted_folders(grace))
            removed.folders += folders
            if not folders:
                return

    async def _conversations(self, select: Select, removed: Removed) -> bool:
        """Remove the sessions ``select`` names, a batch per transaction, until it
        names none; ``False`` if the lease was lost meanwhile."""
        while True:
            async with self.db.transaction() as session:
                rows = PurgeRepository.from_session(session)
                purged = await self.purge.sessions(rows, await select(rows))
            removed.add(purged)
            removed.streams += await self.purge.streams(purged.message_ids)
            if not purged.sessions:
                return True
            if not await self._hold(utcnow()):
                return False

    async def _hold(self, now: datetime) -> bool:
        """Take the lease, or extend it; whether this sweeper holds it."""
        until = now + timedelta(seconds=LEASE_SECONDS)
        try:
            async with self.db.transaction() as session:
                return await LeaseRepository.from_session(session).take(
                    JOB, self.holder, now, until
                )
        except IntegrityError:
            return False  # another process made the lease first, and holds it

    async def _release(self) -> None:
        try:
            async with self.db.transaction() as session:
                await LeaseRepository.from_session(session).release(JOB, self.holder, utcnow())
        except Exception:  # it expires by itself
            logger.warning("could not release the privacy sweep's lease", exc_info=True)

    async def sweep_forever(self) -> None:
        """Sweep every ``sweep_interval_seconds`` (give or take a tenth, so workers
        started together do not all ask at once), the first one interval after start."""
        while True:
            interval = self.settings.sweep_interval_seconds
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))  # noqa: S311
            try:
                await self.sweep()
            except Exception:
                logger.exception("the privacy sweep failed; it runs again later")
