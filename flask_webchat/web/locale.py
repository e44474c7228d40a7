"""The reader's language: which catalog a request is answered from, and the strings for the page.

Chosen once per request, in this order: the host's Flask-Babel locale selector when Flask-Babel is
initialised on the app; else ``WEBCHAT_LOCALE`` (a locale, or a function returning one or
``None``); else the best of the catalogs for the request's ``Accept-Language``; else English. A
host's own ``webchat`` catalogs in ``<app root>/translations`` override the shipped ones, and
may add languages.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.extract import extract
from babel.messages.pofile import read_po
from babel.support import NullTranslations
from flask import Flask, current_app, g, has_app_context, has_request_context, request
from markupsafe import Markup, escape

from .. import i18n
from ..state import get_state

_LOCALE = "_webchat_locale"
_STATIC = Path(__file__).resolve().parent.parent / "static" / "webchat"
# The client's scripts: every string they pass to _() reaches the page in its language (a test
# fails when a script with strings is missing here).
_SCRIPTS = ("client.js", "webchat.js", "conversation.js", "unread.js", "presence.js")


def catalog_directories(app: Flask | None = None) -> tuple[Path, ...]:
    """Where ``webchat`` catalogs are looked up: the host's ``translations`` folder first."""
    app = app or current_app
    return (Path(app.root_path) / "translations", i18n.TRANSLATIONS)


def available_locales(app: Flask | None = None) -> tuple[str, ...]:
    """The locales the chat can speak on this app, English first."""
    return _available(catalog_directories(app))


@lru_cache(maxsize=16)
def _available(directories: tuple[Path, ...]) -> tuple[str, ...]:
    return i18n.shipped_locales(directories)


def current_locale() -> str:
    """The locale of the catalog this request is answered from, e.g. ``zh_Hans`` or ``en``."""
    if not has_request_context():
        return _fixed_locale() or i18n.SOURCE_LOCALE
    if _LOCALE not in g:
        setattr(g, _LOCALE, _select())
    return getattr(g, _LOCALE)  # type: ignore[no-any-return]


def _select() -> str:
    available = available_locales()
    wanted: list[str] = []
    if "babel" in current_app.extensions:  # the host's Flask-Babel decides, as for its pages
        from flask_babel import get_locale  # type: ignore[import-untyped]

        chosen = get_locale()
        if chosen is not None:
            wanted.append(str(chosen))
    else:
        configured = get_state().settings.locale
        chosen = configured() if callable(configured) else configured
        if chosen:
            wanted.append(str(chosen))
        if chosen is None or callable(configured):  # a fixed locale is not second-guessed
            wanted.extend(tag for tag, _quality in request.accept_languages)
    return i18n.negotiate(wanted, available) or i18n.SOURCE_LOCALE


def _fixed_locale() -> str | None:
    # Outside a request (the CLI, host code): a fixed WEBCHAT_LOCALE, else the environment;
    # before the app is there (click parsing an option), the environment and shipped catalogs.
    if not has_app_context():
        return i18n.negotiate(i18n.environment_locales(), i18n.shipped_locales())
    configured = get_state().settings.locale
    wanted = [configured] if isinstance(configured, str) else i18n.environment_locales()
    return i18n.negotiate(wanted, available_locales())


def current_translations() -> NullTranslations:
    """The ``webchat`` catalog of :func:`current_locale`."""
    if not has_app_context():
        return i18n.load(current_locale())
    return i18n.load(current_locale(), catalog_directories())


def gettext(msgid: str, **params: Any) -> str:
    """``msgid`` in the reader's language, with ``%(name)s`` filled from ``params``."""
    return i18n.translate(i18n.N_(msgid, **params), current_translations())


def localized(text: Any) -> Any:
    """Text the core wrote, in the reader's language (in lists and dicts too, for ``fields``)."""
    return i18n.translate_all(text, current_translations())


def template_gettext(msgid: str, **params: Any) -> Markup:
    """The templates' ``_()``: the chat's strings in the reader's language, escaped.

    A host's template that overrides one of the chat's and uses ``_()`` for its own strings
    (Flask-Babel's) still gets its own domain: ids that are not the chat's go to the host's
    ``_``.
    """
    if msgid not in _known_ids() and "babel" in current_app.extensions:
        from flask_babel import gettext as host_gettext

        return Markup(escape(host_gettext(msgid, **params)))
    translated = escape(current_translations().gettext(msgid))
    if not params:
        return translated
    try:
        return translated % {key: escape(value) for key, value in params.items()}
    except (KeyError, ValueError, TypeError):  # a broken catalog entry: the English still reads
        return escape(msgid) % {key: escape(value) for key, value in params.items()}


@lru_cache(maxsize=1)
def _known_ids() -> frozenset[str]:
    # The template lists every id of the domain, English included (whose catalog may be empty).
    with (i18n.TRANSLATIONS / f"{i18n.DOMAIN}.pot").open("rb") as file:
        return frozenset(str(message.id) for message in read_po(file) if message.id)


def client_strings() -> dict[str, str]:
    """The browser scripts' strings in the reader's language, for the page to hand them over."""
    translations = current_translations()
    return {msgid: translations.gettext(msgid) for msgid in script_ids()}


@lru_cache(maxsize=1)
def script_ids() -> tuple[str, ...]:
    """Every string the shipped scripts pass to ``_()``, read from the scripts themselves.

    The same extractor as ``pybabel extract`` reads them, so a string added to a script is in
    the page as soon as it is in the catalogs, with no list to keep in step.
    """
    found: list[str] = []
    for name in _SCRIPTS:
        with (_STATIC / name).open("rb") as file:
            found.extend(str(entry[1]) for entry in extract("javascript", file, {"_": None}))
    return tuple(dict.fromkeys(found))
