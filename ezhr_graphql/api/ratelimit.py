"""Rate limits at the door of /graphql: HTTP requests per user and per client
address, websocket connections per address. Over a limit, HTTP gets 429 with
``Retry-After`` and a GraphQL-shaped error (``extensions.code`` ``RATE_LIMITED``)."""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from collections.abc import Sequence

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ezhr_graphql.container import Container
from ezhr_graphql.services.security import InvalidTokenError, TokenIssuer
from ezhr_graphql.services.throttle import RateLimitedError, RateLimiter

logger = logging.getLogger(__name__)

LIMITED_PATH = "/graphql"
WEBSOCKET_CLOSE_CODE = 4429  # when the server cannot answer an upgrade with HTTP 429
_AUTHORIZATION = b"authorization"
_FORWARDED_FOR = b"x-forwarded-for"
_WARN_EVERY_SECONDS = 60.0

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(host: str, proxies: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def client_address(scope: Scope, proxies: Sequence[Network]) -> str:
    """The caller's address: the connection's peer, or, when the peer is a trusted
    proxy, the nearest X-Forwarded-For hop that is not (earlier hops are whatever the
    caller chose to send)."""
    client = scope.get("client")
    host = str(client[0]) if client else "unknown"
    if not proxies or not _trusted(host, proxies):
        return host
    hops = b",".join(v for k, v in scope.get("headers", ()) if k == _FORWARDED_FOR)
    for hop in reversed(hops.decode("latin-1").split(",")):
        hop = hop.strip()
        if not hop:
            continue
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:  # a proxy wrote garbage: the last good hop stands
                return host
        host = hop
    return host


class Bearers:
    """The user of a bearer token, remembered once verified: verifying costs tens of
    microseconds per request, a look-up well under one. A remembered token only picks
    the count a request goes to; the view still verifies it for access."""

    def __init__(self, tokens: TokenIssuer, size: int = 10_000) -> None:
        self.tokens = tokens
        self.size = size
        self._known: dict[str, tuple[uuid.UUID, float]] = {}

    def user_id(self, scope: Scope) -> uuid.UUID | None:
        """The user a valid bearer token names; ``None`` without one (the view answers
        bad tokens; here they only count by address)."""
        for name, value in scope.get("headers", ()):
            if name == _AUTHORIZATION:
                scheme, _, token = value.decode("latin-1").partition(" ")
                token = token.strip()
                if scheme.lower() != "bearer" or not token:
                    return None
                return self._verified(token)
        return None

    def _verified(self, token: str) -> uuid.UUID | None:
        known = self._known.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        try:
            claims = self.tokens.verify(token)
        except InvalidTokenError:
            return None  # not remembered: forged tokens must not fill the memory
        if len(self._known) >= self.size:
            self._known.pop(next(iter(self._known)))  # the oldest first
        self._known[token] = (claims.user_id, claims.expires_at.timestamp())
        return claims.user_id


def _error_body(exc: RateLimitedError) -> bytes:
    message = f"{exc.message}; try again in {exc.retry_after} seconds"
    extensions = {"code": "RATE_LIMITED", "limit": exc.limit, "retryAfter": exc.retry_after}
    return orjson.dumps({"errors": [{"message": message, "extensions": extensions}]})


def _headers(body: bytes, exc: RateLimitedError) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(exc.retry_after).encode()),
    ]


class RateLimit:
    """Pure ASGI middleware in front of /graphql; other paths pass untouched.

    If the counter's store (Redis) fails, requests pass: an outage of the limiter
    must not become an outage of the API (readiness reports Redis)."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.limiter: RateLimiter = container.rate_limits
        self.bearers = Bearers(container.tokens)
        self.proxies = [
            ipaddress.ip_network(entry, strict=False)
            for entry in container.settings.rate_limit.trusted_proxies
        ]
        self._warned_at = -_WARN_EVERY_SECONDS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and scope["path"] == LIMITED_PATH:
            address = client_address(scope, self.proxies)
            try:
                await self.limiter.request(self.bearers.user_id(scope), address)
            except RateLimitedError as exc:
                body = _error_body(exc)
                await send(
                    {"type": "http.response.start", "status": 429, "headers": _headers(body, exc)}
                )
                await send({"type": "http.response.body", "body": body})
                return
            except Exception:
                self._warn()
        elif kind == "websocket" and scope["path"] == LIMITED_PATH:
            try:
                await self.limiter.connection(client_address(scope, self.proxies))
            except RateLimitedError as exc:
                await _refuse(scope, receive, send, exc)
                return
            except Exception:
                self._warn()
        await self.app(scope, receive, send)

    def _warn(self) -> None:
        # Once a minute at most: an outage would otherwise log every request.
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning("rate limits unavailable; letting requests through", exc_info=True)


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: RateLimitedError) -> None:
    """Refuse a websocket upgrade: HTTP 429 where the server can answer one, else
    accept and close at once with 4429 so the client still learns why.

    uvicorn's websockets-sansio protocol logs a spurious "returned without completing
    handshake" error after a denial response (Kludex/uvicorn#3138); the client gets
    the 429 all the same."""
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        body = _error_body(exc)
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 429,
                "headers": _headers(body, exc),
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    offered = scope.get("subprotocols") or []
    await send({"type": "websocket.accept", "subprotocol": offered[0] if offered else None})
    await send(
        {"type": "websocket.close", "code": WEBSOCKET_CLOSE_CODE, "reason": "Too many connections"}
    )
