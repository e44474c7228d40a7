"""The ``postgres`` notifier: PostgreSQL's LISTEN/NOTIFY, for sites without Redis."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .base import ListeningNotifier, announcement, parse_announcement

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger("flask_webchat.notifiers")


class PostgresNotifier(ListeningNotifier):
    """Announces writes with ``NOTIFY`` on the site's own PostgreSQL database.

    The ``NOTIFY`` is part of the writing transaction, so PostgreSQL delivers it exactly when the
    write becomes visible, and never for a write that rolled back. Each process keeps one
    connection of its own to ``LISTEN`` on, outside the pool. Needs ``psycopg`` (the
    ``postgres`` extra), which cooperates with gevent by itself.

    :param url: Where to listen, as a SQLAlchemy or libpq URL: the host's database, which is
        also where the writes send their ``NOTIFY``. Give a direct URL when the app connects
        through a transaction-pooling proxy (PgBouncer), where ``LISTEN`` does not work.
    :param channel: The channel name (a plain identifier).
    """

    def __init__(self, url: str | sa.URL, *, channel: str = "webchat") -> None:
        super().__init__()
        if not channel.isidentifier():
            raise ValueError(f"A PostgreSQL channel must be a plain identifier, got {channel!r}.")
        parsed = sa.make_url(url)
        if parsed.get_backend_name() != "postgresql":
            shown = parsed.render_as_string(hide_password=True)
            raise ValueError(f"The postgres notifier needs a PostgreSQL database, not {shown}.")
        # libpq understands "postgresql://…", not SQLAlchemy's "+driver" part.
        self.conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.channel = channel
        self._sender: Any = None
        self._sending = threading.Lock()

    def before_commit(self, session: Session, room: str, position: int) -> None:
        session.execute(
            sa.select(sa.func.pg_notify(self.channel, announcement(room, position)))
        ).close()

    @property
    def ephemeral_channel(self) -> str:
        """Where presence heartbeats and typing travel, beside the wake-ups."""
        return self.channel + "_ephemeral"

    def publish_ephemeral(self, payload: str) -> None:
        import psycopg

        # One connection of this process's own, outside any transaction and the host's pool:
        # a heartbeat is one NOTIFY, whatever the number of readers.
        with self._sending:
            for _ in range(2):
                try:
                    if self._sender is None or self._sender.closed:
                        self._sender = psycopg.connect(
                            self.conninfo, autocommit=True, connect_timeout=2
                        )
                    self._sender.execute(
                        "SELECT pg_notify(%s, %s)", (self.ephemeral_channel, payload)
                    )
                    return
                except psycopg.Error as error:
                    problem = error
                    self._sender = None
            logger.warning("webchat: could not publish presence on PostgreSQL: %s", problem)

    def listen(self) -> None:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=2) as connection:
            connection.execute(f"LISTEN {self.channel}")
            connection.execute(f"LISTEN {self.ephemeral_channel}")
            self.wake_all()  # anything announced while we were not listening
            while not self.closed:
                for notice in connection.notifies(timeout=1.0):
                    if notice.channel == self.ephemeral_channel:
                        self.deliver_ephemeral(notice.payload)
                    else:
                        self.wake(*parse_announcement(notice.payload))
