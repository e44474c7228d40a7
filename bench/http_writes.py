"""P5 as users meet it: HTTP posts from client processes to gunicorn, readers checked for exactness.

The example app under gunicorn (the documented config: gevent workers) on PostgreSQL, with
Flask-Session in Redis and the Redis notifier, and a Pushpin in front (``tests/pushpin.py``).
Writer processes post over keep-alive connections, each writer a browser of its own (its own
session cookie, an idempotency key per post); reader processes long-poll from a cursor, some
straight to gunicorn and some through the edge. Once the writers are done, every reader must
have every message exactly once, in order::

    python bench/http_writes.py                           # 8 writers x 250 posts, 20 readers
    python bench/http_writes.py --workers 2 --posts 500 --edge-readers 10

Goal: 1,000 messages/s with none lost or repeated. ``--profile`` samples one worker with
py-spy (``pip install py-spy``) during the posts and prints where it spends its time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import harness  # noqa: F401  (puts tests/ on the path)
from harness import print_machine
from live import cpu_seconds, raise_open_files, site_env
from processes import gunicorn

KEY = "bench-writes-key"
GOAL = 1000.0


def writer(port: int, posts: int, number: int, start: Any, pipe: Connection) -> None:
    """One browser posting ``posts`` messages, one after another, on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    cookie = ""
    refused = 0
    start.wait()
    began = time.perf_counter()
    for index in range(posts):
        body = json.dumps({"content": f"w{number}-{index}", "username": f"writer{number}"})
        headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        if cookie:
            headers["Cookie"] = cookie
        while True:
            connection.request("POST", "/chat/messages", body, headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status == 201:
                break
            refused += 1  # a 503 under load: the same key again, as the page retries
            time.sleep(0.05)
        for name, value in answer.getheaders():
            if name.lower() == "set-cookie" and not cookie:
                cookie = headers["Cookie"] = value.split(";", 1)[0]
    pipe.send((time.perf_counter() - began, refused))


def reader(port: int, expected: int, pipe: Connection) -> None:
    """Long-poll from a cursor until ``expected`` messages came; report what came, in order."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    cursor, seen, retries = "0", [], 0
    deadline = time.monotonic() + 600
    while len(seen) < expected and time.monotonic() < deadline:
        try:
            connection.request("GET", f"/chat/messages?after={cursor}&wait=20")
            answer = connection.getresponse()
            raw = answer.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            retries += 1
            time.sleep(0.2)
            continue
        if answer.status != 200:
            retries += 1  # the edge refusing part of a burst: ask again, from the same cursor
            time.sleep(0.2)
            continue
        batch = json.loads(raw)
        seen += [message["content"] for message in batch["messages"]]
        cursor = batch["cursor"]
    pipe.send((seen, retries))


def profile(pid: int, seconds: int, folder: Path) -> str:
    """The worker's hottest functions over ``seconds``, by py-spy (empty if it is missing)."""
    spy = shutil.which("py-spy")
    if spy is None:
        return "(py-spy is not installed: pip install py-spy)"
    out = folder / "profile.txt"
    subprocess.run(
        [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--format", "raw",
         "--output", str(out), "--nonblocking"],
        capture_output=True, check=False,
    )  # fmt: skip
    if not out.exists():
        return "(py-spy could not sample the worker)"
    totals: dict[str, int] = {}
    samples = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples += int(count)
        for frame in set(stack.split(";")):
            if "flask_webchat" in frame or "sqlalchemy" in frame or "redis" in frame:
                name = frame.split(" (")[0] + " (" + frame.split("/")[-1]
                totals[name] = totals.get(name, 0) + int(count)
    leaves: dict[str, int] = {}
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        leaf = stack.split(";")[-1]
        name = leaf.split(" (")[0] + " (" + leaf.split("/")[-1]
        leaves[name] = leaves.get(name, 0) + int(count)
    lines = [f"# {samples} samples of one worker; inclusive:"]
    for found in (totals, leaves):
        top = sorted(found.items(), key=lambda item: -item[1])[:12]
        lines += [f"{count / samples:6.1%}  {name}" for name, count in top]
        lines.append("# where the samples were (the innermost frame):")
    return "\n".join(lines[:-1])


def cpu_by_program(workers: list[int]) -> dict[str, float]:
    """CPU seconds every process on the machine has used so far, summed by program name (the
    gunicorn ``workers`` apart from the client processes, which are Python too)."""
    used: dict[str, float] = {}
    for folder in Path("/proc").glob("[0-9]*"):
        pid = int(folder.name)
        try:
            name, spent = (folder / "comm").read_text().strip(), cpu_seconds(pid)
        except OSError:  # gone meanwhile
            continue
        if pid in workers:
            group = "app workers"
        elif name.startswith("python"):
            group = "client processes"
        else:
            group = name.split(":")[0].split("/")[0]
        used[group] = used.get(group, 0.0) + spent
    return used


def busy_cores() -> float:
    """CPU seconds the machine has spent busy so far, all cores together (from /proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_report(before: dict[str, float], after: dict[str, float], messages: int) -> str:
    """Where the machine's CPU went during the posts, per message, heaviest first."""
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    top = sorted(((t, n) for n, t in spent.items() if t > 0.05), reverse=True)[:6]
    return "# CPU per message: " + ", ".join(f"{n} {t / messages * 1e3:.2f} ms" for t, n in top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--posts", type=int, default=250, help="posts per writer")
    parser.add_argument("--readers", type=int, default=10, help="straight to gunicorn")
    parser.add_argument("--edge-readers", type=int, default=10, help="through Pushpin")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--pool-size", type=int, default=0, help="SQLAlchemy's pool_size (0: its default, 5)"
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    import pushpin  # tests/pushpin.py

    edge_readers = 0 if pushpin.missing() else args.edge_readers
    if edge_readers < args.edge_readers:
        print(f"# edge readers left out: {pushpin.missing()}")
    multiprocessing.set_start_method("fork")
    raise_open_files()
    expected = args.writers * args.posts
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print_machine(["postgres"], tmp)
        edge = pushpin.Pushpin(tmp / "pushpin", [], KEY)
        config = {}
        if edge_readers:
            config.update(WEBCHAT_GRIP_URL=edge.publish_url, WEBCHAT_GRIP_KEY=KEY)
        if args.pool_size:
            pool = {"pool_size": args.pool_size, "max_overflow": args.pool_size}
            config["SQLALCHEMY_ENGINE_OPTIONS"] = json.dumps(pool)
        env = site_env("postgres", "redis", tmp, **config)
        with gunicorn(tmp / "app", env, workers=args.workers) as site:
            edge.origins = [site.url]
            if edge_readers:
                edge.start()
            try:
                readers, pipes = [], []
                ports = [site.port] * args.readers + [edge.http_port] * edge_readers
                for port in ports:
                    mine, theirs = multiprocessing.Pipe()
                    readers.append(
                        multiprocessing.Process(target=reader, args=(port, expected, theirs))
                    )
                    pipes.append(mine)
                start = multiprocessing.Event()
                writers, writer_pipes = [], []
                for number in range(args.writers):
                    mine, theirs = multiprocessing.Pipe()
                    work = (site.port, args.posts, number, start, theirs)
                    writers.append(multiprocessing.Process(target=writer, args=work))
                    writer_pipes.append(mine)
                for process in readers + writers:
                    process.start()
                time.sleep(2)  # the readers are waiting
                cpu_before, busy_before = cpu_by_program(site.worker_pids()), busy_cores()
                began = time.perf_counter()
                start.set()
                if args.profile:
                    print(profile(site.worker_pids()[0], 5, tmp))
                written = [pipe.recv() for pipe in writer_pipes]
                seconds = time.perf_counter() - began
                cpu_after, busy = cpu_by_program(site.worker_pids()), busy_cores() - busy_before
                views = [pipe.recv() for pipe in pipes]
                for process in readers + writers:
                    process.join(10)
            finally:
                edge.stop()

    posted = {f"w{n}-{i}" for n in range(args.writers) for i in range(args.posts)}
    lost = dup = order = 0
    first = views[0][0] if views else []
    for seen, _ in views:
        lost += len(posted - set(seen))
        dup += len(seen) - len(set(seen))
        # Every reader sees the room's one order, and each writer's posts in the order sent.
        order += seen != first
        for number in range(args.writers):
            mine = [int(text.rsplit("-", 1)[1]) for text in seen if text.startswith(f"w{number}-")]
            order += mine != sorted(mine)
    rate = expected / seconds
    print(
        f"# gunicorn -w {args.workers} -k gevent, PostgreSQL, Redis sessions and notifier;"
        f" {args.writers} writer processes x {args.posts} posts;"
        f" {args.readers} readers direct, {edge_readers} through Pushpin"
    )
    print(f"{'messages':>9} {'seconds':>8} {'msg/s':>7} {'lost':>5} {'dup':>4} {'order':>6}"
          f" {'503s':>5} {'reader retries':>15}")  # fmt: skip
    print(
        f"{expected:>9} {seconds:>8.1f} {rate:>7.0f} {lost:>5} {dup:>4} {order:>6}"
        f" {sum(r for _, r in written):>5} {sum(r for _, r in views):>15}"
    )
    print(cpu_report(cpu_before, cpu_after, expected))
    print(f"# the 2 cores were {busy / seconds / (os.cpu_count() or 1):.0%} busy while posting")
    print(f"goal: {GOAL:.0f} messages/s, none lost or repeated")


if __name__ == "__main__":
    main()
