"""The OpenID Connect provider, as a client of it sees it: its discovery document
(``.well-known/openid-configuration``), the authorization request of the code flow
with PKCE (S256) and a nonce, the code exchange, the ID token's checks and the
userinfo endpoint. Authlib speaks OAuth 2.0 and validates the discovery document;
joserfc checks signatures (see :mod:`.id_token`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ezhr_graphql.oidc_settings import OidcSettings
from ezhr_graphql.services.sso.errors import SignInError, SignInFailure
from ezhr_graphql.services.sso.flow import FlowState
from ezhr_graphql.services.sso.id_token import (
    Expected,
    UnknownKey,
    signing_algorithms,
    verify_id_token,
)

logger = logging.getLogger(__name__)

_UNREACHABLE = "The identity provider cannot be reached; try again shortly"


def _unavailable(what: str) -> SignInError:
    return SignInError(SignInFailure.PROVIDER_UNAVAILABLE, f"The identity provider's {what}")


class OpenIDProvider:
    """One configured provider; what it publishes is read once and kept for
    ``metadata_cache_seconds`` (its keys are read again when a token names a new
    one)."""

    def __init__(self, settings: OidcSettings) -> None:
        assert settings.issuer is not None
        assert settings.client_id is not None
        self.settings = settings
        self.issuer = settings.issuer
        self.client_id = settings.client_id
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._read_at = 0.0

    def _http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(timeout=self.settings.http_timeout_seconds)

    async def _get_json(self, url: str, what: str, **headers: str) -> dict[str, Any]:
        """Raises:
        SignInError: ``PROVIDER_UNAVAILABLE``: unreachable, not 200, or not a JSON
            object.
        """
        try:
            async with self._http() as http:
                response = await http.get(url, headers=headers)
            response.raise_for_status()
            value = response.json()
        except httpx2.HTTPError as exc:
            logger.warning("identity provider: %s at %s failed: %s", what, url, exc)
            raise SignInError(SignInFailure.PROVIDER_UNAVAILABLE, _UNREACHABLE) from exc
        except ValueError as exc:
            raise _unavailable(f"{what} is not JSON") from exc
        if not isinstance(value, dict):
            raise _unavailable(f"{what} is not a JSON object")
        return value

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, checked.

        Raises:
            SignInError: ``PROVIDER_UNAVAILABLE`` (unreachable or invalid), or
                ``WRONG_ISSUER``: the document names another issuer than configured.
        """
        fresh = time.monotonic() - self._read_at < self.settings.metadata_cache_seconds
        if self._metadata is not None and fresh:
            return self._metadata
        url = get_well_known_url(self.issuer, external=True)
        metadata = OpenIDProviderMetadata(await self._get_json(url, "discovery document"))
        try:
            metadata.validate()
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise _unavailable(f"discovery document is not valid: {exc}") from exc
        if metadata["issuer"] != self.issuer:
            raise SignInError(
                SignInFailure.WRONG_ISSUER,
                f"The discovery document names the issuer {metadata['issuer']!r}, "
                f"not {self.issuer!r} as configured",
            )
        self._metadata, self._keys, self._read_at = dict(metadata), None, time.monotonic()
        return self._metadata

    async def _key_set(self, metadata: Mapping[str, Any], *, again: bool = False) -> KeySet:
        if self._keys is None or again:
            published = await self._get_json(metadata["jwks_uri"], "key set")
            try:
                self._keys = KeySet.import_key_set(published)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise _unavailable("key set is not valid") from exc
        return self._keys

    def _client(self) -> AsyncOAuth2Client:
        secret = self.settings.client_secret
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=None if secret is None else secret.get_secret_value(),
            token_endpoint_auth_method=self.settings.token_endpoint_auth_method,
            scope=" ".join(self.settings.scopes),
            redirect_uri=self.settings.redirect_url,
            code_challenge_method="S256",
            timeout=self.settings.http_timeout_seconds,
        )

    async def authorization_url(self, flow: FlowState) -> str:
        """Where to send the browser to sign in.

        Raises:
            SignInError: see :meth:`metadata`.
        """
        metadata = await self.metadata()
        extra = {"nonce": flow.nonce}
        if self.settings.hosted_domain:
            extra["hd"] = self.settings.hosted_domain
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=flow.state,
                code_verifier=flow.verifier,
                **extra,
            )
        return str(url)

    async def claims(self, code: str, flow: FlowState) -> dict[str, Any]:
        """The verified claims of the person an authorization ``code`` signs in: the
        ID token's, completed by the userinfo endpoint's when configured.

        Raises:
            SignInError: the code is refused (``CODE_REJECTED``), the provider fails
                (``PROVIDER_ERROR``, ``PROVIDER_UNAVAILABLE``), or a check of the ID
                token does not hold (see :func:`verify_id_token`).
        """
        metadata = await self.metadata()
        tokens = await self._exchange(metadata, code, flow)
        id_token, access_token = tokens.get("id_token"), tokens.get("access_token")
        if not isinstance(id_token, str):
            raise SignInError(SignInFailure.PROVIDER_ERROR, "The provider sent no ID token")
        expected = Expected(
            issuer=self.issuer,
            client_id=self.client_id,
            nonce=flow.nonce,
            access_token=access_token if isinstance(access_token, str) else None,
            leeway=self.settings.clock_skew_seconds,
        )
        claims = await self._verify(metadata, id_token, expected)
        endpoint = metadata.get("userinfo_endpoint")
        if self.settings.userinfo and isinstance(endpoint, str) and expected.access_token:
            claims = {**await self._userinfo(endpoint, expected.access_token, claims), **claims}
        return claims

    async def _exchange(
        self, metadata: Mapping[str, Any], code: str, flow: FlowState
    ) -> dict[str, Any]:
        try:
            async with self._client() as client:
                tokens = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=flow.verifier,
                )
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                raise SignInError(
                    SignInFailure.CODE_REJECTED,
                    "The provider refused the sign-in code (used already, or expired)",
                ) from exc
            raise SignInError(
                SignInFailure.PROVIDER_ERROR, f"The provider refused the code: {exc.error}"
            ) from exc
        except httpx2.HTTPError as exc:
            logger.warning("identity provider: the code exchange failed: %s", exc)
            raise SignInError(SignInFailure.PROVIDER_UNAVAILABLE, _UNREACHABLE) from exc
        except ValueError as exc:
            raise SignInError(
                SignInFailure.PROVIDER_ERROR, "The provider's token response is not JSON"
            ) from exc
        return dict(tokens)

    async def _verify(
        self, metadata: Mapping[str, Any], id_token: str, expected: Expected
    ) -> dict[str, Any]:
        algorithms = signing_algorithms(metadata.get("id_token_signing_alg_values_supported"))
        try:
            return verify_id_token(id_token, await self._key_set(metadata), algorithms, expected)
        except UnknownKey:
            # The provider may have rolled its keys since they were read.
            keys = await self._key_set(metadata, again=True)
            try:
                return verify_id_token(id_token, keys, algorithms, expected)
            except UnknownKey as exc:
                raise SignInError(
                    SignInFailure.BAD_SIGNATURE,
                    "The ID token is signed with a key the provider does not publish",
                ) from exc

    async def _userinfo(
        self, endpoint: str, access_token: str, claims: Mapping[str, Any]
    ) -> dict[str, Any]:
        info = await self._get_json(endpoint, "userinfo", Authorization=f"Bearer {access_token}")
        if info.get("sub") != claims.get("sub"):
            # OpenID Connect Core 5.3.2: such an answer must not be used.
            raise SignInError(
                SignInFailure.CLAIMS_INVALID, "The userinfo answer is about someone else"
            )
        return info
