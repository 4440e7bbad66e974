"""Counting what callers do in fixed windows: failed sign-ins per email and address,
requests and websocket connections per user and address, reply runs per user.

A window starts at a key's first hit and lasts ``window`` seconds; the count resets
when it ends (a fixed window: a caller can reach twice a limit across the boundary of
two windows, which is accepted for one Redis round trip per check). With Redis the
counts are shared by every process, so adding workers does not add allowance."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ezhr_graphql.errors import LimitExceededError
from ezhr_graphql.settings import AuthSettings, RateLimitSettings

logger = logging.getLogger(__name__)

PREFIX = "ezhr:throttle:"
# Every rate limit counts in windows of one minute: the settings say "per minute".
RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Hit:
    """A key's count after a hit, and the seconds until its window ends."""

    count: int
    resets_in: float


class AttemptCounter(Protocol):
    async def count(self, key: str) -> int: ...

    async def hit(self, key: str, window: int) -> int: ...

    async def hits(self, keys: Sequence[str], window: int) -> list[Hit]: ...

    async def clear(self, key: str) -> None: ...


class MemoryCounter:
    """Counts in this process (one server process, or tests).

    Holds at most ``max_keys`` keys. When full, keys whose window has ended go first;
    only when every key is live does the oldest inserted make room (so a flood of new
    keys cannot push out a live lockout while expired keys remain). The sweep runs
    only once the earliest live window it saw can have ended, so a full table of live
    keys costs one sweep per expiry, not one per hit."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self.max_keys = max_keys
        self._next_expiry = 0.0  # no key expires before this (monotonic) time

    def _live(self, key: str, now: float) -> int:
        found = self._counts.get(key)
        if found is None:
            return 0
        if found[1] <= now:
            del self._counts[key]
            return 0
        return found[0]

    def _make_room(self, now: float) -> None:
        if now >= self._next_expiry:
            expired = [key for key, (_, expires) in self._counts.items() if expires <= now]
            for key in expired:
                del self._counts[key]
            self._next_expiry = min(
                (expires for _, expires in self._counts.values()), default=math.inf
            )
        if len(self._counts) >= self.max_keys:
            self._counts.pop(next(iter(self._counts)))  # all live: the oldest first

    def _hit(self, key: str, window: int, now: float) -> Hit:
        current = self._live(key, now)
        expires = self._counts[key][1] if current else now + window
        if not current:
            if len(self._counts) >= self.max_keys:
                self._make_room(now)
            self._next_expiry = min(self._next_expiry, expires)
        self._counts[key] = (current + 1, expires)
        return Hit(current + 1, expires - now)

    async def count(self, key: str) -> int:
        return self._live(key, time.monotonic())

    async def hit(self, key: str, window: int) -> int:
        return self._hit(key, window, time.monotonic()).count

    async def hits(self, keys: Sequence[str], window: int) -> list[Hit]:
        now = time.monotonic()
        return [self._hit(key, window, now) for key in keys]

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)


class RedisCounter:
    """Counts shared by every process using one Redis. ``prefix`` keeps apart the
    deployments (or test runs) that share a Redis."""

    def __init__(self, redis: Any, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix

    async def count(self, key: str) -> int:
        value = await self.redis.get(self.prefix + key)
        return int(value or 0)

    async def hit(self, key: str, window: int) -> int:
        return (await self.hits([key], window))[0].count

    async def hits(self, keys: Sequence[str], window: int) -> list[Hit]:
        # One round trip for all keys; EXPIRE NX starts the window at the first hit only.
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.incr(self.prefix + key)
                pipe.expire(self.prefix + key, window, nx=True)
                pipe.pttl(self.prefix + key)
            replies = await pipe.execute()
        found = []
        for i in range(len(keys)):
            count, _, ttl_ms = replies[3 * i : 3 * i + 3]
            found.append(Hit(int(count), max(int(ttl_ms), 0) / 1000))
        return found

    async def clear(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)


class RateLimitedError(LimitExceededError):
    """A rate limit is reached; ``retry_after`` is the whole seconds until the window
    that refused ends."""

    def __init__(self, limit: str, message: str, retry_after: int) -> None:
        super().__init__(limit, message)
        self.retry_after = retry_after


def _retry_after(hit: Hit) -> int:
    return max(1, math.ceil(hit.resets_in))


_WARN_EVERY_SECONDS = 60.0


class RateLimiter:
    """Requests and websocket connections per user and address, and reply runs per
    user, each counted in windows of :data:`RATE_WINDOW_SECONDS`.

    Each count waits at most ``settings.counter_timeout_seconds`` for its store
    (Redis) and raises ``TimeoutError`` past that. Callers let the operation through
    when counting fails (an outage of the limiter must not become an outage of the
    API; readiness reports Redis) and call :meth:`unavailable` to say so."""

    def __init__(self, counter: AttemptCounter, settings: RateLimitSettings) -> None:
        self.counter = counter
        self.settings = settings
        self._warned_at = -_WARN_EVERY_SECONDS

    async def _hits(self, keys: Sequence[str]) -> list[Hit]:
        async with asyncio.timeout(self.settings.counter_timeout_seconds):
            return await self.counter.hits(keys, RATE_WINDOW_SECONDS)

    def unavailable(self) -> None:
        """Log that counting failed and the caller goes unlimited: once a minute at
        most, as an outage would otherwise log every request. Call from an ``except``
        block (the warning carries the exception)."""
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning("rate limits unavailable; letting requests through", exc_info=True)

    async def request(self, user_id: uuid.UUID | None, address: str) -> None:
        """Count one request of ``user_id`` (``None``: no valid token) from
        ``address``: an HTTP request, or an operation started over a websocket.

        Raises:
            RateLimitedError: the user or the address is over its limit.
        """
        settings = self.settings
        if user_id is None:
            keys: Sequence[str] = (f"rate:req:addr:{address}",)
        else:
            keys = (f"rate:req:addr:{address}", f"rate:req:user:{user_id}")
        hits = await self._hits(keys)
        by_address = hits[0]
        if by_address.count > settings.requests_per_minute_per_address:
            raise RateLimitedError(
                "requestsPerMinute",
                "Too many requests from this address",
                _retry_after(by_address),
            )
        if len(hits) > 1 and hits[1].count > settings.requests_per_minute_per_user:
            raise RateLimitedError(
                "requestsPerMinute", "Too many requests from this user", _retry_after(hits[1])
            )

    async def connection(self, address: str) -> None:
        """Count one websocket connection attempt from ``address``.

        Raises:
            RateLimitedError: the address opened too many connections this minute.
        """
        (hit,) = await self._hits((f"rate:ws:addr:{address}",))
        if hit.count > self.settings.websocket_connects_per_minute_per_address:
            raise RateLimitedError(
                "connectionsPerMinute",
                "Too many websocket connections from this address",
                _retry_after(hit),
            )

    async def run(self, user_id: uuid.UUID) -> None:
        """Count one reply run started by ``user_id``.

        Raises:
            RateLimitedError: the user started as many replies this minute as allowed.
        """
        (hit,) = await self._hits((f"rate:run:user:{user_id}",))
        limit = self.settings.runs_per_minute_per_user
        if hit.count > limit:
            seconds = _retry_after(hit)
            raise RateLimitedError(
                "runsPerMinute",
                f"At most {limit} replies can be started per minute; try again in {seconds} "
                "seconds",
                seconds,
            )


class LoginThrottle:
    """Failed sign-ins per email and per client address. Give it a counter of its own:
    a counter shared with the request limits lets a flood of requests push a lockout
    out of memory."""

    def __init__(self, counter: AttemptCounter, settings: AuthSettings) -> None:
        self.counter = counter
        self.settings = settings

    @staticmethod
    def _keys(email: str, address: str) -> tuple[str, str]:
        # The email's digest, not the email: a key of bounded length whatever is typed.
        digest = hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()
        return f"login:email:{digest}", f"login:address:{address}"

    async def check(self, email: str, address: str) -> None:
        """Raises:
        LimitExceededError: too many failed sign-ins for this email or address.
        """
        by_email, by_address = self._keys(email, address)
        if (
            await self.counter.count(by_email) >= self.settings.login_attempts_per_email
            or await self.counter.count(by_address) >= self.settings.login_attempts_per_address
        ):
            minutes = max(1, self.settings.login_window_seconds // 60)
            raise LimitExceededError(
                "loginAttempts",
                f"Too many failed sign-ins; try again in up to {minutes} minutes",
            )

    async def failed(self, email: str, address: str) -> None:
        await self.counter.hits(self._keys(email, address), self.settings.login_window_seconds)

    async def succeeded(self, email: str) -> None:
        await self.counter.clear(self._keys(email, "")[0])
