"""Settings: django-eventstream with its database storage, the database from PEER_DATABASE_URL.

``PEER_DATABASE_URL`` is ``sqlite:////absolute/path.sqlite3`` or
``postgresql://user[:password]@host:port/name``. No sessions, no auth, no CSRF middleware: the
peer does only what the benchmark asks of it.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit


def _database(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


SECRET_KEY = "bench-only, never deployed"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django_eventstream"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "django_site.urls"
ASGI_APPLICATION = "django_site.asgi.application"
DATABASES = {"default": _database(os.environ["PEER_DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
# Reliable delivery as its README sets it up: each event is saved (with a per-channel counter)
# before it is published, and a reader who reconnects with Last-Event-ID gets what it missed.
EVENTSTREAM_STORAGE_CLASS = "django_eventstream.storage.DjangoModelStorage"
# Errors to the server's log (Django mails them when DEBUG is off).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "ERROR"}},
}
