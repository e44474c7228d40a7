"""The ``memory`` notifier: for a single process, with threads or gevent greenlets."""

from __future__ import annotations

from .base import Notifier


class MemoryNotifier(Notifier):
    """Wakes the waiters of the process that wrote, and nobody else.

    The default, and all that ``flask run`` or a single gunicorn worker needs. Under several
    processes a write only wakes its own process's waiters; the others still see it, within
    ``WEBCHAT_FALLBACK_POLL`` seconds. Use ``redis`` or ``postgres`` there.
    """

    def after_commit(self, room: str, position: int) -> None:
        self.wake(room, position)
