"""An event stream's inbox: the ephemeral events (presence, typing) waiting to be written.

The presence hub puts them in from whichever thread hears them; the stream takes them after its
next batch. Kept apart from :mod:`flask_webchat.presence`, which decides what goes in.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

#: Ephemeral events a stream keeps while it has not written them (older ones are dropped).
INBOX_SIZE = 32


class Inbox:
    """The ephemeral events waiting for one event stream: presence changes and typing."""

    def __init__(self, room: str, key: str, *, presence: bool, typing: bool = True) -> None:
        self.room, self.key, self.presence, self.typing = room, key, presence, typing
        self._events: deque[tuple[str, dict[str, Any]]] = deque(maxlen=INBOX_SIZE)
        self._lock = threading.Lock()

    def put(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            if kind == "presence":  # only the latest presence matters
                self._events = deque((e for e in self._events if e[0] != kind), INBOX_SIZE)
            self._events.append((kind, data))

    def pending(self) -> bool:
        """Whether events wait to be taken."""
        return bool(self._events)

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        """Every event waiting, oldest first; the inbox is then empty."""
        with self._lock:
            events, self._events = list(self._events), deque(maxlen=INBOX_SIZE)
        return events
