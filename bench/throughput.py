"""P2: empty polls per second under gunicorn, next to a bare Flask route that reads the session.

Both routes run in the same gunicorn server, on the same host app, database and session backend,
loaded by ``wrk`` with the same session cookie, one after the other, twice each::

    python bench/throughput.py                    # PostgreSQL + Redis if configured, else SQLite
    python bench/throughput.py --seconds 20 --connections 16 --workers 2
    python bench/throughput.py --edge             # and a long-poll as the Pushpin edge asks it

The bare route is the floor any Flask view pays (routing, loading the session, a JSON answer);
the ratio says how much of that budget a chat poll keeps. Goal: >= 0.6. With ``--edge`` the
app also has ``WEBCHAT_GRIP_URL`` set, and ``wrk`` sends a long-poll from the room's head signed
as Pushpin signs it: what every reader a publish reached costs the app when it asks again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
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
from live import wrk
from processes import free_port

BENCH = Path(__file__).resolve().parent
_SETTINGS = "WEBCHAT_BENCH_HOST"
KEY = "bench-throughput-key"  # how the worker processes find the host the parent built


def worker_app() -> Flask:
    """The host app in each gunicorn worker: the parent's host, plus the bare route."""
    settings = json.loads(os.environ[_SETTINGS])
    host = build_host(
        Path(settings["folder"]),
        Stack(settings["database"], settings["sessions"]),
        fresh=False,
        **settings["config"],
    )

    if "WEBCHAT_GRIP_URL" in settings["config"]:
        # The edge holds no reader of a host whose delete hook decides per message (the test
        # host's moderators): without it, as in the example app.
        extension = host.app.extensions["webchat"].extension
        extension.permissions = dataclasses.replace(extension.permissions, delete=None)

    @host.app.get("/bare")
    def bare() -> object:
        return jsonify(reader=session.get("webchat_reader") is not None)

    return host.app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--edge", action="store_true", help="also a long-poll through the edge")
    args = parser.parse_args()
    from pushpin import signature  # tests/pushpin.py, on the path through harness

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
        if args.edge:
            # Nothing listens there: no post is published during the runs.
            config.update(WEBCHAT_GRIP_URL=f"http://127.0.0.1:{free_port()}", WEBCHAT_GRIP_KEY=KEY)
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
            if args.edge:
                urls["edge"] = f"{base}/chat/messages?after=1&wait=20"
            header = f"Cookie: session={cookie.value}"
            runs: dict[str, list[float]] = {name: [] for name in urls}
            for _ in range(2):
                for name, url in urls.items():
                    sig = signature(KEY, expires_in=3600)
                    signed = [f"Grip-Sig: {sig}"] if name == "edge" else []
                    runs[name].append(wrk(url, args.seconds, args.connections, header, *signed)[1])
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
    if args.edge:
        edge = max(runs["edge"])
        print(f"{'long-poll held by the edge':<28} {edge:>8.0f}")
        print(f"ratio edge hold / bare: {edge / bare:.2f}")
    print(f"ratio poll / bare: {poll / bare:.2f} (goal >= 0.6)")


if __name__ == "__main__":
    main()
