"""Single sign-on in the browser: two routes the single-page app sends it through.

- ``GET /auth/oidc/login``: starts a sign-in and redirects to the provider. The
  sign-in's state, nonce and PKCE verifier go with the browser in a signed, HttpOnly,
  SameSite=Lax cookie named after the state and read by the callback only, so two
  tabs may sign in at once and any worker may finish what another started.
- ``GET /auth/oidc/callback``: the provider's redirect back. It ends at the
  single-page app (``oidc.spa_url``): ``#code=<one-time code>`` to exchange with the
  ``redeemSignInCode`` mutation, or ``#error=<code>&error_description=<text>``. The
  fragment never reaches a server, and the code is worth nothing once redeemed or a
  minute old; the bearer token itself never appears in a URL.

With single sign-on off, both answer 404 with the code ``SSO_DISABLED``.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ezhr_graphql.api.guards.ratelimit import client_host, trusted_proxies
from ezhr_graphql.container import Container
from ezhr_graphql.db.errors import SERVICE_UNAVAILABLE, unavailable
from ezhr_graphql.oidc_settings import OidcSettings
from ezhr_graphql.services.sso import Callback, SignInError, SignInFailure, SingleSignOn
from ezhr_graphql.services.sso.flow import STATE_PATTERN

logger = logging.getLogger(__name__)

COOKIE_PREFIX = "ezhr_oidc_"
SERVER_ERROR = "SERVER_ERROR"
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _disabled() -> Response:
    body = {
        "error": SignInFailure.DISABLED.value,
        "message": "Single sign-on is not configured on this server",
    }
    return JSONResponse(body, status_code=404, headers=_NO_STORE)


class SignInRoutes:
    def __init__(self, container: Container) -> None:
        self.container = container
        settings: OidcSettings = container.settings.oidc
        self.spa_url = settings.spa_url or ""
        callback = urlsplit(settings.redirect_url or "")
        # The cookie goes back to the callback only, over https when it is https.
        self.cookie_path = callback.path or "/"
        self.secure = callback.scheme == "https"
        self.flow_seconds = settings.flow_seconds

    def routes(self) -> list[Route]:
        return [
            Route("/auth/oidc/login", self.login, methods=["GET"]),
            Route("/auth/oidc/callback", self.callback, methods=["GET"]),
        ]

    def _to_spa(self, **fragment: str) -> Response:
        return RedirectResponse(
            f"{self.spa_url}#{urlencode(fragment)}", status_code=303, headers=_NO_STORE
        )

    async def login(self, _: Request) -> Response:
        sso = self.container.single_sign_on
        if sso is None:
            return _disabled()
        try:
            started = await sso.start()
        except Exception as exc:
            return self._failed(exc)
        response = RedirectResponse(started.url, status_code=302, headers=_NO_STORE)
        response.set_cookie(
            COOKIE_PREFIX + started.state,
            started.sealed,
            max_age=self.flow_seconds,
            path=self.cookie_path,
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )
        return response

    async def callback(self, request: Request) -> Response:
        sso = self.container.single_sign_on
        if sso is None:
            return _disabled()
        callback = Callback.of(request.query_params)
        state = callback.state or ""
        cookie = COOKIE_PREFIX + state if STATE_PATTERN.match(state) else None
        response = await self._finish(
            sso, callback, cookie and request.cookies.get(cookie), self._address(request)
        )
        if cookie is not None:
            # One sign-in, one use: its cookie goes whatever the outcome.
            response.delete_cookie(
                cookie, path=self.cookie_path, secure=self.secure, httponly=True, samesite="lax"
            )
        return response

    def _address(self, request: Request) -> str:
        proxies = trusted_proxies(self.container.settings.rate_limit.trusted_proxies)
        return client_host(request.scope, proxies)

    async def _finish(
        self, sso: SingleSignOn, callback: Callback, sealed: str | None, address: str
    ) -> Response:
        try:
            code = await sso.finish(callback, sealed, address)
        except Exception as exc:
            return self._failed(exc)
        return self._to_spa(code=code)

    def _failed(self, exc: Exception) -> Response:
        """The single-page app, told why signing in failed: a sign-in refused, the
        database out of reach, or (logged) anything else, never a bare 500."""
        if isinstance(exc, SignInError):
            logger.info("single sign-on refused: %s", exc.failure.value)
            return self._to_spa(error=exc.failure.value, error_description=exc.message)
        if unavailable(exc):
            logger.warning("single sign-on: the database is unavailable", exc_info=exc)
            return self._to_spa(error=SERVICE_UNAVAILABLE, error_description="Try again shortly")
        logger.error("single sign-on failed unexpectedly", exc_info=exc)
        return self._to_spa(error=SERVER_ERROR, error_description="Sign-in failed")
