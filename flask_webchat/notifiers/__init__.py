"""Notifiers wake the requests that wait for news: one module per backend, as in Flask-Session.

``WEBCHAT_NOTIFIER`` picks one by name (``"memory"``, ``"redis"``, ``"postgres"``), or is an
instance of :class:`Notifier` built by the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import ListeningNotifier, Notifier, Signal
from .memory import MemoryNotifier

__all__ = [
    "ListeningNotifier",
    "MemoryNotifier",
    "Notifier",
    "PostgresNotifier",
    "RedisNotifier",
    "Signal",
    "create_notifier",
]


def __getattr__(name: str) -> Any:
    # The Redis and PostgreSQL backends import their client libraries only when asked for.
    if name == "RedisNotifier":
        from .redis import RedisNotifier

        return RedisNotifier
    if name == "PostgresNotifier":
        from .postgres import PostgresNotifier

        return PostgresNotifier
    raise AttributeError(name)


def create_notifier(
    choice: str | Notifier, *, url: str | None, database_url: Callable[[], Any]
) -> Notifier:
    """The notifier named by ``WEBCHAT_NOTIFIER`` (or the instance given there).

    ``database_url`` gives the host's database, where the ``postgres`` notifier listens unless
    ``WEBCHAT_NOTIFIER_URL`` names another.
    """
    if isinstance(choice, Notifier):
        return choice
    if choice == "memory":
        return MemoryNotifier()
    if choice == "redis":
        if not url:
            raise ValueError("WEBCHAT_NOTIFIER 'redis' needs WEBCHAT_NOTIFIER_URL=redis://….")
        from .redis import RedisNotifier

        return RedisNotifier(url)
    if choice == "postgres":
        from .postgres import PostgresNotifier

        try:
            return PostgresNotifier(url or database_url())
        except ValueError as error:
            raise ValueError(f"WEBCHAT_NOTIFIER 'postgres': {error}") from None
    raise ValueError(
        "WEBCHAT_NOTIFIER must be 'memory', 'redis', 'postgres' or a Notifier instance,"
        f" got {choice!r}."
    )
