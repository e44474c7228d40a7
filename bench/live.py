"""What the real-time benchmarks share: the example app's environment, and process figures.

Servers are started by ``tests/processes.py``, as the tests start them: the example app exactly
as ``example_app/gunicorn_conf.py`` documents (gevent workers), on its own loopback port, with
its log in the instance folder. PostgreSQL setups use a
database of their own, ``webchat_bench``, so that a test suite running at the same time on the
configured database is left alone; it is created if missing and emptied before each setup.
"""

from __future__ import annotations

import math
import os
import re
import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import harness  # noqa: F401  (puts tests/ on the path, for hosts)
from hosts import SERVICE_VARIABLES, separate_database

BENCH_DATABASE = "webchat_bench"
_TICK = os.sysconf("SC_CLK_TCK")


def raise_open_files() -> int:
    """Raise this process's open-file limit to the hard limit (servers started inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def bench_postgres_url(tmp: Path) -> str:
    """The ``webchat_bench`` database on the configured PostgreSQL server, emptied."""
    return separate_database("postgres", BENCH_DATABASE, tmp)


def site_env(database: str, notifier: str, tmp: Path, **config: str) -> dict[str, str]:
    """``FLASK_*`` settings for the example app: a database, a notifier, no rate limit.

    Redis (when the notifier is ``redis``) also keeps the sessions, as the documented recipe
    does; otherwise sessions are files in the shared instance folder.
    """
    env = {"FLASK_WEBCHAT_RATE_LIMIT": "null", "FLASK_WEBCHAT_NOTIFIER": notifier}
    if database == "postgres":
        env["FLASK_SQLALCHEMY_DATABASE_URI"] = bench_postgres_url(tmp)
    if notifier == "redis":
        env["FLASK_REDIS_URL"] = os.environ[SERVICE_VARIABLES["redis"]]
        env["FLASK_SESSION_KEY_PREFIX"] = "webchat-bench:"
    env.update({f"FLASK_{key}": value for key, value in config.items()})
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def wait_until_idle(
    pid: int,
    *,
    busy: float = 0.02,
    sample: float = 0.25,
    limit: float = 60,
    sleep: Callable[[float], object] = time.sleep,
) -> None:
    """Return once a process used less than ``busy`` CPU seconds in ``sample`` seconds."""
    deadline = time.monotonic() + limit
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        sleep(sample)
        now = cpu_seconds(pid)
        if now - before < busy:
            return
        before = now
    raise RuntimeError(f"process {pid} stayed busy for {limit} s")


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def wrk(url: str, seconds: int, connections: int, *headers: str) -> tuple[int, float]:
    """``wrk`` at ``url``: how many requests it had answered, and how many a second.

    Every answer must be 2xx: an error is raised with wrk's report otherwise.
    """
    extra = [part for header in headers for part in ("-H", header)]
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", *extra, url]
    report = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in report:
        raise RuntimeError(f"{url} answered errors:\n{report}")
    answered = re.search(r"(\d+) requests in", report)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", report)
    assert answered is not None and rate is not None, report
    return int(answered.group(1)), float(rate.group(1))
