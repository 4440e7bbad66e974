"""The sections of the settings about what people said: what HR sees of it
(``EZHR_INSIGHTS__...``) and how long it is kept (``EZHR_PRIVACY__...``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class InsightsSettings(BaseModel):
    # A group of similar questions is shown only when at least this many different
    # people asked them: fewer could point at who asked.
    min_group_size: int = Field(default=3, ge=2, le=1000)
    # A reply whose best passage scored under this is a question the handbook answers
    # poorly (on the sample handbooks, under about 0.5 meant not at all).
    low_score: float = Field(default=0.5, ge=0.0, le=1.0)
    # The newest questions with a signal an insights request reads and groups.
    max_questions: int = Field(default=1000, ge=10, le=10_000)


class PrivacySettings(BaseModel):
    # Conversations (and folders) a user deleted are kept this long, then removed for
    # real by the retention sweep; 0 removes them at the next sweep.
    purge_grace_days: int = Field(default=30, ge=0, le=3650)
    # How often each server process offers to sweep (one of them does, the others
    # find the sweep taken); the first sweep comes one interval after start.
    sweep_interval_seconds: float = Field(default=3600.0, gt=0)
