"""A database that goes away: every chat route answers 503 quickly, and the chat recovers alone.

The test runs a PostgreSQL server of its own (``initdb`` and ``pg_ctl`` in a temporary folder, on
a free port), so it can stop and start it without touching the shared one.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hosts import SQLITE, Stack, build_host

# Generous: catches a request that hangs on a dead database, not a slow machine.
HANG = 10.0


class PrivatePostgres:
    """A throwaway PostgreSQL server: its own data folder and port."""

    def __init__(self, bin_dir: Path, folder: Path, port: int) -> None:
        self.bin_dir, self.folder, self.port = bin_dir, folder, port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        data = str(self.folder / "data")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        command = [str(self.bin_dir / "pg_ctl"), "-D", data, "-o", options, "-w", *args]
        subprocess.run(_as_postgres(command), check=True, capture_output=True)

    def start(self) -> None:
        self.pg_ctl("start", "-l", str(self.folder / "log"))

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, a developer usually not.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
    if not found[-1]:
        pytest.skip("needs PostgreSQL's initdb and pg_ctl (apt-get install postgresql)")
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="webchat-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = PrivatePostgres(bin_dir, folder, port)
    initdb = [str(bin_dir / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres"]
    subprocess.run(_as_postgres(initdb), check=True, capture_output=True)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_every_route_answers_503_while_the_database_is_down_and_recovers_alone(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    host = build_host(tmp_path, SQLITE, database=private_postgres.url)
    writer, reader = host.browser(), host.browser()
    tab = reader.open_page()
    before = writer.say("before the outage")
    assert [m["id"] for m in reader.poll(tab)["messages"]] == [before]

    private_postgres.stop()
    requests = {
        "page": lambda: reader.client.get("/chat/"),
        "poll": lambda: reader.poll_response(tab),
        "read from a cursor": lambda: reader.poll_response(None, after="0"),
        "post": lambda: writer.post("during the outage"),
        "get": lambda: writer.client.get(f"/chat/messages/{before}"),
        "delete": lambda: writer.delete(before),
    }
    for name, send in requests.items():
        started = time.monotonic()
        response = send()
        assert time.monotonic() - started < HANG, f"{name} hung"
        assert response.status_code == 503, (name, response.data)
        assert response.json["error"]["code"] == "database_unavailable", name
        assert response.headers["Retry-After"], name
    assert reader.client.get("/chat/openapi.json").status_code == 200  # needs no database

    private_postgres.start()
    again = writer.say("during the outage")  # the client's retry, once the database is back
    batch = reader.poll(tab)
    assert [m["content"] for m in batch["messages"]] == ["during the outage"]
    assert [m.id for m in host.stored_messages()] == [before, again]
    host.close()


def test_a_session_store_outage_loses_nothing_and_readers_resume_from_their_cursor(
    private_redis: Callable[[], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    redis = private_redis()
    url = f"redis://127.0.0.1:{private_redis.port}/0"  # type: ignore[attr-defined]
    host = build_host(tmp_path, Stack("sqlite", "redis"), redis_url=url)
    host.app.config["TESTING"] = False  # answer as in production, not by raising into the test
    writer, reader = host.browser(), host.browser()
    tab = reader.open_page()
    first = writer.say("before the outage")
    cursor = reader.poll(tab)["cursor"]

    redis.terminate()
    redis.wait()
    # The host's session layer fails before the chat runs: Flask's 500, no traceback.
    for response in [writer.post("during the outage"), reader.poll_response(tab)]:
        assert response.status_code == 500
        assert b"Traceback" not in response.data
    assert [m.id for m in host.stored_messages()] == [first]

    private_redis()  # back, empty: every session is gone
    second = writer.say("after the outage")
    lost_stream = reader.poll_response(tab)
    assert lost_stream.status_code == 404
    assert lost_stream.json["error"]["code"] == "unknown_stream"
    # What the page's client does then: read on from the cursor it kept.
    assert [m["id"] for m in reader.poll(after=cursor)["messages"]] == [second]
    host.close()
