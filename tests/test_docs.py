"""The documentation states what the code does."""

from __future__ import annotations

import json
import re
import smtplib
import textwrap
import threading
import time
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

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


class _Collector(BaseHTTPRequestHandler):
    """A webhook endpoint that keeps what it is sent."""

    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _Mailbox:
    """Stands in for smtplib.SMTP: there is no mail server on a test machine."""

    sent: ClassVar[list[EmailMessage]] = []

    def __init__(self, host: str, timeout: float) -> None:
        assert host == "mail.test"

    def __enter__(self) -> _Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def send_message(self, mail: EmailMessage) -> None:
        self.sent.append(mail)


def test_the_host_api_page_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(smtplib, "SMTP", _Mailbox)
    namespace: dict[str, object] = {"__name__": "yourapp"}
    for block in _python_blocks((DOCS / "host-api.rst").read_text()):
        exec(compile(block, "host-api.rst", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "422 invalid_fields {'content': ['A message cannot be empty.']}" in printed
    assert "notice: Deploy finished at 14:02" in printed  # posted, then edited

    webhook = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    app = namespace["app"]
    app.config.update(  # type: ignore[attr-defined]
        SUPPORT_EMAIL="help@example.com",
        SMTP_HOST="mail.test",
        CHAT_WEBHOOK_URL=f"http://127.0.0.1:{webhook.server_port}/hook",
    )
    client = app.test_client()  # type: ignore[attr-defined]
    refused = client.post(
        "/chat/rooms/support/messages", json={"content": "http://x.test", "username": "Al"}
    )
    assert refused.status_code == 422 and refused.json["error"]["code"] == "message_rejected"
    posted = client.post(
        "/chat/rooms/support/messages", json={"content": "It's darn broken", "username": "Al"}
    )
    assert posted.status_code == 201 and posted.json["content"] == "It's **** broken"
    assert client.delete(f"/chat/messages/{posted.json['id']}").status_code == 204
    try:
        deadline = time.monotonic() + 5
        while not _Collector.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        webhook.shutdown()
    [mail] = _Mailbox.sent
    assert (mail["To"], mail.get_content().strip()) == ("help@example.com", "It's **** broken")
    assert [hook["content"] for hook in _Collector.received] == ["It's **** broken"]
    with app.app_context():  # type: ignore[attr-defined]
        audit = namespace["ChatAudit"]
        rows = namespace["db"].session.query(audit).order_by(audit.id).all()  # type: ignore[attr-defined]
        assert [(row.action, row.message_id) for row in rows] == [
            ("posted", posted.json["id"]),
            ("deleted", posted.json["id"]),
        ]


def test_the_http_errors_table_lists_every_error_code() -> None:
    from flask_webchat.errors import error_classes

    text = (DOCS / "http.rst").read_text()
    section = text.split("\nErrors\n------\n", 1)[1]
    table = section.split("\n\n==========", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"^(\d{3})\s+``(\w+)``", table, re.MULTILINE)
    documented = [(int(status), code) for status, code in listed]
    assert sorted(documented) == [(cls.status, cls.code) for cls in error_classes()]
