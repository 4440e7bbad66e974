"""Single sign-on from start to end, as the browser goes through it:

1. :meth:`SingleSignOn.start`: a new sign-in, sealed for the browser to keep (see
   :mod:`.flow`), and the provider's URL to send it to.
2. :meth:`SingleSignOn.finish`: the browser is back with a code (or an error). The
   code is exchanged, the ID token checked, the user made or updated, and a
   one-time code issued that the single-page app exchanges for its bearer token
   (``redeemSignInCode``), so that no token ever travels in a URL.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ezhr_graphql.db import Database
from ezhr_graphql.db.base import utcnow
from ezhr_graphql.models.audit import AuditAction
from ezhr_graphql.oidc_settings import OidcSettings
from ezhr_graphql.repositories.sign_in_code import SignInCodeRepository
from ezhr_graphql.services.audit import AuditLog
from ezhr_graphql.services.sso.accounts import SsoAccounts
from ezhr_graphql.services.sso.claims import groups_left_out, identity
from ezhr_graphql.services.sso.errors import SignInError, SignInFailure
from ezhr_graphql.services.sso.flow import FlowSealer, FlowState
from ezhr_graphql.services.sso.provider import OpenIDProvider
from ezhr_graphql.services.user_changes import UserChanges

logger = logging.getLogger(__name__)

# Expired codes are deleted this long after they expire.
_KEEP_EXPIRED = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Started:
    """A sign-in begun: where to send the browser, and what it must keep until it
    comes back (``sealed``, for the sign-in named ``state``)."""

    url: str
    state: str
    sealed: str


@dataclass(frozen=True, slots=True)
class Callback:
    """What the provider sent the browser back with (query parameters)."""

    state: str | None
    code: str | None = None
    error: str | None = None
    error_description: str | None = None
    # RFC 9207: the issuer of the response, when the provider says.
    issuer: str | None = None

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Callback:
        return cls(
            state=params.get("state"),
            code=params.get("code"),
            error=params.get("error"),
            error_description=params.get("error_description"),
            issuer=params.get("iss"),
        )


class SingleSignOn:
    def __init__(
        self,
        db: Database,
        settings: OidcSettings,
        signing_key: str,
        changes: UserChanges,
        provider: OpenIDProvider | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.changes = changes
        self.provider = provider or OpenIDProvider(settings)
        self.sealer = FlowSealer(signing_key, settings.flow_seconds)

    async def start(self) -> Started:
        """Raises:
        SignInError: the provider cannot be used (see :meth:`OpenIDProvider.metadata`).
        """
        flow = FlowState.new()
        url = await self.provider.authorization_url(flow)
        return Started(url=url, state=flow.state, sealed=self.sealer.seal(flow))

    async def finish(
        self, callback: Callback, sealed: str | None, address: str | None = None
    ) -> str:
        """The one-time code of the user the callback signs in. The audit log records
        the sign-in from ``address``, and a failure once the provider has vouched for
        who signs in (a forged or stale callback names nobody and is only logged).

        Raises:
            SignInError: why the sign-in cannot complete (each :class:`SignInFailure`
                but ``DISABLED``).
        """
        flow = self.sealer.open(sealed, callback.state)
        if callback.issuer is not None and callback.issuer != self.provider.issuer:
            raise SignInError(
                SignInFailure.WRONG_ISSUER, "The sign-in response comes from another issuer"
            )
        if callback.error is not None:
            raise _provider_refusal(callback)
        if not callback.code:
            raise SignInError(SignInFailure.PROVIDER_ERROR, "The provider sent no code")
        claims = await self.provider.claims(callback.code, flow)
        try:
            return await self._sign_in(claims, address)
        except SignInError as exc:
            async with self.db.transaction() as session:
                AuditLog(session, address).record(
                    exc.user_id,
                    AuditAction.SIGN_IN_FAILED,
                    None if exc.user_id is None else ("User", exc.user_id),
                    {"method": "sso", "reason": exc.failure.value},
                )
            raise

    async def _sign_in(self, claims: dict[str, Any], address: str | None) -> str:
        hosted = self.settings.hosted_domain
        if hosted and claims.get("hd") != hosted:
            raise SignInError(
                SignInFailure.DOMAIN_NOT_ALLOWED, f"Sign in with an account of {hosted}"
            )
        if groups_left_out(claims, self.settings.claims):
            logger.warning("single sign-on: the provider left out the groups of a user")
        person = identity(self.provider.issuer, claims, self.settings.claims)
        async with self.db.transaction() as session:
            audit = AuditLog(session, address)
            user = await SsoAccounts(session, self.settings, self.changes, audit).sign_in(person)
            audit.record(user.id, AuditAction.SIGN_IN, ("User", user.id), {"method": "sso"})
            return await self._issue_code(SignInCodeRepository.from_session(session), user.id)

    async def _issue_code(self, codes: SignInCodeRepository, user_id: uuid.UUID) -> str:
        now = utcnow()
        await codes.purge(now - _KEEP_EXPIRED)
        code = secrets.token_urlsafe(32)
        codes.issue(user_id, code, now + timedelta(seconds=self.settings.code_seconds))
        await codes.flush()
        return code


def _provider_refusal(callback: Callback) -> SignInError:
    """The error the provider sent back instead of a code (RFC 6749, 4.1.2.1)."""
    detail = (callback.error_description or callback.error or "")[:200]
    if callback.error in ("access_denied", "consent_required", "login_required"):
        return SignInError(SignInFailure.ACCESS_DENIED, f"Sign-in was refused: {detail}")
    return SignInError(SignInFailure.PROVIDER_ERROR, f"The identity provider said: {detail}")
