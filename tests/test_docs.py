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
