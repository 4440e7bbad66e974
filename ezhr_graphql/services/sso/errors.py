"""Why a single sign-on failed: a code the single-page app receives as
``#error=<code>`` and may act on, and a message for people."""

from __future__ import annotations

import uuid
from enum import StrEnum

from ezhr_graphql.errors import DomainError


class SignInFailure(StrEnum):
    # Single sign-on is not configured on this server.
    DISABLED = "SSO_DISABLED"
    # The sign-in's state is missing, expired, forged or for another sign-in (the
    # browser took too long, or the callback was not for this browser).
    STATE_INVALID = "STATE_INVALID"
    # The person declined, or the provider would not sign them in to this app.
    ACCESS_DENIED = "ACCESS_DENIED"
    # The provider answered with another error, or with something unusable.
    PROVIDER_ERROR = "PROVIDER_ERROR"
    # The provider could not be reached (or its discovery document is unusable).
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    # The token endpoint refused the authorization code: used already, expired, or
    # not issued to this client with this PKCE verifier.
    CODE_REJECTED = "CODE_REJECTED"
    # A discovery document, callback or ID token names another issuer than configured.
    WRONG_ISSUER = "WRONG_ISSUER"
    # The ID token is meant for another client.
    WRONG_AUDIENCE = "WRONG_AUDIENCE"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105 - a failure's name
    # The ID token's nonce is not the one this sign-in sent (a replayed token).
    NONCE_MISMATCH = "NONCE_MISMATCH"
    # The ID token's signature does not verify with the provider's keys.
    BAD_SIGNATURE = "BAD_SIGNATURE"
    # The ID token is malformed, or one of its other claims is not valid.
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 - a failure's name
    # The claims lack what an account needs (a valid email) or contradict each other.
    CLAIMS_INVALID = "CLAIMS_INVALID"
    # The account is not of the configured Google Workspace domain.
    DOMAIN_NOT_ALLOWED = "DOMAIN_NOT_ALLOWED"
    # Another account holds the email, and the provider's word cannot link them.
    EMAIL_IN_USE = "EMAIL_IN_USE"
    ACCOUNT_DEACTIVATED = "ACCOUNT_DEACTIVATED"


class SignInError(DomainError):
    """A single sign-on that cannot complete, and why."""

    def __init__(
        self, failure: SignInFailure, message: str, user_id: uuid.UUID | None = None
    ) -> None:
        super().__init__(message)
        self.failure = failure
        # The account the sign-in was for, when one is known (for the audit log).
        self.user_id = user_id
