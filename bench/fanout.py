"""P4: fan-out to thousands of waiting readers on one gevent worker, and what idle readers cost.

One gunicorn server, ``-w 1 -k gevent``, with the documented ``example_app/gunicorn_conf.py``.
This process holds the readers open on gevent sockets (one greenlet each, no monkey-patching).
Once every reader waits and the worker is idle, one message is posted; each reader's time is from
sending the POST to having the message. Five posts, one after another, for long-polls and then
for Server-Sent Events, each on a fresh server so that its peak memory (``VmHWM``) is its own::

    python bench/fanout.py                              # 2000 readers, SQLite, memory notifier
    python bench/fanout.py --readers 500 --database postgres --notifier postgres
    python bench/fanout.py --idle-seconds 120 --max-wait 25

Goals: every reader gets each message, p99 <= 1 s and peak worker RSS <= 250 MB for 2000 readers.

Then the idle cost (SQLite, memory notifier): 50 long-poll and 50 SSE readers in a silent room,
who join spread over one ``WEBCHAT_MAX_WAIT``; then requests and bytes are counted for
``--idle-seconds``, per reader and minute, next to the original design's poll every 2 s (30
requests a minute).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent import socket

from harness import print_machine
from live import (
    cpu_seconds,
    peak_rss_mb,
    percentile,
    raise_open_files,
    site_env,
    wait_until_idle,
)
from processes import gunicorn

GOAL_P99_S = 1.0
GOAL_RSS_MB = 250.0
ORIGINAL_INTERVAL = 2.0
NAN = float("nan")
_MARKER = re.compile(rb'"content":"(fanout \d+)"')
_DELIVERED_WITHIN = 60.0


def _read_answer(stream: Any) -> tuple[bytes, bytes, int]:
    """An HTTP answer with a Content-Length: status line, body, and its size on the wire."""
    status = stream.readline()
    if not status:
        raise ConnectionError("the server closed the connection")
    size, length = len(status), 0
    while (line := stream.readline()) not in (b"\r\n", b""):
        size += len(line)
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = stream.read(length)
    return status, body, size + 2 + len(body)


def post(port: int, content: str) -> tuple[float, float, dict[str, Any]]:
    """Post a message: when it was sent, when the answer came, and the message."""
    body = json.dumps({"content": content, "username": "bench"}).encode()
    head = (
        f"POST /chat/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as sock, sock.makefile("rb") as stream:
        started = time.perf_counter()
        sock.sendall(head.encode() + body)
        status, answer, _ = _read_answer(stream)
        answered = time.perf_counter()
    if b" 201 " not in status:
        raise RuntimeError(f"POST answered {status!r}: {answer[:300]!r}")
    return started, answered, json.loads(answer)


class Crowd:
    """Readers of one transport, a greenlet and a connection each, and what they received."""

    def __init__(self, port: int, transport: str, wait: float) -> None:
        self.port, self.transport, self.wait = port, transport, wait
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.requests = self.bytes = self.ready = self.empty = self.refused = 0
        #: When each reader's current long-poll was sent (by its socket), until answered.
        self.asked: dict[int, float] = {}
        self.errors: list[str] = []
        self.greenlets: list[gevent.Greenlet] = []

    def add(self, count: int, cursor: str, *, spread: float = 0.0) -> None:
        for number in range(count):
            later = spread * number / count
            self.greenlets.append(gevent.spawn_later(later, self._run, cursor))
            if not spread and number % 200 == 199:
                gevent.sleep(0.05)  # within the server's listen backlog

    def _run(self, cursor: str) -> None:
        try:
            if self.transport != "long-poll":
                with socket.create_connection(("127.0.0.1", self.port)) as sock:
                    self._events(sock, cursor)
            self.ready += 1
            while True:
                with socket.create_connection(("127.0.0.1", self.port)) as sock:
                    cursor = self._long_poll(sock, cursor)
                # Refused for now (a proxy's 502 or 503, or a dropped connection, under a
                # burst): ask again after a moment, from the same cursor, as clients do.
                self.refused += 1
                gevent.sleep(0.5 + random.random())
        except (OSError, RuntimeError, ValueError) as error:
            self.errors.append(repr(error))

    def _long_poll(self, sock: socket.socket, cursor: str) -> str:
        """Poll on ``sock`` until a poll is refused or dropped; return the cursor reached."""
        with sock.makefile("rb") as stream:
            while True:
                request = f"GET /chat/messages?after={cursor}&wait={self.wait:g} HTTP/1.1\r\n"
                sock.sendall(f"{request}Host: 127.0.0.1\r\n\r\n".encode())
                self.requests += 1
                self.asked[sock.fileno()] = time.perf_counter()
                try:
                    status, body, size = _read_answer(stream)
                except ConnectionError:
                    return cursor
                finally:
                    del self.asked[sock.fileno()]
                now = time.perf_counter()
                self.bytes += size
                if any(code in status for code in (b" 500 ", b" 502 ", b" 503 ")):
                    return cursor
                if b" 200 " not in status:
                    raise RuntimeError(f"long-poll answered {status!r}: {body[:300]!r}")
                batch = json.loads(body)
                for message in batch["messages"]:
                    self.arrivals[message["content"]].append(now)
                self.empty += not batch["messages"]
                cursor = batch["cursor"]

    def _events(self, sock: socket.socket, cursor: str) -> None:
        request = f"GET /chat/events?after={cursor} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        sock.sendall(f"{request}Accept: text/event-stream\r\n\r\n".encode())
        self.requests += 1
        seen: set[bytes] = set()
        tail = b""
        while data := sock.recv(65536):
            now = time.perf_counter()
            if not tail:
                if b" 200 " not in data.split(b"\r\n", 1)[0]:
                    raise RuntimeError(f"event stream answered {data[:300]!r}")
                self.ready += 1
            self.bytes += len(data)
            window = tail + data  # an event may straddle two reads
            for match in _MARKER.finditer(window):
                if match.group(1) not in seen:
                    seen.add(match.group(1))
                    self.arrivals[match.group(1).decode()].append(now)
            tail = window[-100:]
        raise ConnectionError("the server ended the event stream")

    def waiting(self, longer_than: float = 2.0) -> int:
        """How many long-polls have waited longer than ``longer_than`` seconds: held."""
        now = time.perf_counter()
        return sum(1 for sent in self.asked.values() if now - sent > longer_than)

    def close(self) -> None:
        gevent.killall(self.greenlets)


def wait_for(condition: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.005)
    return True


def fan_out(args: argparse.Namespace, transport: str, tmp: Path) -> dict[str, Any]:
    env = site_env(args.database, args.notifier, tmp)
    connections = max(5000, args.readers + 500)
    with gunicorn(tmp / f"fanout-{transport}", env, connections=connections) as site:
        (worker,) = site.worker_pids()
        cursor = post(site.port, f"{transport}: start")[2]["cursor"]
        baseline = peak_rss_mb(worker)
        crowd = Crowd(site.port, transport, args.wait)
        ramp = args.readers / args.join_rate
        joining = cpu_seconds(worker)
        crowd.add(args.readers, cursor, spread=ramp)
        if not wait_for(lambda: crowd.ready == args.readers or bool(crowd.errors), 60 + ramp):
            raise RuntimeError(f"{crowd.ready} of {args.readers} readers connected")
        join_cpu = cpu_seconds(worker) - joining
        wait_until_idle(worker, sleep=gevent.sleep)
        early = sum(len(times) for times in crowd.arrivals.values())
        rows: list[dict[str, Any]] = []
        for number in range(args.posts):
            marker = f"fanout {number}"
            cpu, client = cpu_seconds(worker), resource.getrusage(resource.RUSAGE_SELF)
            started, answered, _ = post(site.port, marker)
            arrivals = crowd.arrivals[marker]  # the list the readers append to
            # The lambda only runs within this iteration: the late binding is harmless.
            wait_for(lambda: len(arrivals) >= args.readers, _DELIVERED_WITHIN)  # noqa: B023
            times = [arrived - started for arrived in arrivals]
            gevent.sleep(0.2)
            wait_until_idle(worker, sleep=gevent.sleep)  # every long-poll has asked again
            used = resource.getrusage(resource.RUSAGE_SELF)
            client_cpu = used.ru_utime + used.ru_stime - client.ru_utime - client.ru_stime
            rows.append(
                {"times": times, "post": answered - started, "cpu": cpu_seconds(worker) - cpu,
                 "client_cpu": client_cpu}
            )  # fmt: skip
        crowd.close()
        result = {"rows": rows, "rss": peak_rss_mb(worker), "baseline": baseline}
        result.update(early=early, empty=crowd.empty, join_cpu=join_cpu)
        result["errors"] = crowd.errors + site.problems()
    return result


def idle_cost(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    env = site_env("sqlite", "memory", tmp, WEBCHAT_MAX_WAIT=f"{args.max_wait:g}")
    with gunicorn(tmp / "idle", env) as site:
        (worker,) = site.worker_pids()
        cursor = post(site.port, "idle: start")[2]["cursor"]
        with socket.create_connection(("127.0.0.1", site.port)) as sock:
            sock.sendall(f"GET /chat/messages?after={cursor} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            with sock.makefile("rb") as stream:
                empty_answer = _read_answer(stream)[2]  # what the original's empty poll costs
        crowds = [Crowd(site.port, kind, args.max_wait) for kind in ("long-poll", "sse")]
        for crowd in crowds:
            crowd.add(args.idle_readers, cursor, spread=args.max_wait)
        gevent.sleep(args.max_wait + 1)  # everyone joined, at evenly spread moments
        before = [(c.requests, c.bytes) for c in crowds], cpu_seconds(worker)
        gevent.sleep(args.idle_seconds)
        after = [(c.requests, c.bytes) for c in crowds], cpu_seconds(worker)
        for crowd in crowds:
            crowd.close()
        errors = [error for crowd in crowds for error in crowd.errors] + site.problems()
    per = args.idle_readers * args.idle_seconds / 60  # reader-minutes
    (poll_0, stream_0), (poll_1, stream_1) = before[0], after[0]
    return {
        "poll_requests": (poll_1[0] - poll_0[0]) / per, "poll_bytes": (poll_1[1] - poll_0[1]) / per,
        "sse_requests": (stream_1[0] - stream_0[0]) / per,
        "sse_bytes": (stream_1[1] - stream_0[1]) / per,
        "cpu_per_minute": (after[1] - before[1]) * 60 / args.idle_seconds,
        "empty_answer": empty_answer, "errors": len(errors),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=5)
    parser.add_argument(
        "--join-rate", type=float, default=100, help="readers joining per second, before the posts"
    )
    parser.add_argument("--wait", type=float, default=25, help="the long-polls' wait=")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--notifier", choices=["memory", "redis", "postgres"], default="memory")
    parser.add_argument("--transport", choices=["long-poll", "sse"], action="append")
    parser.add_argument("--idle-readers", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=60, help="0 skips the idle cost")
    parser.add_argument("--max-wait", type=float, default=25, help="WEBCHAT_MAX_WAIT when idle")
    args = parser.parse_args()
    limit = raise_open_files()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print_machine(sorted({"sqlite", args.database}), tmp)
        print(
            f"# gunicorn -w 1 -k gevent, {args.database} + {args.notifier} notifier;"
            f" {args.readers} readers, {args.posts} posts; open files {limit}",
            flush=True,
        )
        results = {t: fan_out(args, t, tmp) for t in args.transport or ["long-poll", "sse"]}
        idle = idle_cost(args, tmp) if args.idle_seconds > 0 else None

    print("# from sending the POST to each reader having the message; all posts pooled, ms")
    print(
        f"{'transport':<10} {'received':>11} {'p50':>7} {'p99':>7} {'max':>7} {'p99/goal':>9}"
        f" {'RSS MB':>7} {'RSS/goal':>9} {'KB/reader':>10} {'POST':>6} {'CPU µs/reader':>14}"
    )
    for transport, result in results.items():
        rows = result["rows"]
        times = [t * 1000 for row in rows for t in row["times"]] or [NAN]
        got = min(len(row["times"]) for row in rows)
        p99 = percentile(times, 0.99)
        cpu = statistics.median(row["cpu"] for row in rows) / args.readers * 1e6
        post_ms = statistics.median(row["post"] for row in rows) * 1000
        kb = (result["rss"] - result["baseline"]) * 1024 / args.readers
        print(
            f"{transport:<10} {f'{got}/{args.readers}':>11} {statistics.median(times):>7.0f}"
            f" {p99:>7.0f} {max(times):>7.0f} {p99 / (GOAL_P99_S * 1000):>9.2f}"
            f" {result['rss']:>7.0f} {result['rss'] / GOAL_RSS_MB:>9.2f} {kb:>10.0f}"
            f" {post_ms:>6.1f} {cpu:>14.0f}"
        )
    print(f"# goals: p99 <= {GOAL_P99_S * 1000:.0f} ms, worker peak RSS <= {GOAL_RSS_MB:.0f} MB")
    print(
        "# KB/reader: peak RSS above the worker's before readers joined; POST: its answer's time,"
        " ms; CPU: the worker's per post (delivery, and long-polls asking again) / readers"
    )
    for transport, result in results.items():
        rows = result["rows"]
        per_post = " ".join(f"{percentile(r['times'] or [NAN], 0.99) * 1000:.0f}" for r in rows)
        client = statistics.median(row["client_cpu"] for row in rows) * 1000
        print(
            f"# {transport}: p99 per post {per_post} ms; client CPU per post {client:.0f} ms;"
            f" answered before any post {result['early']}; empty long-poll answers"
            f" {result['empty']}; joining: {result['join_cpu'] / args.readers * 1000:.1f} ms"
            f" of worker CPU per reader; errors {len(result['errors'])}"
        )
        for error in result["errors"][:10]:
            print(f"#   {error}")
    if idle is None:
        return
    print(
        f"# idle room: {args.idle_readers} readers of each kind, counted for"
        f" {args.idle_seconds:g} s after joining over {args.max_wait:g} s; per reader and minute"
    )
    print(f"{'design':<36} {'requests':>9} {'expected':>9} {'vs original':>12} {'bytes in':>9}")
    original = 60 / ORIGINAL_INTERVAL
    for name, requests, expected, received in [
        ("original: poll every 2 s (est.)", original, original, original * idle["empty_answer"]),
        (f"long-poll, MAX_WAIT {args.max_wait:g} s", idle["poll_requests"], 60 / args.max_wait,
         idle["poll_bytes"]),
        ("SSE, heartbeat only", idle["sse_requests"], 0.0, idle["sse_bytes"]),
    ]:  # fmt: skip
        print(
            f"{name:<36} {requests:>9.2f} {expected:>9.2f} {requests / original:>12.3f}"
            f" {received:>9.0f}"
        )
    print(
        f"# original's bytes: 30 x this server's empty poll answer ({idle['empty_answer']:.0f} B);"
        f" worker CPU while idle: {idle['cpu_per_minute'] * 1000:.0f} ms a minute;"
        f" errors {idle['errors']}"
    )


if __name__ == "__main__":
    main()
