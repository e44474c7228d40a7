"""Notifiers wake the requests that wait for news: one module per backend, as in Flask-Session.

``WEBCHAT_NOTIFIER`` picks one by name (``"memory"``, ``"redis"``, ``"postgres"``), or is an
instance of :class:`Notifier` built by the host.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from .base import ListeningNotifier, Notifier, Wakeup
from .memory import MemoryNotifier

__all__ = [
    "ListeningNotifier",
    "MemoryNotifier",
    "Notifier",
    "PostgresNotifier",
    "RedisNotifier",
    "Wakeup",
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

        # A channel of the site's own: sites sharing one Redis do not hear each other.
        database = database_url().render_as_string(hide_password=True)
        return RedisNotifier(
            url, channel=f"webchat:{hashlib.sha1(database.encode()).hexdigest()[:12]}"
        )
    if choice == "postgres":
        from .postgres import PostgresNotifier

        # The NOTIFY goes out in the posting transaction: on the app's own database.
        database = database_url()
        if database.get_backend_name() != "postgresql":
            raise ValueError(
                "WEBCHAT_NOTIFIER 'postgres' needs the app's database to be PostgreSQL,"
                f" not {database.get_backend_name()}."
            )
        return PostgresNotifier(url or database)
    raise ValueError(
        "WEBCHAT_NOTIFIER must be 'memory', 'redis', 'postgres' or a Notifier instance,"
        f" got {choice!r}."
    )
