"""Login throttling: failed sign-ins are counted per email and per client address in a
window; past the limit, sign-in is refused until the window ends. With Redis the
counts are shared by every process, so adding workers does not add attempts."""

from __future__ import annotations

import time
from typing import Any, Protocol

from ezhr_graphql.errors import LimitExceededError
from ezhr_graphql.settings import AuthSettings

PREFIX = "ezhr:throttle:"


class AttemptCounter(Protocol):
    async def count(self, key: str) -> int: ...

    async def hit(self, key: str, window: int) -> int: ...

    async def clear(self, key: str) -> None: ...


class MemoryCounter:
    """Counts in this process (one server process, or tests)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self.max_keys = max_keys

    def _live(self, key: str) -> int:
        found = self._counts.get(key)
        if found is None:
            return 0
        if found[1] <= time.monotonic():
            del self._counts[key]
            return 0
        return found[0]

    async def count(self, key: str) -> int:
        return self._live(key)

    async def hit(self, key: str, window: int) -> int:
        current = self._live(key)
        expires = self._counts[key][1] if current else time.monotonic() + window
        if not current and len(self._counts) >= self.max_keys:
            self._counts.pop(next(iter(self._counts)))  # the oldest first
        self._counts[key] = (current + 1, expires)
        return current + 1

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)


class RedisCounter:
    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def count(self, key: str) -> int:
        value = await self.redis.get(PREFIX + key)
        return int(value or 0)

    async def hit(self, key: str, window: int) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(PREFIX + key)
            pipe.expire(PREFIX + key, window, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def clear(self, key: str) -> None:
        await self.redis.delete(PREFIX + key)


class LoginThrottle:
    def __init__(self, counter: AttemptCounter, settings: AuthSettings) -> None:
        self.counter = counter
        self.settings = settings

    @staticmethod
    def _keys(email: str, address: str) -> tuple[str, str]:
        return f"login:email:{email.strip().lower()}", f"login:address:{address}"

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
        window = self.settings.login_window_seconds
        for key in self._keys(email, address):
            await self.counter.hit(key, window)

    async def succeeded(self, email: str) -> None:
        await self.counter.clear(self._keys(email, "")[0])
