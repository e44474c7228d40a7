"""The ``WEBCHAT_*`` configuration keys, their defaults, and the settings read from them.

Settings are read once, in :meth:`flask_webchat.Webchat.init_app`, and checked there, so that a
mistyped value fails when the app starts rather than on some later request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Every configuration key with its default. The documentation's configuration page is checked
#: against this mapping by the test suite.
DEFAULTS: dict[str, Any] = {
    "WEBCHAT_URL_PREFIX": "/chat",
    "WEBCHAT_REGISTER_BLUEPRINT": True,
    "WEBCHAT_DEFAULT_ROOM": "lobby",
    "WEBCHAT_ALLOW_ANONYMOUS": True,
    "WEBCHAT_USER_NAME_ATTRIBUTE": None,
    "WEBCHAT_BACKLOG": 50,
    "WEBCHAT_POLL_LIMIT": 200,
    "WEBCHAT_MAX_STREAMS": 10,
    "WEBCHAT_POLL_INTERVAL": 2.0,
    "WEBCHAT_MAX_BODY": 16 * 1024,
}

ROOM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Settings:
    """The extension's configuration for one app, as validated values."""

    url_prefix: str
    register_blueprint: bool
    default_room: str
    allow_anonymous: bool
    user_name_attribute: str | None
    backlog: int
    poll_limit: int
    max_streams: int
    poll_interval: float
    max_body: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read the ``WEBCHAT_*`` keys from a Flask config, raising ``ValueError`` on bad ones."""

        def get(key: str) -> Any:
            return config.get(key, DEFAULTS[key])

        settings = cls(
            url_prefix="/" + str(get("WEBCHAT_URL_PREFIX")).strip("/"),
            register_blueprint=bool(get("WEBCHAT_REGISTER_BLUEPRINT")),
            default_room=str(get("WEBCHAT_DEFAULT_ROOM")),
            allow_anonymous=bool(get("WEBCHAT_ALLOW_ANONYMOUS")),
            user_name_attribute=get("WEBCHAT_USER_NAME_ATTRIBUTE"),
            backlog=_whole(get, "WEBCHAT_BACKLOG", minimum=0),
            poll_limit=_whole(get, "WEBCHAT_POLL_LIMIT", minimum=1),
            max_streams=_whole(get, "WEBCHAT_MAX_STREAMS", minimum=1),
            poll_interval=float(get("WEBCHAT_POLL_INTERVAL")),
            max_body=_whole(get, "WEBCHAT_MAX_BODY", minimum=1024),
        )
        if not ROOM_NAME.match(settings.default_room):
            raise ValueError(
                "WEBCHAT_DEFAULT_ROOM must be 1 to 64 lowercase letters, digits, '-' or '_',"
                f" got {settings.default_room!r}."
            )
        if settings.poll_interval <= 0:
            raise ValueError("WEBCHAT_POLL_INTERVAL must be a positive number of seconds.")
        return settings


def _whole(get: Any, key: str, *, minimum: int) -> int:
    value = get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key} must be a whole number of at least {minimum}, got {value!r}.")
    return value
