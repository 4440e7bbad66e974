"""Rate limits at the door of /graphql: HTTP requests per user and per client
address, websocket connections per address. Over a limit, HTTP gets 429 with
``Retry-After`` and a GraphQL-shaped error (``extensions.code`` ``RATE_LIMITED``).

Operations started over a websocket count against the same request limits (the
gate counts them, see :mod:`.gate`), and each process caps the websockets open at once per
user and per address (:class:`OpenWebSockets`)."""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ezhr_graphql.api.guards.websocket import MessageRefused
from ezhr_graphql.container import Container
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.security import InvalidTokenError, TokenIssuer
from ezhr_graphql.services.throttle import RateLimitedError, RateLimiter

logger = logging.getLogger(__name__)

LIMITED_PATH = "/graphql"
WEBSOCKET_CLOSE_CODE = 4429  # when the server cannot answer an upgrade with HTTP 429
# Where the middleware puts a websocket's :class:`Ticket` in the ASGI scope.
TICKET_KEY = "ezhr.websocket_ticket"
# Retry-After for a refusal over the cap of open websockets (nothing to wait out but
# another connection closing).
_OPEN_RETRY_AFTER = 5
_AUTHORIZATION = b"authorization"
_FORWARDED_FOR = b"x-forwarded-for"

_K = TypeVar("_K")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parsed(host: str) -> Address | None:
    """``host`` as an address, IPv4-mapped IPv6 as the IPv4 it maps; ``None`` if it
    is no address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _bucket(host: str) -> str:
    """The count an address goes to: an IPv4 address, or an IPv6 address's /64 (one
    subscriber is routinely given a whole /64, so each of its addresses counting
    apart would multiply every per-address limit by 2**64)."""
    address = _parsed(host)
    if address is None:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def _trusted(host: str, proxies: Sequence[Network]) -> bool:
    address = _parsed(host)
    if address is None:
        return False
    return any(address in network for network in proxies)


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_proxies(entries: Iterable[str]) -> Sequence[Network]:
    """The networks of ``rate_limit.trusted_proxies``, parsed once."""
    return _networks(tuple(entries))


def client_address(scope: Scope, proxies: Sequence[Network]) -> str:
    """The address a caller is counted by: its :func:`client_host`, IPv6 addresses by
    their /64, IPv4-mapped ones as IPv4."""
    return _bucket(client_host(scope, proxies))


def client_host(scope: Scope, proxies: Sequence[Network]) -> str:
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
            if _parsed(hop) is None:  # a proxy wrote garbage: the last good hop stands
                return host
            return hop
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


def rate_limited_error(exc: RateLimitedError) -> dict[str, Any]:
    """The GraphQL error (as sent) telling a caller it is over a limit."""
    message = f"{exc.message}; try again in {exc.retry_after} seconds"
    extensions = {"code": "RATE_LIMITED", "limit": exc.limit, "retryAfter": exc.retry_after}
    return {"message": message, "extensions": extensions}


def _error_body(exc: RateLimitedError) -> bytes:
    return orjson.dumps({"errors": [rate_limited_error(exc)]})


def _headers(body: bytes, exc: RateLimitedError) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(exc.retry_after).encode()),
    ]


class Ticket:
    """One open websocket's place in :class:`OpenWebSockets`: its address from the
    start, its user once known. :meth:`release` is idempotent."""

    def __init__(self, owner: OpenWebSockets, address: str) -> None:
        self.owner = owner
        self.address = address
        self.user_id: uuid.UUID | None = None
        self.released = False

    def claim_user(self, user_id: uuid.UUID) -> bool:
        """Count this connection for ``user_id``; false if that user has as many open
        as allowed (the connection is then counted for nobody)."""
        if self.released or self.user_id == user_id:
            return True
        owner = self.owner
        self._drop_user()
        if owner.by_user[user_id] >= owner.per_user:
            return False
        owner.by_user[user_id] += 1
        self.user_id = user_id
        return True

    def _drop_user(self) -> None:
        if self.user_id is not None:
            _decrement(self.owner.by_user, self.user_id)
            self.user_id = None

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        self._drop_user()
        _decrement(self.owner.by_address, self.address)


def _decrement(counts: Counter[_K], key: _K) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]  # no empty entries left behind


class OpenWebSockets:
    """Websockets open at once, per address and per signed-in user.

    Counted in this process only: a connection lives in one process, so the count
    cannot outlive it (a crash leaves no count behind, as it would in Redis), at the
    price that with N worker processes a caller may hold up to N times each cap."""

    def __init__(self, per_user: int, per_address: int) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.by_address: Counter[str] = Counter()
        self.by_user: Counter[uuid.UUID] = Counter()

    def open(self, address: str) -> Ticket | None:
        """A ticket for a new connection from ``address``, to release when it ends;
        ``None`` if that address has as many open as allowed."""
        if self.by_address[address] >= self.per_address:
            return None
        self.by_address[address] += 1
        return Ticket(self, address)


def claim_websocket(scope: Mapping[str, Any] | None, actor: Actor | None) -> None:
    """Count a websocket for its signed-in user (the middleware counted its address).

    Raises:
        MessageRefused: the user has as many websockets open as allowed; the handler
            closes the connection with its protocol's "too many" code.
    """
    ticket = (scope or {}).get(TICKET_KEY)
    if isinstance(ticket, Ticket) and actor is not None and not ticket.claim_user(actor.id):
        raise MessageRefused("rate", "Too many connections for this user")


class RateLimit:
    """Pure ASGI middleware in front of /graphql; other paths pass untouched.

    If the counter's store (Redis) fails, requests pass: an outage of the limiter
    must not become an outage of the API (readiness reports Redis)."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.limiter: RateLimiter = container.rate_limits
        self.bearers = Bearers(container.tokens)
        settings = container.settings.rate_limit
        self.proxies = trusted_proxies(settings.trusted_proxies)
        self.open = OpenWebSockets(settings.websockets_per_user, settings.websockets_per_address)

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
                self.limiter.unavailable()
        elif kind == "websocket" and scope["path"] == LIMITED_PATH:
            address = client_address(scope, self.proxies)
            try:
                await self.limiter.connection(address)
            except RateLimitedError as exc:
                await _refuse(scope, receive, send, exc)
                return
            except Exception:
                self.limiter.unavailable()
            ticket = self.open.open(address)
            if ticket is None:
                refusal = RateLimitedError(
                    "openConnections",
                    "Too many open websocket connections from this address",
                    _OPEN_RETRY_AFTER,
                )
                await _refuse(scope, receive, send, refusal)
                return
            try:
                await self.app({**scope, TICKET_KEY: ticket}, receive, send)
            finally:  # however the connection ends
                ticket.release()
            return
        await self.app(scope, receive, send)


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
