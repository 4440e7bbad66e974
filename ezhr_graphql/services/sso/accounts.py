"""Accounts made and kept up to date by single sign-on (just in time): at each
sign-in the user the provider names by issuer and subject is found or created, and
takes the email, name, role and employee attributes the provider asserts."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.models import AuditAction, EmploymentType, Role, User
from ezhr_graphql.oidc_settings import OidcSettings
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services.attributes import MAX_GROUPS, Attributes, name
from ezhr_graphql.services.audit import AuditLog
from ezhr_graphql.services.sso.claims import DirectoryAttributes, Identity, role_for
from ezhr_graphql.services.sso.errors import SignInError, SignInFailure
from ezhr_graphql.services.user_changes import UserChanges

logger = logging.getLogger(__name__)

# What the audit log says of a change the identity provider's directory made.
BY = {"by": "directory"}


class SsoAccounts:
    def __init__(
        self,
        session: AsyncSession,
        settings: OidcSettings,
        changes: UserChanges,
        audit: AuditLog | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.changes = changes
        self.users = UserRepository.from_session(session)
        self.audit = audit or AuditLog(session)

    async def sign_in(self, identity: Identity) -> User:
        """The user ``identity`` signs in as, created or brought up to date.

        Raises:
            SignInError: ``ACCOUNT_DEACTIVATED``, or ``EMAIL_IN_USE``: a first
                sign-in with the email of an account that cannot be linked to it.
        """
        user = await self.users.get_by_identity(identity.issuer, identity.subject)
        if user is None:
            user = await self._first_sign_in(identity)
        known = user.id is not None  # an account that existed before this sign-in
        before = (user.role, Attributes.of(user))
        if not user.active:
            raise SignInError(
                SignInFailure.ACCOUNT_DEACTIVATED, "This account is deactivated", user.id
            )
        changed = await self._update(user, identity)
        apply_directory_attributes(user, identity.attributes)
        await self.users.flush()
        if known:
            self._record(user, *before)
        if changed:
            self.changes.after_commit(self.session, user.id)
        return user

    def _record(self, user: User, role: Role, attributes: Attributes) -> None:
        """The directory's changes to an existing account, in the audit log: made by
        nobody in the product (no actor), through the provider."""
        target = ("User", user.id)
        if user.role is not role:
            self.audit.record(
                None, AuditAction.USER_ROLE_CHANGED, target, {"role": user.role.value, **BY}
            )
        if Attributes.of(user) != attributes:
            self.audit.record(None, AuditAction.USER_ATTRIBUTES_CHANGED, target, BY)

    async def _first_sign_in(self, identity: Identity) -> User:
        """A new user, or the local account with the same email when it has no
        identity at a provider yet and the provider vouches for the email."""
        existing = await self.users.get_by_email(identity.email)
        if existing is None:
            return self.users.add(
                User(
                    email=identity.email,
                    display_name=identity.display_name,
                    # No password signs in an account made by single sign-on.
                    password_hash="",
                    role=Role.MEMBER,
                    sso_issuer=identity.issuer,
                    sso_subject=identity.subject,
                )
            )
        trusted = identity.email_verified or self.settings.trust_email
        if existing.sso_subject is not None or not trusted:
            raise SignInError(
                SignInFailure.EMAIL_IN_USE,
                "Another account uses this email; ask an administrator to link them",
                existing.id,
            )
        existing.sso_issuer, existing.sso_subject = identity.issuer, identity.subject
        return existing

    async def _update(self, user: User, identity: Identity) -> bool:
        """Take the provider's email, name and role; whether the email or role (what
        the API's cache of users holds) changed."""
        before = (user.email, user.role)
        user.display_name = identity.display_name
        if identity.email != user.email:
            holder = await self.users.get_by_email(identity.email)
            if holder is None:
                user.email = identity.email
            else:
                logger.warning("single sign-on: a new email of user %s is taken", user.id)
        role = role_for(identity.groups, self.settings.admin_groups)
        if role is not None:
            user.role = role
        return (user.email, user.role) != before


def apply_directory_attributes(user: User, claimed: DirectoryAttributes) -> None:
    """The employee attributes the provider asserts replace the user's, one by one,
    checked as ``UserService.set_attributes`` checks them; an attribute whose claim
    is not configured (not in ``claimed``) keeps what an administrator set.

    A malformed value (a country that is no ISO code, an unknown employment type, a
    group too long) is logged and left unknown rather than kept from before: an
    attribute the directory took away or changed must not go on admitting the user
    to documents for another country or group. Only the malformed group is dropped.
    """
    values: dict[str, Any] = {}
    for attribute, value in claimed.items():
        if attribute == "groups":
            values["groups"] = tuple(_groups(user, value))
            continue
        try:
            values[attribute] = _checked(attribute, value)
        except (ValueError, InvalidInputError) as exc:
            logger.warning(
                "single sign-on: user %s: the provider's %s is malformed and left unknown (%s)",
                user.id,
                attribute,
                exc,
            )
            values[attribute] = None
    dataclasses.replace(Attributes.of(user), **values).apply(user)


def _checked(attribute: str, value: str | list[str] | None) -> Any:
    """One attribute's claimed value in its stored form (``None``: not known).

    Raises:
        ValueError: an employment type that is none of ours.
        InvalidInputError: a value ``Attributes.cleaned`` refuses.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    given: Any = EmploymentType(value.strip().upper()) if attribute == "employment_type" else value
    return getattr(Attributes(**{attribute: given}).cleaned(), attribute)


def _groups(user: User, claimed: str | list[str] | None) -> list[str]:
    """The claimed groups that are well formed (each checked alone)."""
    kept: list[str] = []
    for group in claimed if isinstance(claimed, list) else []:
        try:
            kept.append(name("groups", group))
        except InvalidInputError as exc:
            logger.warning("single sign-on: user %s: a malformed group dropped (%s)", user.id, exc)
    return list(dict.fromkeys(kept))[:MAX_GROUPS]
