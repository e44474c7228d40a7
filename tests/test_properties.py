"""Properties of the wire format, over generated text: what fits is kept exactly, what does not is
refused with a 422 that names the field."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from flask_webchat.models import CONTENT_MAX_LENGTH
from flask_webchat.schemas import NewMessageSchema
from flask_webchat.text import (
    _WHITESPACE,
    ANONYMOUS_NAME_MAX_LENGTH,
    AUTHOR_NAME_RULE,
    CONTENT_RULE,
)
from hosts import EVERY_DATABASE, SAMPLE_STACKS, Host

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)

# Everything a message may hold: any code point but surrogates and control characters other
# than line feed and tab.
CONTROLS = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]]
ALLOWED = st.characters(blacklist_categories=["Cs"], blacklist_characters=CONTROLS)
# A lone carriage return is refused too, but "\r\n" is first normalised to "\n".
FORBIDDEN = st.sampled_from([c for c in CONTROLS if c != "\r"] + ["\ud800", "\udfff"])


def normalised(text: str) -> bool:
    """Text the server keeps as it is: nothing to strip at either end."""
    return text == text.strip()


MESSAGES = st.text(ALLOWED, min_size=1, max_size=1024).filter(normalised)
# Names refuse invisible characters too: format characters (bidi controls, zero-width spaces)
# and fillers drawn as nothing.
INVISIBLE = {"\u115f", "\u1160", "\u2800", "\u3164", "\uffa0"}
NAME_CHARACTERS = ALLOWED.filter(
    lambda c: c not in "\n\t" and c not in INVISIBLE and unicodedata.category(c) != "Cf"
)
NAMES = st.text(NAME_CHARACTERS, min_size=1, max_size=64).filter(normalised)


@given(content=MESSAGES, username=NAMES)
def test_any_text_within_the_limits_loads_unchanged(content: str, username: str) -> None:
    loaded = NewMessageSchema().load({"content": content, "username": username})
    assert loaded == {"content": content, "username": username}


@given(content=st.text(ALLOWED, min_size=1025, max_size=1400).filter(normalised))
def test_longer_text_is_refused_naming_content(content: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NewMessageSchema().load({"content": content, "username": "x"})
    assert list(refused.value.messages) == ["content"]


SHORT = st.text(ALLOWED, min_size=1, max_size=200).filter(normalised)


@given(before=SHORT, bad=FORBIDDEN, after=SHORT)
def test_a_control_character_or_surrogate_is_refused_naming_content(
    before: str, bad: str, after: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        NewMessageSchema().load({"content": before + bad + after, "username": "x"})
    assert refused.value.messages == {"content": ["A message must not contain control characters."]}


@given(username=st.text(ALLOWED, min_size=65, max_size=100).filter(normalised))
def test_a_long_name_is_refused_naming_username(username: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NewMessageSchema().load({"content": "hi", "username": username})
    assert list(refused.value.messages) == ["username"]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=MESSAGES, username=NAMES)
def test_any_text_within_the_limits_is_stored_and_read_back_unchanged(
    host: Host, content: str, username: str
) -> None:
    browser = host.browser()
    posted = browser.post(content, username)
    assert posted.status_code == 201, posted.json
    read = browser.client.get(posted.headers["Location"]).json
    assert (read["content"], read["username"]) == (content, username)


@pytest.mark.stacks(*SAMPLE_STACKS)  # refused before anything is stored
@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.text(ALLOWED, min_size=1025, max_size=1200).filter(normalised), bad=FORBIDDEN)
def test_text_outside_the_limits_is_a_422_naming_the_field_and_stores_nothing(
    host: Host, content: str, bad: str
) -> None:
    browser = host.browser()
    for body in [{"content": content, "username": "x"}, {"content": f"a{bad}b", "username": "x"}]:
        response = browser.client.post("/chat/messages", json=body)
        assert response.status_code == 422
        assert list(response.json["error"]["fields"]) == ["content"]
    assert host.stored_messages() == []


# Text made of the characters where the rules have edges: white space of every kind, controls,
# line breaks and ordinary letters, so that long and short, padded and bare strings all come up.
EDGY_PIECES = [" ", "\t", "\n", "\r", "\r\n", "\x0b", "\x1c", "\x85", "\xa0", "\u2028", "\u3000"]
EDGY_PIECES += ["\x00", "\x1b", "\x7f", "\x9f", "\ud800", "\ufeff", "a", "é", "你", "🎉"]
EDGY_PIECES += ["\u200b", "\u200c", "\u200d", "\u202e", "\u2066", "\u3164", "\U000e0041"]
EDGY = st.lists(st.sampled_from(EDGY_PIECES), max_size=80).map("".join)


def accepted(field: str, value: str) -> bool:
    body = {"content": "x", "username": "x", field: value}
    return not NewMessageSchema().validate(body)


@pytest.mark.parametrize("field, rule", [("content", CONTENT_RULE), ("username", AUTHOR_NAME_RULE)])
@given(prefix=st.sampled_from([0, 1, 2, 3, 4, 6, 8]), text=EDGY)
def test_the_documented_pattern_accepts_exactly_what_the_server_accepts(
    field: str, rule: object, prefix: int, text: str
) -> None:
    # Letters up to a few short of the limit, so the generated tail crosses it often.
    limit = CONTENT_MAX_LENGTH if field == "content" else ANONYMOUS_NAME_MAX_LENGTH
    text = "a" * max(0, limit - prefix) + text if prefix else text
    documented = re.fullmatch(rule.pattern, text) is not None  # type: ignore[attr-defined]
    if re.search("[\ud800-\udfff]", text):
        # Lone surrogates are refused though no ECMA-262 pattern can say so.
        assert not accepted(field, text)
    else:
        assert documented == accepted(field, text)


def test_the_patterns_white_space_is_what_strip_removes() -> None:
    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert re.fullmatch(f"[{_WHITESPACE}]*", spaces)
    assert spaces.strip() == ""
    assert not any(
        re.fullmatch(f"[{_WHITESPACE}]", chr(c)) for c in range(0x3001) if not chr(c).isspace()
    )


@pytest.mark.stacks(*SAMPLE_STACKS)  # refused before anything is stored
@pytest.mark.parametrize(
    "name", ["Bob\u202e", "\u202eevil", "a\u2066b", "\ufeff", "\u3164", "\u200b", "x\u200d"]
)
def test_a_name_that_hides_or_turns_text_around_is_refused(host: Host, name: str) -> None:
    refused = host.browser().post("hi", username=name)
    assert refused.status_code == 422
    assert list(refused.json["error"]["fields"]) == ["username"]
    assert host.stored_messages() == []


def test_joiners_inside_a_name_and_bidi_controls_in_content_are_kept(host: Host) -> None:
    for name in ["👨\u200d👩\u200d👧", "می\u200cخواهم"]:  # noqa: RUF001
        assert host.browser().post("hi", username=name).status_code == 201
    content = "\u202eevil.exe\u202c gpj."  # text's own business; the page isolates it
    assert host.browser().post(content).json["content"] == content
