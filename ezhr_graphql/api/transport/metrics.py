"""``/metrics`` (Prometheus), for whom operators allow: callers from the networks of
``server.metrics_allow``, callers sending ``server.metrics_token``, or both. With
neither, production serves loopback callers only; development and test serve anyone."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ezhr_graphql.api.guards.ratelimit import client_host, trusted_proxies
from ezhr_graphql.container import Container
from ezhr_graphql.observe.metrics import INGESTION_QUEUE_DEPTH, exposition
from ezhr_graphql.settings import Environment, Settings

logger = logging.getLogger(__name__)

# Who reads /metrics in production when neither a token nor an allow-list is set: a
# scraper or an operator on the host itself, never the open network.
LOOPBACK = ("127.0.0.0/8", "::1")


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


class MetricsAccess:
    """Who may read /metrics: with ``server.metrics_allow``, callers from those
    networks only (403 otherwise); with ``server.metrics_token``, callers sending it as
    a bearer token only (401 otherwise); with both, both. With neither, production
    allows loopback addresses only (see :data:`LOOPBACK`), and other environments
    anyone."""

    def __init__(self, settings: Settings) -> None:
        token = settings.server.metrics_token
        self.token = None if token is None else token.get_secret_value().encode()
        allow = settings.server.metrics_allow
        if not allow and token is None and settings.env is Environment.PRODUCTION:
            allow = list(LOOPBACK)
        self.allowed = [ipaddress.ip_network(n, strict=False) for n in allow]
        self.proxies = trusted_proxies(settings.rate_limit.trusted_proxies)

    def refusal(self, request: Request) -> Response | None:
        """The answer to a caller who may not read the metrics; ``None`` for one who may."""
        if self.allowed and not self._from_allowed(request):
            return _error(403, "Metrics are not served to this address", "FORBIDDEN")
        if self.token is not None and not _bearer_is(request, self.token):
            return _error(
                401,
                "Metrics need `Authorization: Bearer <metrics token>`",
                "UNAUTHENTICATED",
                {"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return None

    def _from_allowed(self, request: Request) -> bool:
        try:
            address = ipaddress.ip_address(client_host(request.scope, self.proxies))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed)


def _bearer_is(request: Request, token: bytes) -> bool:
    """Whether the request's bearer token is ``token`` (compared in constant time)."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token)


def metrics_route(settings: Settings, container: Container) -> Route:
    access = MetricsAccess(settings)

    async def metrics(request: Request) -> Response:
        refused = access.refusal(request)
        if refused is not None:
            return refused
        try:
            INGESTION_QUEUE_DEPTH.set(await container.ingestion_queue.depth())
        except Exception:  # the queue's backend is down; readiness says so
            logger.debug("ingestion queue depth unavailable", exc_info=True)
        # Off the event loop: however large the exposition, requests go on meanwhile.
        body, content_type = await asyncio.to_thread(exposition)
        return Response(body, media_type=content_type)

    return Route("/metrics", metrics)
