"""Leases on periodic jobs: which process runs a job that only one may run at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Unicode
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base

LEASE_NAME_LENGTH = 100
HOLDER_LENGTH = 200


class JobLease(Base):
    """One row per job, made when a process first asks for it. A process holds the
    job while ``expires_at`` is ahead; another takes it once it has passed. No
    ``deleted_at``: a lease is never hidden, only taken over."""

    __tablename__ = "job_lease"

    name: Mapped[str] = mapped_column(Unicode(LEASE_NAME_LENGTH), primary_key=True)
    holder: Mapped[str] = mapped_column(Unicode(HOLDER_LENGTH))
    expires_at: Mapped[datetime]
