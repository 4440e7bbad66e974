"""Telling a database that cannot be reached from a statement it refused."""

from __future__ import annotations

import socket

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# How an operation that needed an unreachable database ends, wherever it ran (a
# request, a reply's run): a code clients can act on (try again) and its words.
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = "The service is unavailable right now; please try again shortly"

# Raised as they are (not wrapped by SQLAlchemy) while a new connection is opened:
# asyncpg's refusals of a server starting, stopping or full. Named, so that this
# module imports no driver.
_REFUSED_CONNECTIONS = frozenset(
    {
        "PostgresConnectionError",
        "CannotConnectNowError",
        "TooManyConnectionsError",
        "ConnectionDoesNotExistError",
    }
)


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached or its connection
    broke (worth trying again shortly), rather than a statement it refused.

    That is: a connection refused, cut or timed out (drivers raise OSErrors,
    OperationalError or InterfaceError; SQLAlchemy flags a broken connection
    invalidated), a server starting, stopping or full, SQLite's locked or unreadable
    file, or no connection free in the pool in time.
    """
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    if isinstance(exc, (PoolTimeoutError, ConnectionError, TimeoutError, socket.gaierror)):
        return True
    return any(cls.__name__ in _REFUSED_CONNECTIONS for cls in type(exc).__mro__)
