"""Fan-out through a Pushpin edge next to the direct gevent worker, side by side in one run.

One gunicorn server (``-w 1 -k gevent``, the documented config, SQLite, memory notifier) with
``WEBCHAT_GRIP_URL`` set, and a Pushpin of its own in front (``tests/pushpin.py``: its own config,
ports 17000-17999 and zurl). Readers are spread over several load processes, each holding its
share on gevent sockets (``bench/fanout.py``'s ``Crowd``), so that the load generator is not the
bottleneck. Once every reader waits, one message is posted at a time; each reader's time is from
sending the POST to having the message (``perf_counter`` is the same monotonic clock in every
process). Then the same is measured straight against the worker, at the count it can hold::

    python bench/edge_fanout.py                               # 10000 through the edge, both kinds
    python bench/edge_fanout.py --readers 2000 --direct 2000 --loaders 4 --posts 3
    python bench/edge_fanout.py --transports sse --single     # what one load process drives

Goals: every reader gets every post, p99 <= 1 s, app-process RSS <= 250 MB, at 10,000 readers.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import harness  # noqa: F401  (puts tests/ on the path)
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
KEY = "bench-edge-key"
_DELIVERED_WITHIN = 60.0
_SETTLE_WITHIN = 180.0


def loader(
    port: int, transport: str, count: int, cursor: str, ramp: float, wait: float, pipe: Connection
) -> None:
    """One load process: hold ``count`` readers, then report each post's arrival times."""
    import fanout
    import gevent  # in the child only: the parent never starts a gevent hub

    crowd = fanout.Crowd(port, transport, wait)
    crowd.add(count, cursor, spread=ramp)
    fanout.wait_for(lambda: crowd.ready + len(crowd.errors) >= count, ramp + 120)
    pipe.send(("ready", crowd.ready, crowd.errors[:3]))
    while True:
        while not pipe.poll():
            gevent.sleep(0.01)
        command, marker = pipe.recv()
        if command == "stop":
            crowd.close()
            return
        if command == "settle":  # every long-poll held again after the last post
            alive = crowd.ready - len(crowd.errors)
            fanout.wait_for(lambda: crowd.waiting() >= alive, _SETTLE_WITHIN)  # noqa: B023
            pipe.send(("settled", crowd.waiting(), alive))
            continue
        arrivals = crowd.arrivals[marker]
        fanout.wait_for(lambda: len(arrivals) >= crowd.ready, _DELIVERED_WITHIN)  # noqa: B023
        gevent.sleep(0.05)
        pipe.send(("times", list(arrivals), crowd.errors[:3], crowd.refused))


