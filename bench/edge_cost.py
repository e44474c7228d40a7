"""What one request through the Pushpin edge costs each process, next to the app alone.

One gunicorn gevent worker (the example app, SQLite, memory notifier, ``WEBCHAT_GRIP_URL`` set)
and a Pushpin of its own in front (``tests/pushpin.py``). ``wrk`` sends the same empty poll from
the room's head, first straight to the worker, then through Pushpin, which passes it on through
zurl; each process's CPU time over the run, divided by the requests answered, is what a request
costs it::

    python bench/edge_cost.py
    python bench/edge_cost.py --seconds 20 --connections 16

Every long-poller through the edge makes such a request after each post (its next poll, which
the app answers with a hold), so these figures bound how many long-pollers two cores can serve
per post, whatever the app does.
"""

from __future__ import annotations

import argparse
import tempfile
import urllib.request
from pathlib import Path

import harness  # noqa: F401  (puts tests/ on the path)
from harness import print_machine
from live import cpu_seconds, site_env, wrk
from processes import gunicorn

KEY = "bench-edge-cost-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    import pushpin  # tests/pushpin.py, on the path through harness

    if pushpin.missing():
        raise SystemExit(f"Pushpin is not installed: {pushpin.missing()}")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print_machine(["sqlite"], tmp)
        edge = pushpin.Pushpin(tmp / "pushpin", [], KEY, log_level=1)
        env = site_env("sqlite", "memory", tmp, WEBCHAT_GRIP_URL=edge.publish_url,
                       WEBCHAT_GRIP_KEY=KEY)  # fmt: skip
        with gunicorn(tmp / "app", env) as site:
            (worker,) = site.worker_pids()
            edge.origins = [site.url]
            edge.start()
            try:
                processes = {"app": worker, **edge.component_pids()}
                poll = "/chat/messages?after=0"
                urllib.request.urlopen(f"{edge.url}{poll}").read()  # warm both up
                targets = (("straight to the app", site.url), ("through Pushpin", edge.url))
                rows = [(label, *_measure(base + poll, processes, args)) for label, base in targets]
            finally:
                edge.stop()
    names = list(processes)
    print(f"\nAn empty poll, wrk -c{args.connections} {args.seconds} s; CPU µs per request")
    header = "".join(f"{name:>16}" for name in names)
    print(f"{'':<22}{'req/s':>7}{header}{'edge total':>12}")
    for label, answered, used in rows:
        per = {name: used[name] / answered * 1e6 for name in names}
        edge_total = sum(value for name, value in per.items() if name != "app")
        cells = "".join(f"{per[name]:>16.0f}" for name in names)
        print(f"{label:<22}{answered / args.seconds:>7.0f}{cells}{edge_total:>12.0f}")


def _measure(
    url: str, processes: dict[str, int], args: argparse.Namespace
) -> tuple[int, dict[str, float]]:
    """Requests answered at ``url``, and the CPU seconds each process used meanwhile."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    answered, _ = wrk(url, args.seconds, args.connections)
    return answered, {name: cpu_seconds(pid) - before[name] for name, pid in processes.items()}


if __name__ == "__main__":
    main()
