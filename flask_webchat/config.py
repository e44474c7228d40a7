"""The ``WEBCHAT_*`` configuration keys, their defaults, and the settings read from them.

Settings are read once, in :meth:`flask_webchat.Webchat.init_app`, and checked there, so that a
mistyped value fails when the app starts rather than on some later request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .i18n import parse as parse_locale
from .rooms import NAME_RULE, is_valid_name

#: Every configuration key with its default. The documentation's configuration page is checked
#: against this mapping by the test suite.
DEFAULTS: dict[str, Any] = {
    "WEBCHAT_URL_PREFIX": "/chat",
    "WEBCHAT_REGISTER_BLUEPRINT": True,
    "WEBCHAT_DEFAULT_ROOM": "lobby",
    "WEBCHAT_ROOMS": None,
    "WEBCHAT_ALLOW_ANONYMOUS": True,
    "WEBCHAT_USER_NAME_ATTRIBUTE": None,
    "WEBCHAT_BACKLOG": 50,
    "WEBCHAT_POLL_LIMIT": 200,
    "WEBCHAT_MAX_STREAMS": 10,
    "WEBCHAT_STREAM_TTL": 24 * 60 * 60,
    "WEBCHAT_TRANSPORT": "sse",
    "WEBCHAT_POLL_INTERVAL": 2.0,
    "WEBCHAT_MAX_WAIT": 25.0,
    "WEBCHAT_HEARTBEAT": 15.0,
    "WEBCHAT_NOTIFIER": "memory",
    "WEBCHAT_NOTIFIER_URL": None,
    "WEBCHAT_FALLBACK_POLL": 2.0,
    "WEBCHAT_PRESENCE_GRACE": 30.0,
    "WEBCHAT_PRESENCE_HEARTBEAT": 10.0,
    "WEBCHAT_PRESENCE_LIMIT": 100,
    "WEBCHAT_TYPING_INTERVAL": 2.0,
    "WEBCHAT_GRIP_URL": None,
    "WEBCHAT_GRIP_KEY": None,
    "WEBCHAT_MAX_BODY": 16 * 1024,
    "WEBCHAT_IDEMPOTENCY_TTL": 24 * 60 * 60,
    "WEBCHAT_EDIT_WINDOW": 15 * 60,
    "WEBCHAT_UNREAD_LIMIT": 100,
    "WEBCHAT_TRUSTED_ORIGINS": (),
    "WEBCHAT_RATE_LIMIT": "20/minute",
    "WEBCHAT_RATE_LIMIT_STORAGE": "memory://",
    "WEBCHAT_LOCALE": None,
    "WEBCHAT_CONTENT_SECURITY_POLICY": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'self'"
    ),
}

_ORIGIN = re.compile(r"^https?://[^/\s]+$")
_TRANSPORT = re.compile(r"^(sse|long-poll|poll)$")
_GRIP_URL = re.compile(r"^https?://[^/\s]+(/[^\s]*)?$")


@dataclass(frozen=True)
class Settings:
    """The extension's configuration for one app, as validated values."""

    url_prefix: str
    register_blueprint: bool
    default_room: str
    #: ``None`` (any valid name), the names of the only rooms, or ``(name) -> bool``.
    rooms: tuple[str, ...] | Callable[[str], bool] | None
    allow_anonymous: bool
    user_name_attribute: str | None
    backlog: int
    poll_limit: int
    max_streams: int
    stream_ttl: int
    transport: str
    poll_interval: float
    max_wait: float
    heartbeat: float
    #: A backend name, or the host's own :class:`~flask_webchat.notifiers.Notifier`.
    notifier: Any
    notifier_url: str | None
    fallback_poll: float
    #: Seconds a reader stays present after its last request, and a silent process is believed.
    presence_grace: float
    #: Seconds between two presence heartbeats of one process.
    presence_heartbeat: float
    #: The most readers of one room that one process's heartbeat lists.
    presence_limit: int
    #: The shortest gap between two ``POST /typing`` of one typist, in seconds.
    typing_interval: float
    #: Pushpin's publish endpoint; ``None``: no edge (see :mod:`flask_webchat.web.grip`).
    grip_url: str | None
    #: The key Pushpin signs ``Grip-Sig`` with (its ``sig_key``).
    grip_key: str | None
    max_body: int
    idempotency_ttl: int
    #: Seconds after posting during which authors may edit; ``None``: always.
    edit_window: float | None
    #: Unread counts stop at this many (``unread_capped``): counting reads at most this far.
    unread_limit: int
    trusted_origins: frozenset[str]
    rate_limit: str | None
    rate_limit_storage: str
    content_security_policy: str | None
    #: ``None`` (Accept-Language), a locale such as ``"zh_Hans"``, or ``() -> locale or None``.
    locale: str | Callable[[], str | None] | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read the ``WEBCHAT_*`` keys from a Flask config; a bad value raises ``ValueError``."""
        read = _Reader(config)
        settings = cls(
            url_prefix="/" + read.text("WEBCHAT_URL_PREFIX").strip("/"),
            register_blueprint=bool(read.value("WEBCHAT_REGISTER_BLUEPRINT")),
            default_room=read.room("WEBCHAT_DEFAULT_ROOM"),
            rooms=read.rooms("WEBCHAT_ROOMS"),
            allow_anonymous=bool(read.value("WEBCHAT_ALLOW_ANONYMOUS")),
            user_name_attribute=read.text("WEBCHAT_USER_NAME_ATTRIBUTE", optional=True) or None,
            backlog=read.whole("WEBCHAT_BACKLOG", minimum=0),
            poll_limit=read.whole("WEBCHAT_POLL_LIMIT", minimum=1),
            max_streams=read.whole("WEBCHAT_MAX_STREAMS", minimum=1),
            stream_ttl=read.whole("WEBCHAT_STREAM_TTL", minimum=60),
            transport=read.text("WEBCHAT_TRANSPORT", pattern=_TRANSPORT),
            poll_interval=read.seconds("WEBCHAT_POLL_INTERVAL"),
            max_wait=read.seconds("WEBCHAT_MAX_WAIT"),
            heartbeat=read.seconds("WEBCHAT_HEARTBEAT"),
            notifier=read.value("WEBCHAT_NOTIFIER"),
            notifier_url=read.text("WEBCHAT_NOTIFIER_URL", optional=True) or None,
            fallback_poll=read.seconds("WEBCHAT_FALLBACK_POLL"),
            presence_grace=read.seconds("WEBCHAT_PRESENCE_GRACE"),
            presence_heartbeat=read.seconds("WEBCHAT_PRESENCE_HEARTBEAT"),
            presence_limit=read.whole("WEBCHAT_PRESENCE_LIMIT", minimum=1),
            typing_interval=read.seconds("WEBCHAT_TYPING_INTERVAL"),
            grip_url=read.text("WEBCHAT_GRIP_URL", optional=True, pattern=_GRIP_URL) or None,
            grip_key=read.text("WEBCHAT_GRIP_KEY", optional=True) or None,
            max_body=read.whole("WEBCHAT_MAX_BODY", minimum=1024),
            idempotency_ttl=read.whole("WEBCHAT_IDEMPOTENCY_TTL", minimum=60),
            edit_window=read.optional_seconds("WEBCHAT_EDIT_WINDOW"),
            unread_limit=read.whole("WEBCHAT_UNREAD_LIMIT", minimum=1),
            trusted_origins=read.origins("WEBCHAT_TRUSTED_ORIGINS"),
            rate_limit=read.rate("WEBCHAT_RATE_LIMIT"),
            rate_limit_storage=read.text("WEBCHAT_RATE_LIMIT_STORAGE"),
            content_security_policy=read.text("WEBCHAT_CONTENT_SECURITY_POLICY", optional=True)
            or None,
            locale=read.locale("WEBCHAT_LOCALE"),
        )
        if isinstance(settings.rooms, tuple) and settings.default_room not in settings.rooms:
            raise ValueError(
                f"WEBCHAT_ROOMS must include WEBCHAT_DEFAULT_ROOM ({settings.default_room!r})."
            )
        if settings.grip_url is not None and settings.grip_key is None:
            raise ValueError(
                "WEBCHAT_GRIP_URL needs WEBCHAT_GRIP_KEY: the key Pushpin signs Grip-Sig with"
                " (its sig_key)."
            )
        if settings.presence_heartbeat >= settings.presence_grace:
            raise ValueError(
                "WEBCHAT_PRESENCE_HEARTBEAT must be shorter than WEBCHAT_PRESENCE_GRACE, or a"
                " process's readers would vanish between two of its heartbeats."
            )
        return settings


class _Reader:
    """Reads one key at a time, and names the key in every complaint."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def value(self, key: str) -> Any:
        return self.config.get(key, DEFAULTS[key])

    def text(
        self, key: str, *, optional: bool = False, pattern: re.Pattern[str] | None = None
    ) -> str:
        value = self.value(key)
        if value is None and optional:
            return ""
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            wanted = f"a string matching {pattern.pattern}" if pattern else "a string"
            raise ValueError(f"{key} must be {wanted}, got {value!r}.")
        return value

    def whole(self, key: str, *, minimum: int) -> int:
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{key} must be a whole number of at least {minimum}, got {value!r}.")
        return value

    def rooms(self, key: str) -> tuple[str, ...] | Callable[[str], bool] | None:
        value = self.value(key)
        if value is None or callable(value):
            return value  # type: ignore[no-any-return]
        if isinstance(value, str) or not all(is_valid_name(name) for name in value):
            raise ValueError(
                f"{key} must be None, a list of room names ({NAME_RULE}) or a function of a"
                f" room name, got {value!r}."
            )
        return tuple(value)

    def room(self, key: str) -> str:
        value = self.value(key)
        if not is_valid_name(value):
            raise ValueError(f"{key} must be a room name ({NAME_RULE}), got {value!r}.")
        return value  # type: ignore[no-any-return]

    def origins(self, key: str) -> frozenset[str]:
        value = self.value(key)
        if isinstance(value, str) or not all(
            isinstance(origin, str) and _ORIGIN.match(origin) for origin in value
        ):
            raise ValueError(
                f"{key} must be a list of origins like 'https://app.example.com', got {value!r}."
            )
        return frozenset(value)

    def rate(self, key: str) -> str | None:
        value = self.text(key, optional=True) or None
        try:
            from limits import parse_many  # Flask-Limiter's parser, installed with it
        except ImportError:
            return value  # unused without Flask-Limiter; checked once it is installed
        try:
            if value is not None:
                parse_many(value)
        except ValueError:
            wanted = "a rate like '20/minute' or '5 per 10 seconds'"
            raise ValueError(f"{key} must be {wanted}, got {value!r}.") from None
        return value

    def locale(self, key: str) -> str | Callable[[], str | None] | None:
        value = self.value(key)
        if value is None or callable(value):
            return value  # type: ignore[no-any-return]
        if not isinstance(value, str) or parse_locale(value) is None:
            raise ValueError(
                f"{key} must be None, a locale like 'zh_Hans' or 'en', or a function returning"
                f" one, got {value!r}."
            )
        return value

    def optional_seconds(self, key: str) -> float | None:
        return None if self.value(key) is None else self.seconds(key)

    def seconds(self, key: str) -> float:
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key} must be a number of seconds, got {value!r}.")
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{key} must be a positive, finite number of seconds, got {value!r}.")
        return float(value)