def run(
    port: int, worker: int, transport: str, readers: int, ramp: float, args: argparse.Namespace
) -> dict:
    """Readers on ``port`` (the edge, or the worker itself), joining over ``ramp`` seconds;
    ``args.posts`` posts to the worker."""
    import fanout

    cursor = fanout_post(port, f"{transport}: start")
    pipes, children = [], []
    loaders, posts = 1 if args.single else args.loaders, args.posts
    shares = [readers // loaders + (n < readers % loaders) for n in range(loaders)]
    for share in shares:
        mine, theirs = multiprocessing.Pipe()
        work = (port, transport, share, cursor, ramp, args.wait, theirs)
        child = multiprocessing.Process(target=loader, args=work, daemon=True)
        child.start()
        pipes.append(mine)
        children.append(child)
    ready = [pipe.recv() for pipe in pipes]
    connected = sum(answer[1] for answer in ready)
    errors = [error for answer in ready for error in answer[2]]
    wait_until_idle(worker)
    rows = []
    time.sleep(3)  # Pushpin checks each new hold about a second after it starts
    wait_until_idle(worker)
    for number in range(posts if connected else 0):
        marker = f"fanout {number}"
        started, answered, _ = fanout.post(worker_port(port), marker)
        for pipe in pipes:
            pipe.send(("collect", marker))
        times, refused = [], 0
        for pipe in pipes:
            _, arrivals, problems, refused_here = pipe.recv()
            times += [arrived - started for arrived in arrivals]
            errors += problems
            refused += refused_here
        rows.append({"times": times, "post": answered - started, "refused": refused})
        time.sleep(0.3)
        if transport == "long-poll":
            # Each long-poller asks again after a post: the next post waits until they are
            # all held again (the app is idle between those requests while Pushpin refuses).
            for pipe in pipes:
                pipe.send(("settle", ""))
            settled = [pipe.recv() for pipe in pipes]
            # How long the burst of next polls lasts: how often posts can come at this size.
            rows[-1]["held again"] = time.perf_counter() - started
            if any(held < alive for _, held, alive in settled):
                print(f"# after post {number}: held again / readers: {settled}")
        wait_until_idle(worker)
    for pipe in pipes:
        pipe.send(("stop", ""))
    for child in children:
        child.join(10)
        if child.is_alive():
            child.kill()
    return {"rows": rows, "connected": connected, "errors": errors}


_WORKER_PORT: dict[int, int] = {}


def worker_port(port: int) -> int:
    """Posts go straight to the worker: the edge is for readers."""
    return _WORKER_PORT.get(port, port)


def fanout_post(port: int, content: str) -> str:
    import fanout

    return str(fanout.post(worker_port(port), content)[2]["cursor"])


def summary(label: str, readers: int, result: dict, rss: float) -> list[str]:
    rows = result["rows"]
    if not rows:
        return [f"{label:<24}{readers:>8}  none connected"]
    delivered = min(len(row["times"]) for row in rows)
    readers = result["connected"]
    times = [t for row in rows for t in row["times"]]
    p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
    post_ms = max(row["post"] for row in rows) * 1000
    refused = rows[-1]["refused"]  # polls refused (and asked again) over the whole run
    held_again = max((row.get("held again", 0.0) for row in rows), default=0.0)
    return [
        f"{label:<24}{readers:>8}{delivered:>11}{p50 * 1000:>9.0f}{p99 * 1000:>9.0f}"
        f"{post_ms:>10.0f}{rss:>9.0f}{refused:>9}{held_again:>8.1f}"
        f"  {'ok' if p99 <= GOAL_P99_S else 'over'}"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=10_000, help="through the edge")
    parser.add_argument("--direct", type=int, default=2_000, help="straight to the worker")
    parser.add_argument("--direct-long-poll", type=int, default=600)
    parser.add_argument("--loaders", type=int, default=4, help="load processes")
    parser.add_argument("--posts", type=int, default=3)
    parser.add_argument("--transports", nargs="+", default=["sse", "long-poll"])
    parser.add_argument("--single", action="store_true", help="one load process, to size it")
    parser.add_argument("--ramp", type=float, default=0.0, help="seconds to spread joins over")
    parser.add_argument(
        "--wait", type=float, default=25, help="the long-polls' wait= (and WEBCHAT_MAX_WAIT)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder, and say where")
    args = parser.parse_args()
    import pushpin  # tests/pushpin.py, on the path through harness

    if pushpin.missing():
        sys.exit(f"edge_fanout: {pushpin.missing()}")
    multiprocessing.set_start_method("fork")
    raise_open_files()
    loaders = 1 if args.single else args.loaders
    lines = []
    if args.keep:
        logs: Any = contextlib.nullcontext(tempfile.mkdtemp(prefix="edge-fanout-"))
    else:
        logs = tempfile.TemporaryDirectory()
    with logs as folder:
        tmp = Path(folder)
        if args.keep:
            print(f"# logs: {tmp}")
        print_machine(["sqlite"], tmp)
        for transport in args.transports:
            direct = args.direct if transport == "sse" else args.direct_long_poll
            edge = pushpin.Pushpin(tmp / f"pushpin-{transport}", [], KEY)
            env = site_env(
                "sqlite",
                "memory",
                tmp,
                WEBCHAT_GRIP_URL=edge.publish_url,
                WEBCHAT_GRIP_KEY=KEY,
                WEBCHAT_MAX_WAIT=f"{args.wait:g}",
            )
            connections = max(args.readers, direct) + 1000
            with gunicorn(tmp / f"app-{transport}", env, connections=connections) as site:
                (worker,) = site.worker_pids()
                edge.origins = [site.url]
                edge.start()
                try:
                    _WORKER_PORT[edge.http_port] = site.port
                    processes = {"app": worker, **edge.component_pids()}
                    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
                    through = run(edge.http_port, worker, transport, args.readers, args.ramp, args)
                    used = {n: cpu_seconds(pid) - before[n] for n, pid in processes.items()}
                    lines += summary(
                        f"edge {transport}", args.readers, through, peak_rss_mb(worker)
                    )
                    # Who did the work: the app, or the edge's own processes.
                    lines.append("#   CPU s: " + ", ".join(f"{n} {t:.1f}" for n, t in used.items()))
                finally:
                    edge.stop()
            with gunicorn(tmp / f"direct-{transport}", env, connections=connections) as site:
                (worker,) = site.worker_pids()
                straight = run(site.port, worker, transport, direct, 0.0, args)
                lines += summary(f"direct {transport}", direct, straight, peak_rss_mb(worker))
            for label, result in (("edge", through), ("direct", straight)):
                if result["errors"]:
                    print(f"{label} {transport}: readers refused, e.g.")
                    print(f"  {result['errors'][0][:160]}")
    print(f"\nFan-out, {args.posts} posts, {loaders} load process(es); times from POST to delivery")
    print(f"{'':<24}{'held':>8}{'delivered':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'POST ms':>10}{'RSS MB':>9}{'refused':>9}{'again s':>8}")  # fmt: skip
    print("# again s: from a post to every long-poller held again (the wait of the next post)")
    print("\n".join(lines))
    print(f"goals: p99 <= {GOAL_P99_S * 1000:.0f} ms, app RSS <= {GOAL_RSS_MB:.0f} MB")


if __name__ == "__main__":
    main()
