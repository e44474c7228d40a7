"""The example app under gunicorn, as ``example_app/gunicorn_conf.py`` documents it.

No pytest here: the tests (through ``servers.py``) and the benchmarks in ``bench/`` start their
servers with the same code.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Generous: catches a server that never starts, not a slow machine.
START_TIMEOUT = 60.0
# Generous bounds that catch a hang; speed is measured in bench/.
DELIVERED_WITHIN = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str, within: float = DELIVERED_WITHIN) -> None:
    """Wait until ``condition()`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        time.sleep(0.05)


@dataclass
class Site:
    """A running gunicorn server: its URL, master process and log."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def worker_pids(self) -> list[int]:
        """The master's children: its workers (found in /proc)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def problems(self) -> list[str]:
        """Log lines that tell of an error in the server."""
        markers = ("Traceback", "[ERROR]", "[CRITICAL]", "WORKER TIMEOUT", " 500 ")
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if any(marker in line for marker in markers)]


@contextmanager
def serve(
    command: list[str], env: dict[str, str], log_path: Path, port: int, *, ready: str, cwd: Path
) -> Iterator[Site]:
    """Run a server on ``port``; yield it once ``ready`` (a path) answers, stop it after."""
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=cwd
        )
    site = Site(f"http://127.0.0.1:{port}", port, server, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"{command[2]} ended:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[2]} did not start")
            try:
                urllib.request.urlopen(site.url + ready, timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield site
    finally:
        server.send_signal(signal.SIGINT)  # a quick shutdown: open streams end at once
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def gunicorn(
    instance: Path,
    env: dict[str, str],
    *,
    worker_class: str = "gevent",
    workers: int = 1,
    port: int | None = None,
    connections: int = 5000,
) -> Iterator[Site]:
    """Run the example app with the documented gunicorn config; yield the running site."""
    port = port or free_port()
    command = [
        sys.executable, "-m", "gunicorn", "-c", "python:example_app.gunicorn_conf",
        "-b", f"127.0.0.1:{port}", "-k", worker_class, "-w", str(workers), "--threads", "8",
        "--worker-connections", str(connections),
        f"example_app:create_app(instance_path={str(instance)!r})",
    ]  # fmt: skip
    instance.mkdir(parents=True, exist_ok=True)
    # Measurements and tests start from an empty chat: no welcome notice (unless asked).
    env = {"FLASK_EXAMPLE_WELCOME": "null", **env}
    log = instance / f"gunicorn-{port}.log"
    with serve(command, env, log, port, ready="/chat/openapi.json", cwd=ROOT) as site:
        yield site
