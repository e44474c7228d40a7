"""The ``redis`` notifier: Redis pub/sub, for many processes or hosts."""

from __future__ import annotations

import logging
from typing import Any

from .base import ListeningNotifier, announcement, parse_announcement

logger = logging.getLogger("flask_webchat.notifiers")


class RedisNotifier(ListeningNotifier):
    """Announces writes on a Redis pub/sub channel that every process listens to.

    Needs the ``redis`` package (the ``redis`` extra). Redis only carries the wake-up call: when
    it is down, posts still succeed, and readers get them within ``WEBCHAT_FALLBACK_POLL``.

    :param url: The Redis server, e.g. ``redis://127.0.0.1:6379/0``.
    :param channel: The pub/sub channel. ``WEBCHAT_NOTIFIER = "redis"`` uses one named after
        the site's database, so that sites sharing a Redis do not hear each other.
    """

    def __init__(self, url: str, *, channel: str = "webchat") -> None:
        super().__init__()
        import redis  # only needed by this backend

        self.url, self.channel = url, channel
        # Short timeouts: a post must not hang on a Redis that does not answer.
        self._options: dict[str, Any] = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
        self._publisher = redis.Redis.from_url(url, **self._options)

    def after_commit(self, room: str, position: int) -> None:
        import redis

        try:
            self._publisher.publish(self.channel, announcement(room, position))
        except redis.RedisError as error:
            logger.warning("webchat: could not announce a write on Redis: %s", error)

    @property
    def ephemeral_channel(self) -> str:
        """Where presence heartbeats and typing travel, beside the wake-ups."""
        return self.channel + ":ephemeral"

    def publish_ephemeral(self, payload: str) -> None:
        import redis

        try:
            self._publisher.publish(self.ephemeral_channel, payload)
        except redis.RedisError as error:
            logger.warning("webchat: could not publish presence on Redis: %s", error)

    def listen(self) -> None:
        import redis

        client = redis.Redis.from_url(url=self.url, **self._options)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel, self.ephemeral_channel)
            self.wake_all()  # anything announced while we were not subscribed
            ephemeral = self.ephemeral_channel.encode()
            while not self.closed:
                # get_message waits with its own timeout, so socket_timeout does not apply here;
                # a server that goes away closes the socket, which raises.
                message = pubsub.get_message(timeout=1.0)
                if message is None or message["type"] != "message":
                    continue
                data = message["data"].decode(errors="replace")
                if message["channel"] == ephemeral:
                    self.deliver_ephemeral(data)
                else:
                    self.wake(*parse_announcement(data))
        finally:
            pubsub.close()
            client.close()
