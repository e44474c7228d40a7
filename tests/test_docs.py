"""The documentation states what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from flask_webchat.config import DEFAULTS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_configuration_key_is_documented_with_its_real_default() -> None:
    text = (DOCS / "configuration.rst").read_text()
    documented = dict(
        re.findall(r"^\.\. data:: (WEBCHAT_\w+)\n\n   Default: ``(.+?)``$", text, re.MULTILINE)
    )
    assert documented == {key: repr(value) for key, value in DEFAULTS.items()}


def test_every_configuration_key_has_a_type_and_an_effect() -> None:
    text = (DOCS / "configuration.rst").read_text()
    entries = re.split(r"^\.\. data:: ", text, flags=re.MULTILINE)[1:]
    assert len(entries) == len(DEFAULTS)
    for entry in entries:
        key, _, body = entry.partition("\n")
        assert re.search(r"^   Type: ``.+``$", body, re.MULTILINE), f"{key} has no type"
        prose = [line for line in body.splitlines() if line.strip() and ":" not in line[:12]]
        assert prose, f"{key} does not say what it does"
