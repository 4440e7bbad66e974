"""Erasure: a member's conversations and personal data removed for real, on their
own request or an administrator's, in one transaction.

What goes: every session (deleted ones too), message, feedback and folder of theirs,
their sign-in codes, their reply streams (after the commit), and the user row's
personal fields (it stays as a tombstone: agents and documents they made point at
it). Their tokens stop working in every process at once. What stays: company
knowledge, and an audit event holding counts only.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db import after_commit, utcnow
from ezhr_graphql.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ezhr_graphql.models import AuditAction
from ezhr_graphql.pubsub import BrokerUnavailable
from ezhr_graphql.repositories.purge import PurgeRepository
from ezhr_graphql.repositories.user import ERASED_DOMAIN, UserRepository
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.audit import AuditLog
from ezhr_graphql.services.messages import Runs
from ezhr_graphql.services.privacy.purge import ConversationPurge, Removed
from ezhr_graphql.services.user_changes import UserChanges

CONFIRM_LENGTH = 320


@dataclass(frozen=True, slots=True)
class Erased:
    user_id: uuid.UUID
    removed: Removed


class Erasure:
    def __init__(
        self,
        session: AsyncSession,
        purge: ConversationPurge,
        runs: Runs,
        changes: UserChanges,
        audit: AuditLog,
    ) -> None:
        self.session = session
        self.purge = purge
        self.runs = runs
        self.changes = changes
        self.audit = audit
        self.users = UserRepository.from_session(session)
        self.rows = PurgeRepository.from_session(session)

    async def erase_self(self, actor: Actor, confirm: str) -> Erased:
        """The actor erases themself; ``confirm`` must be their email address.

        Raises:
            InvalidInputError: ``confirm`` is not the actor's email (field ``confirm``).
            NotFoundError: the actor's account is gone.
        """
        email = await self.users.email_of_any(actor.id)
        if email is None:
            raise NotFoundError("User", actor.id)
        given = confirm[:CONFIRM_LENGTH].strip().lower()
        if given != email.lower():
            raise InvalidInputError("confirm", "Type your email address to confirm the erasure")
        if actor.is_admin and await self.users.active_admins() <= 1:
            raise PermissionDeniedError(
                "The last administrator cannot erase themself: make someone else an "
                "administrator first"
            )
        return await self._erase(actor, actor.id)

    async def erase_user(self, actor: Actor, user_id: uuid.UUID) -> Erased:
        """An administrator erases another user (deleted or deactivated ones too).

        Raises:
            ForbiddenError: the actor is not an administrator.
            PermissionDeniedError: the user is the actor (they use ``eraseMyData``).
            NotFoundError: no such user, or already erased.
        """
        actor.require_admin()
        if user_id == actor.id:
            raise PermissionDeniedError(
                "Administrators erase their own data with eraseMyData, not eraseUser"
            )
        email = await self.users.email_of_any(user_id)
        if email is None or email.endswith(f"@{ERASED_DOMAIN}"):
            raise NotFoundError("User", user_id)
        return await self._erase(actor, user_id)

    async def _erase(self, actor: Actor, user_id: uuid.UUID) -> Erased:
        # Nothing new of theirs starts meanwhile: their sessions, then their user row,
        # locked in the order a send locks them (the other order deadlocks with it).
        await self.rows.lock_owned_sessions(user_id)
        await self.users.lock(user_id)
        running = await self.rows.streaming_replies(user_id)
        removed = Removed()
        message_ids: list[uuid.UUID] = []
        while ids := await self.rows.owned_sessions(user_id):
            purged = await self.purge.sessions(self.rows, ids)
            removed.add(purged)
            message_ids.extend(purged.message_ids)
        removed.feedback += await self.rows.feedback_by(user_id)
        while folders := await self.rows.owned_folders(user_id):
            removed.folders += await self.rows.folders(folders)
        await self.rows.sign_in_codes(user_id)
        await self.users.tombstone(user_id, utcnow())
        # Their tokens are refused and their websockets closed, in every process.
        self.changes.after_commit(self.session, user_id)

        async def stop_and_forget() -> None:
            for message_id in running:
                with contextlib.suppress(BrokerUnavailable):
                    await self.runs.request_stop(message_id)
            # A run still going removes its own stream once it finds its reply gone.
            await self.purge.streams(message_ids)
            await self.purge.scrub()

        after_commit(self.session, stop_and_forget)
        details = {key: value for key, value in removed.details().items() if key != "streams"}
        self.audit.record(actor.id, AuditAction.USER_ERASED, ("User", user_id), details)
        return Erased(user_id, removed)
