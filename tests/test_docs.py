"""The documentation states what the code does."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

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


def _python_blocks(text: str) -> list[str]:
    """The code of every ``python`` block of a Markdown or reStructuredText file, dedented."""
    fenced = re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    directives = re.findall(
        r"^( *)\.\. code-block:: python\n\n((?:\1   .*\n|\n)+)", text, re.MULTILINE
    )
    return fenced + [textwrap.dedent(body) for _, body in directives]


@pytest.mark.parametrize("document", ["README.md", "docs/quickstart.rst"])
def test_the_site_shown_first_runs_as_written(
    document: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A newcomer copies the first example verbatim: it must start and serve the chat.
    code = _python_blocks((DOCS.parent / document).read_text())[0]
    monkeypatch.chdir(tmp_path)  # the site's SQLite file and instance folder go here
    namespace: dict[str, object] = {"__name__": "yourapp"}
    exec(compile(code, document, "exec"), namespace)
    app = namespace["create_app"]()  # type: ignore[operator]
    client = app.test_client()
    assert client.get("/chat/").status_code == 200
    posted = client.post("/chat/messages", json={"content": "hello", "username": "Ann"})
    assert posted.status_code == 201, posted.json
    assert [m["content"] for m in client.get("/chat/messages?after=0").json["messages"]] == [
        "hello"
    ]
