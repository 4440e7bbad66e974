"""Leases on periodic jobs (see :class:`~ezhr_graphql.models.lease.JobLease`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, or_, select, update
from sqlalchemy.engine import CursorResult

from ezhr_graphql.models import JobLease
from ezhr_graphql.repositories.base import Queries

_LEASE: Table = JobLease.__table__  # type: ignore[assignment]


class LeaseRepository(Queries):
    async def take(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Hold the job ``name`` until ``until`` if nobody else holds it at ``now``
        (``holder`` already holding it extends it). One conditional UPDATE decides:
        of two processes asking at once, the database lets one change the row.

        A job asked for the first time has no row: it is added, and of two processes
        adding it at once, the second's commit fails on the primary key (an
        ``IntegrityError`` for the caller: the other one holds it).
        """
        result = await self.session.execute(
            update(_LEASE)
            .where(
                _LEASE.c.name == name,
                or_(_LEASE.c.expires_at <= now, _LEASE.c.holder == holder),
            )
            .values(holder=holder, expires_at=until)
        )
        assert isinstance(result, CursorResult)
        if result.rowcount == 1:
            return True
        if await self.session.scalar(select(_LEASE.c.name).where(_LEASE.c.name == name)):
            return False
        self.session.add(JobLease(name=name, holder=holder, expires_at=until))
        await self.session.flush()
        return True

    async def release(self, name: str, holder: str, now: datetime) -> None:
        """Let another process take the job at once (if ``holder`` still holds it)."""
        await self.session.execute(
            update(_LEASE)
            .where(_LEASE.c.name == name, _LEASE.c.holder == holder)
            .values(expires_at=now)
        )
