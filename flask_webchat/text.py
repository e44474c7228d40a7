"""What a message and a name may hold: the text rules, checked after stripping.

Each rule is also a JSON-schema ``pattern`` (the OpenAPI document carries it), built from the same
character classes, so that the document says exactly what the server accepts; a property test
checks the two against each other. Text limits are counted in Unicode code points, the way the
database columns count them.
"""

from __future__ import annotations

import re
import unicodedata

from marshmallow import ValidationError

from .i18n import N_
from .models import CONTENT_MAX_LENGTH

#: Longest name an anonymous poster may type.
ANONYMOUS_NAME_MAX_LENGTH = 64
# C0/C1 controls, DEL and lone surrogates: databases refuse some, and none belongs in a chat line.
_SURROGATES = r"\ud800-\udfff"
_FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f" + _SURROGATES + "]")
# Zero-width (non-)joiners shape emoji sequences and Persian or Indic words: kept inside a name,
# but a name may not start or end with one, nor be made of them.
_JOINERS = "\u200c\u200d"


def _invisible_characters() -> str:
    """A regex class body of the characters a name could hide behind or be turned around by:
    format characters (bidi controls, zero-width spaces, U+FEFF …) and fillers drawn as nothing."""
    # Unicode puts format characters only in planes 0, 1 and 14 (tags): scanning just those
    # keeps a process's start 0.15 s quicker than scanning every code point.
    planes = (range(0x20000), range(0xE0000, 0xF0000))
    codes = [
        c
        for plane in planes
        for c in plane
        if unicodedata.category(chr(c)) == "Cf" and chr(c) not in _JOINERS
    ]
    codes += [0x115F, 0x1160, 0x2800, 0x3164, 0xFFA0]
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])

    def escape(code: int) -> str:
        # Beyond the BMP, the character itself: JSON Schema patterns are ECMA-262, which has no
        # \U escape, and both it (in Unicode mode) and Python read a literal one alike.
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)

    return "".join(escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in ranges)


# Names also refuse invisible characters: "Bob\u202e" would turn the next name around.
_FORBIDDEN_IN_NAME = re.compile(
    r"[\x00-\x1f\x7f-\x9f" + _SURROGATES + _invisible_characters() + "]"
)
# What str.strip() removes (every character for which str.isspace() is true), as a regex class.
_WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# White space that may stand between visible characters, and is kept.
_INNER_SPACE = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


class _TextRule:
    """A text field's limits, checked after stripping, and the same rule as a JSON Schema pattern.

    Not marshmallow's ``Length``: the limit applies to the stripped text, and a ``maxLength`` in the
    OpenAPI document would wrongly refuse text with spaces around it. The ``pattern`` says exactly
    which raw strings are accepted (a test checks it against this validator), but for lone
    surrogates: ECMA-262 cannot name them in a class, and JSON decoders refuse or replace them.
    """

    def __init__(
        self,
        messages: tuple[str, ...],
        *,
        max_length: int,
        forbidden: re.Pattern[str],
        inner_space: str,
        crlf: bool = False,
        joiners: str = "",
    ) -> None:
        # Whole sentences (empty, too long, forbidden characters), so that each translates well.
        self.messages, self.max_length, self.forbidden = messages, max_length, forbidden
        self.joiners = joiners
        inner_space += joiners  # allowed between visible characters, never counted as one
        # A visible character: neither white space that strip() removes, nor forbidden.
        documented = forbidden.pattern[1:-1].replace(_SURROGATES, "")
        visible = "[^" + _WHITESPACE + documented + joiners + "]"
        # Between visible characters: more of them, kept white space, and CRLF (sent as LF).
        inner = "(?:" + visible + "|[" + inner_space + "]" + (r"|\r\n" if crlf else "") + ")"
        padding = f"[{_WHITESPACE}]*"
        middle = f"(?:{inner}{{0,{max_length - 2}}}{visible})?"
        self.pattern = f"^{padding}{visible}{middle}{padding}$"

    def __call__(self, value: str) -> None:
        empty, too_long, control = self.messages[:3]
        if not value:
            raise ValidationError(N_(empty))
        if len(value) > self.max_length:
            raise ValidationError(N_(too_long, max=self.max_length))
        if self.forbidden.search(value):
            raise ValidationError(N_(control))
        if value[0] in self.joiners or value[-1] in self.joiners:
            raise ValidationError(N_(self.messages[3]))


CONTENT_RULE = _TextRule(
    (
        N_("A message cannot be empty."),
        N_("A message can be at most %(max)s characters long."),
        N_("A message must not contain control characters."),
    ),
    max_length=CONTENT_MAX_LENGTH,
    forbidden=_FORBIDDEN_IN_TEXT,
    inner_space=r"\t\n" + _INNER_SPACE,
    crlf=True,
)
AUTHOR_NAME_RULE = _TextRule(
    (
        N_("A name cannot be empty."),
        N_("A name can be at most %(max)s characters long."),
        N_("A name must not contain control characters or invisible ones."),
        N_("A name must not start or end with an invisible character."),
    ),
    max_length=ANONYMOUS_NAME_MAX_LENGTH,
    forbidden=_FORBIDDEN_IN_NAME,
    inner_space=_INNER_SPACE,
    joiners=_JOINERS,
)
