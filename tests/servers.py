"""Real servers for the tests: a Redis of our own, and the example app under gunicorn.

Loaded as a pytest plugin by ``conftest.py``. The gunicorn processes run the example app exactly
as ``example_app/gunicorn_conf.py`` documents, each on its own loopback port, so that a test can
post to one process and read from another.
"""

from __future__ import annotations

import http.cookiejar
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

import processes
from eventstream import EventStream
from processes import free_port


@pytest.fixture
def private_redis() -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start (and restart) a Redis of our own on a free port; it keeps nothing on disk."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs redis-server (apt-get install redis-server)")
    port = free_port()
    running: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        command = [binary, "--port", str(port), "--bind", "127.0.0.1"]
        server = subprocess.Popen(
            [*command, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        running.append(server)
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    return server
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    start.port = port  # type: ignore[attr-defined]
    yield start
    for server in running:
        server.terminate()
        server.wait()


@contextmanager
def gunicorn(instance: Path, env: dict[str, str], **options: Any) -> Iterator[str]:
    """Run the example app under gunicorn with the documented config; yield its base URL."""
    with processes.gunicorn(instance, env, **options) as site:
        yield site.url


@pytest.fixture
def live_site_with(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``live_site_with(WEBCHAT_…="…")``: the example app under gunicorn on SQLite, with extra
    settings, for clients that need a real socket. Each call starts its own server."""
    started: list[str] = []
    with ExitStack() as servers:

        def start(**config: str) -> str:
            name = f"live{len(started)}"
            env = {
                "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name}.sqlite3",
                "FLASK_WEBCHAT_RATE_LIMIT": "null",
                **{f"FLASK_{key}": value for key, value in config.items()},
            }
            started.append(servers.enter_context(gunicorn(tmp_path / name, env)))
            return started[-1]

        yield start


@pytest.fixture
def live_site(live_site_with: Callable[..., str]) -> str:
    """The example app under gunicorn, with a 1 s heartbeat."""
    return live_site_with(WEBCHAT_HEARTBEAT="1")


class RemoteBrowser:
    """A browser session (a cookie jar) talking to real servers over HTTP."""

    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def request(self, method: str, url: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=60) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        return status, (json.loads(raw) if raw.startswith(b"{") else raw.decode())

    def open_page(self, site: str) -> str:
        """Load the page and return its tab's stream, opened as the page's script does."""
        status, page = self.request("GET", f"{site}/chat/")
        assert status == 200, page
        stream = page.split('data-stream="', 1)[1].split('"', 1)[0]
        if not stream:  # a first visit: the page stores nothing, its script opens the stream
            status, opened = self.request("POST", f"{site}/chat/streams")
            assert status == 201, opened
            stream = opened["stream"]
        return stream

    def say(self, site: str, content: str) -> int:
        status, body = self.request(
            "POST", f"{site}/chat/messages", {"content": content, "username": "ann"}
        )
        assert status == 201, body
        return int(body["id"])

    def poll(self, site: str, **params: Any) -> dict[str, Any]:
        query = urllib.parse.urlencode(params)
        status, body = self.request("GET", f"{site}/chat/messages?{query}")
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    def events(
        self, site: str, *, last_event_id: str | None = None, timeout: float = 30, **params: Any
    ) -> EventStream:
        """Open the event stream; a read that waits ``timeout`` seconds raises ``TimeoutError``."""
        query = urllib.parse.urlencode(params)
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        request = urllib.request.Request(f"{site}/chat/events?{query}", headers=headers)
        response = self.opener.open(request, timeout=timeout)
        assert response.status == 200
        lines = (line.decode() for line in iter(response.readline, b""))
        return EventStream(lines, response.close)
