"""P2: empty polls per second under gunicorn, next to a bare Flask route that reads the session.

Both routes run in the same gunicorn server, on the same host app, database and session backend,
loaded by ``wrk`` with the same session cookie, one after the other, twice each::

    python bench/throughput.py                    # PostgreSQL + Redis if configured, else SQLite
    python bench/throughput.py --seconds 20 --connections 16 --workers 2

The bare route is the floor any Flask view pays (routing, loading the session, a JSON answer);
the ratio says how much of that budget a chat poll keeps. Goal: >= 0.6.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from flask import Flask, jsonify, session

from harness import available_databases, print_machine
from hosts import Stack, build_host

BENCH = Path(__file__).resolve().parent
_SETTINGS = "WEBCHAT_BENCH_HOST"  # how the worker processes find the host the parent built


def worker_app() -> Flask:
    """The host app in each gunicorn worker: the parent's host, plus the bare route."""
    settings = json.loads(os.environ[_SETTINGS])
    host = build_host(
        Path(settings["folder"]),
        Stack(settings["database"], settings["sessions"]),
        fresh=False,
        **settings["config"],
    )

    @host.app.get("/bare")
    def bare() -> object:
        return jsonify(reader=session.get("webchat_reader") is not None)

    return host.app


def wrk(url: str, cookie: str, seconds: int, connections: int) -> float:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", f"Cookie: {cookie}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in result.stdout:
        raise RuntimeError(f"{url} answered errors:\n{result.stdout}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk (apt-get install wrk)")
    database = "postgres" if available_databases(["postgres"]) else "sqlite"
    sessions = "redis" if os.environ.get("WEBCHAT_TEST_REDIS_URL") else "cachelib"
    stack = Stack(database, sessions)

    with tempfile.TemporaryDirectory() as folder:
        print_machine([database], Path(folder))
        # Everything a worker must share with the parent: the same session store and prefix.
        config = {"SESSION_KEY_PREFIX": "webchat-bench:", "WEBCHAT_BACKLOG": 0}
        if sessions == "cachelib":
            config = {"WEBCHAT_BACKLOG": 0}
        host = build_host(Path(folder), stack, **config)
        reader = host.browser()
        stream = reader.open_page()
        reader.say("one message, so that the room exists")
        reader.poll(stream)
        cookie = reader.client.get_cookie("session")
        assert cookie is not None
        host.close()

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {
            **os.environ,
            _SETTINGS: json.dumps(
                {"folder": folder, "database": database, "sessions": sessions, "config": config}
            ),
        }
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "-w", str(args.workers)),
                *("-b", f"127.0.0.1:{port}", "--pythonpath", f"{BENCH},{BENCH.parent / 'tests'}"),
                *("--log-level", "warning", "throughput:worker_app()"),
            ],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"{base}/bare")
                    break
                except OSError:
                    time.sleep(0.1)
            urls = {"bare": f"{base}/bare", "poll": f"{base}/chat/messages?stream={stream}"}
            header = f"session={cookie.value}"
            runs: dict[str, list[float]] = {"bare": [], "poll": []}
            for _ in range(2):
                for name, url in urls.items():
                    runs[name].append(wrk(url, header, args.seconds, args.connections))
        finally:
            server.terminate()
            server.wait()

    bare, poll = max(runs["bare"]), max(runs["poll"])
    print(
        f"# gunicorn -w {args.workers} (sync), wrk -c{args.connections} {args.seconds}s x 2;"
        f" {database} + {sessions} sessions; best of two runs, requests/s"
    )
    print(f"{'route':<28} {'req/s':>8}")
    print(f"{'bare route reading session':<28} {bare:>8.0f}")
    print(f"{'empty chat poll (stream)':<28} {poll:>8.0f}")
    print(f"ratio poll / bare: {poll / bare:.2f} (goal >= 0.6)")


if __name__ == "__main__":
    main()
