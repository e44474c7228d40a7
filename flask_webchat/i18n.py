"""The chat's own translations: the ``webchat`` gettext domain, and no Flask in sight.

The core marks a sentence with :func:`N_` where it is written; the sentence stays English (what a
log, a CLI or host code sees) and remembers its message id and parameters, so that the layer that
shows it (the web layer's error handlers, the CLI) translates it into the reader's language. The
catalogs live in ``flask_webchat/translations/<locale>/LC_MESSAGES/webchat.mo``; a host may put
its own ``webchat`` catalogs in further folders, which win string by string.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.support import NullTranslations, Translations

DOMAIN = "webchat"
#: The shipped catalogs' folder.
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
#: The language the chat is written in, and the last resort.
SOURCE_LOCALE = "en"


class Message(str):
    """An English sentence that remembers its message id and parameters, to be translated later.

    It is an ordinary ``str`` everywhere (JSON, logs, ``==``); :func:`translate` renders it in
    another language.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: dict[str, Any]) -> Message:
        made = super().__new__(cls, msgid % params if params else msgid)
        made.msgid, made.params = msgid, params
        return made

    def __reduce__(self) -> Any:
        return (Message, (self.msgid, self.params))

    def format(self, *args: Any, **kwargs: Any) -> str:
        # marshmallow formats its validators' messages with str.format; one without {} fields
        # stays the same sentence, so keep it translatable.
        formatted = str.format(self, *args, **kwargs)
        return self if formatted == self else formatted


def N_(msgid: str, **params: Any) -> Message:
    """Mark ``msgid`` for translation; ``%(name)s`` placeholders are filled from ``params``."""
    return Message(msgid, params)


def translate(text: str, translations: NullTranslations) -> str:
    """``text`` in the catalog's language if it is a :class:`Message`; other text is kept."""
    if not isinstance(text, Message):
        return text
    translated = translations.gettext(text.msgid)
    if not text.params:
        return translated
    try:
        return translated % text.params
    except (KeyError, ValueError, TypeError):  # a broken catalog entry: the English still reads
        return str(text)


def translate_all(value: Any, translations: NullTranslations) -> Any:
    """Translate every :class:`Message` in nested lists and dicts (marshmallow's field messages)."""
    if isinstance(value, dict):
        return {key: translate_all(item, translations) for key, item in value.items()}
    if isinstance(value, list):
        return [translate_all(item, translations) for item in value]
    return translate(value, translations) if isinstance(value, str) else value


def shipped_locales(directories: Sequence[Path] = (TRANSLATIONS,)) -> tuple[str, ...]:
    """The locales with a ``webchat`` catalog in ``directories``, English first."""
    found = {SOURCE_LOCALE}
    for directory in directories:
        if directory.is_dir():
            found.update(
                entry.name
                for entry in directory.iterdir()
                if (entry / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file()
            )
    return (SOURCE_LOCALE, *sorted(found - {SOURCE_LOCALE}))


@lru_cache(maxsize=64)
def load(locale: str, directories: tuple[Path, ...] = (TRANSLATIONS,)) -> NullTranslations:
    """The ``webchat`` catalog of ``locale``; earlier ``directories`` win string by string."""
    merged: NullTranslations | None = None
    for directory in reversed(directories):  # the last one is the base the others override
        found = Translations.load(str(directory), [locale], domain=DOMAIN)
        if not isinstance(found, Translations):
            continue
        if merged is None or not isinstance(merged, Translations):
            merged = found
        else:
            merged.merge(found)
    return merged if merged is not None else NullTranslations()


def _language_and_script(locale: Locale) -> tuple[str, str | None]:
    # "zh" and "zh-CN" are written in Simplified characters, "zh-TW" in Traditional: compare the
    # script CLDR says is likely, so that one catalog serves every region that reads it.
    if locale.script:
        return locale.language, locale.script
    likely = get_global("likely_subtags")
    for key in (f"{locale.language}_{locale.territory}", locale.language):
        if key in likely:
            return locale.language, Locale.parse(likely[key]).script
    return locale.language, None


def parse(tag: str) -> Locale | None:
    """A locale from ``zh-CN``, ``zh_Hans`` or ``en``; ``None`` when it is not one."""
    try:
        return Locale.parse(tag.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def negotiate(preferred: Iterable[str], available: Sequence[str]) -> str | None:
    """The first of ``available`` that a reader who prefers ``preferred`` (in order) reads."""
    offered = [(name, parse(name)) for name in available]
    for tag in preferred:
        wanted = parse(tag)
        if wanted is None:
            continue
        key = _language_and_script(wanted)
        for name, locale in offered:
            if locale is not None and _language_and_script(locale) == key:
                return name
    return None


def language_tag(locale: str) -> str:
    """The BCP 47 tag of a catalog's locale, for ``<html lang>`` and ``Intl``: ``zh-Hans``."""
    return locale.replace("_", "-")


def is_right_to_left(locale: str) -> bool:
    """Whether ``locale``'s script runs right to left (Arabic, Hebrew …): the page's ``dir``."""
    parsed = parse(locale)
    return parsed is not None and parsed.character_order == "right-to-left"


def environment_locales() -> list[str]:
    """The languages the process's environment asks for (``LANGUAGE``, ``LC_ALL``, ``LANG``)."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return [part.split(".")[0].split("@")[0] for part in value.split(":") if part]
    return []
