"""What a sign-in must remember between sending the browser to the provider and the
browser coming back: the state (against forged callbacks), the nonce (against
replayed ID tokens) and the PKCE verifier (against stolen codes).

Nothing is kept on the server: the three travel in a cookie only this server can
have made (an HS256 JWT under a key derived from the signing key, for this purpose
only) that expires with the sign-in. The cookie is HttpOnly and read at the callback
alone (see ezhr_graphql/api/transport/oidc.py), so any worker can finish a sign-in
another one started.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from ezhr_graphql.services.sso.errors import SignInError, SignInFailure

_PURPOSE = b"ezhr-graphql single sign-on flow"
_AUDIENCE = "ezhr-oidc-flow"
# A state we issue: URL-safe base64 of 32 random bytes; also names the cookie.
STATE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_EXPIRED = "This sign-in is unknown or took too long: start again"


@dataclass(frozen=True, slots=True)
class FlowState:
    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> FlowState:
        # 32 random bytes each; a PKCE verifier must be 43 to 128 characters.
        return cls(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),
        )


class FlowSealer:
    """Seals a :class:`FlowState` into a cookie value, and opens it again."""

    def __init__(self, signing_key: str, ttl_seconds: int) -> None:
        self._key = hmac.new(signing_key.encode(), _PURPOSE, hashlib.sha256).hexdigest()
        self.ttl = timedelta(seconds=ttl_seconds)

    def seal(self, flow: FlowState, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims = {
            "aud": _AUDIENCE,
            "iat": int(issued.timestamp()),
            "exp": int((issued + self.ttl).timestamp()),
            "st": flow.state,
            "n": flow.nonce,
            "v": flow.verifier,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def open(self, sealed: str | None, state: str | None) -> FlowState:
        """The sign-in the callback's ``state`` belongs to, from its cookie.

        Raises:
            SignInError: ``STATE_INVALID``: no cookie, not ours, expired, or for
                another state.
        """
        if not sealed or not state or not STATE_PATTERN.match(state):
            raise SignInError(SignInFailure.STATE_INVALID, _EXPIRED)
        try:
            claims = jwt.decode(
                sealed,
                self._key,
                algorithms=["HS256"],
                audience=_AUDIENCE,
                options={"require": ["exp", "st", "n", "v"]},
            )
            flow = FlowState(state=claims["st"], nonce=claims["n"], verifier=claims["v"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise SignInError(SignInFailure.STATE_INVALID, _EXPIRED) from exc
        if not isinstance(flow.state, str) or not hmac.compare_digest(flow.state, state):
            raise SignInError(SignInFailure.STATE_INVALID, _EXPIRED)
        return flow
