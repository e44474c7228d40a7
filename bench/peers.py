"""Peers: our SSE fan-out next to Flask-SSE 1.0.0 and django-eventstream 5, side by side.

Three servers, each started fresh for every reader count, in turn (ours, Flask-SSE,
django-eventstream, then the next count), so that the machine's noise falls on all alike:

- **ours**: the example app as ``bench/fanout.py`` serves it, gunicorn ``-w 1 -k gevent`` with
  ``example_app/gunicorn_conf.py``; SQLite with the memory notifier, or PostgreSQL with the Redis
  notifier and Redis sessions. Every message is stored; a reader resumes from its cursor.
- **flask-sse**: ``bench/peers/flask_sse_app.py``, the same gunicorn ``-w 1 -k gevent``. Its
  stream subscribes to Redis pub/sub on a connection of its own per reader, and a post publishes
  to whoever is subscribed then: nothing is stored and nothing is replayed (lossy), whatever the
  ``--database``. Its stream sends no byte (not even its headers) before the first event, so its
  readers count as connected when Redis has them all subscribed (``PUBSUB NUMSUB``).
- **django-eventstream**: ``bench/peers/django_site/``, one uvicorn process (ASGI), with
  ``EVENTSTREAM_STORAGE_CLASS = 'django_eventstream.storage.DjangoModelStorage'``: ``send_event``
  saves the event (and bumps a per-channel counter row under ``SELECT ... FOR UPDATE``) in
  Django's database, then wakes the listeners of this process, which send it from memory. Its
  storage is off unless that setting is made; without it delivery is lossy like Flask-SSE's.
  Under ASGI every open stream keeps a thread of its own (Django's per-request
  ``ThreadSensitiveContext``) and, on PostgreSQL, that thread's database connection. Its
  PostgreSQL database, ``peers_bench``, belongs to a role of that name limited to
  ``PG_CONNECTIONS`` connections, so that it cannot take every connection of the shared server.

Each peer gets its own virtualenv, ``bench/.venvs/<name>``, made with ``python -m venv`` and
pip-installed the first time (again only when its requirements below change).

The readers are this process's: one gevent greenlet and raw socket each (no monkey-patching),
fanout.py's SSE ``Crowd``, on ``GET /chat/events``; each peer serves the same two paths. Once all
are connected and the server is idle, ``--posts`` messages go to ``POST /chat/messages`` one at a
time, the next when every reader has the last (or after ``--timeout``). Per reader: the time from
sending the POST to having parsed the event. Per system: the POST's answer time, the server
process's CPU over the posts / (readers x posts), and its peak RSS (``VmHWM``). Readers join at
``--join-rate`` a second (100, as in fanout.py). p50 and p99 are over the readers reached; a
"received" below the count means the rest had nothing within ``--timeout``. One load process
drives 3000 readers alone: its own CPU per post (printed) was at most about 250 ms there, next to
p99s of 1 to 1.5 s. CPU is read in 10 ms ticks, so small counts show the POST's own cost.

    python bench/peers.py                                  # SQLite, 500,1000,2000,3000 readers
    python bench/peers.py --database postgres --readers 500,1000 --posts 3
    python bench/peers.py --database sqlite --database postgres --readers 50,200 --posts 2

Needs ``WEBCHAT_TEST_REDIS_URL`` (Flask-SSE uses Redis in both setups) and, for PostgreSQL,
``WEBCHAT_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fanout
import gevent
import redis
import sqlalchemy as sa
from fanout import Crowd, post, wait_for

from harness import print_machine
from hosts import SERVICE_VARIABLES, database_url
from live import cpu_seconds, peak_rss_mb, percentile, raise_open_files, site_env, wait_until_idle
from processes import Site, free_port, gunicorn, serve

BENCH = Path(__file__).resolve().parent
PEERS = BENCH / "peers"
VENVS = BENCH / ".venvs"
REQUIREMENTS = {
    # gunicorn's gevent worker imports packaging without requiring it.
    "flask-sse": ["flask-sse==1.0.0", "gunicorn", "gevent", "packaging"],
    # uvicorn[standard]: uvloop and httptools, as uvicorn is deployed.
    "django-eventstream": ["django-eventstream>=5,<6", "uvicorn[standard]", "psycopg[binary]"],
}
SYSTEMS = ("ours", "flask-sse", "django-eventstream")
LABELS = {
    "flask-sse": "flask-sse (Redis, stores nothing)",
    "django-eventstream": "django-eventstream (DB storage)",
}
PG_ROLE = "peers_bench"
PG_CONNECTIONS = 60
NAN = float("nan")
# The peers' JSON has a space after each colon; ours is compact. Both are fanout.py's markers.
fanout._MARKER = re.compile(rb'"content": ?"(fanout \d+)"')


def venv(name: str) -> Path:
    """The peer's virtualenv's Python, made and pip-installed the first time."""
    folder = VENVS / name
    python, stamp = folder / "bin" / "python", folder / "requirements.txt"
    wanted = "\n".join(REQUIREMENTS[name]) + "\n"
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"# installing {name} into {folder}", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *REQUIREMENTS[name]], check=True)
    stamp.write_text(wanted)
    return python


def versions(name: str, packages: list[str]) -> str:
    code = "import sys, importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in sys.argv[1:]))"  # noqa: E501
    out = subprocess.run([str(venv(name)), "-c", code, *packages], capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()


def service(name: str) -> str:
    variable = SERVICE_VARIABLES[name]
    if not os.environ.get(variable):
        raise SystemExit(f"set {variable} (see docs/contributing.rst)")
    return os.environ[variable]


def django_postgres(tmp: Path) -> str:
    """An empty ``peers_bench`` database, owned by a role held to ``PG_CONNECTIONS``."""
    server = sa.make_url(database_url("postgres", tmp))
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": PG_ROLE}
            )
            if not exists:
                connection.execute(sa.text(f"CREATE ROLE {PG_ROLE} LOGIN"))
            connection.execute(sa.text(f"ALTER ROLE {PG_ROLE} CONNECTION LIMIT {PG_CONNECTIONS}"))
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_ROLE} WITH (FORCE)"))
            connection.execute(sa.text(f"CREATE DATABASE {PG_ROLE} OWNER {PG_ROLE}"))
    finally:
        engine.dispose()
    return f"postgresql://{PG_ROLE}@{server.host or '127.0.0.1'}:{server.port or 5432}/{PG_ROLE}"


@contextmanager
def start(system: str, database: str, readers: int, tmp: Path) -> Iterator[tuple[Site, int]]:
    """A fresh server for ``system``: the site, and the process that serves the readers."""
    connections, port = str(max(5000, readers + 500)), free_port()
    name = f"{system}-{database}-{readers}"
    if system == "ours":
        notifier = "redis" if database == "postgres" else "memory"
        env = site_env(database, notifier, tmp)
        with gunicorn(tmp / name, env, connections=int(connections)) as site:
            yield site, site.worker_pids()[0]
        return
    if system == "flask-sse":
        command = [str(venv(system)), "-m", "gunicorn", "-w", "1", "-k", "gevent",
                   "--worker-connections", connections, "-b", f"127.0.0.1:{port}",
                   "flask_sse_app:app"]  # fmt: skip
        env = {"PEER_REDIS_URL": service("redis")}
    else:
        url = django_postgres(tmp) if database == "postgres" else f"sqlite:///{tmp / name}.db"
        env = {"PEER_DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "django_site.settings"}
        python = str(venv(system))
        migrate = [python, "-m", "django", "migrate", "-v", "0"]
        subprocess.run(migrate, env={**os.environ, **env}, cwd=PEERS, check=True)
        command = [python, "-m", "uvicorn", "django_site.asgi:application", "--host", "127.0.0.1",
                   "--port", str(port), "--no-access-log", "--log-level", "warning",
                   "--backlog", "4096", "--timeout-graceful-shutdown", "3"]  # fmt: skip
    with serve(command, env, tmp / f"{name}.log", port, ready="/ping", cwd=PEERS) as site:
        yield site, site.worker_pids()[0] if system == "flask-sse" else site.process.pid


def redis_cpu(client: redis.Redis) -> Callable[[], float]:
    """The Redis server's CPU seconds so far (0 where its process is not visible here)."""
    pid = int(client.info("server")["process_id"])
    return (lambda: cpu_seconds(pid)) if Path(f"/proc/{pid}/stat").exists() else (lambda: 0.0)


def measure(system: str, args: argparse.Namespace, readers: int, tmp: Path) -> dict[str, Any]:
    client = redis.Redis.from_url(service("redis"))
    redis_seconds = redis_cpu(client)
    with start(system, args.database_now, readers, tmp) as (site, worker):
        cursor = str(post(site.port, "peers: start")[2].get("cursor", 0))
        crowd = Crowd(site.port, "sse", 0)
        crowd.add(readers, cursor, spread=readers / args.join_rate)
        if system == "flask-sse":  # no byte before the first event: ask Redis who listens

            def connected() -> int:
                return int(dict(client.pubsub_numsub("sse")).get(b"sse", 0))
        else:

            def connected() -> int:
                return crowd.ready

        joined = readers / args.join_rate + 60
        if not wait_for(lambda: connected() >= readers or bool(crowd.errors), joined):
            raise RuntimeError(f"{connected()} of {readers} readers connected")
        if crowd.errors:  # the server's own reason: its log's last exception line
            logged = site.log.read_text(errors="replace").splitlines()
            problems = [line for line in logged if "Error" in line and line[:1] not in " \t"]
            raise RuntimeError(
                f"{connected()} of {readers} connected, {len(crowd.errors)} failed: "
                f"{crowd.errors[0][:80]}; server: …{(problems or ['-'])[-1][-110:]}"
            )
        wait_until_idle(worker, sleep=gevent.sleep)
        result: dict[str, Any] = {"times": [], "got": [], "post": [], "cpu": 0.0, "redis": 0.0}
        result["client"], result["p99s"] = [], []
        for number in range(args.posts):
            marker = f"fanout {number}"
            cpu, at_redis = cpu_seconds(worker), redis_seconds()
            before = resource.getrusage(resource.RUSAGE_SELF)
            started, answered, _ = post(site.port, marker)
            arrivals = crowd.arrivals[marker]  # the list the readers append to
            wait_for(lambda: len(arrivals) >= readers, args.timeout)  # noqa: B023
            result["times"] += [(arrived - started) * 1000 for arrived in arrivals]
            result["p99s"].append(percentile(result["times"][-len(arrivals) :] or [NAN], 0.99))
            result["got"].append(len(arrivals))
            result["post"].append((answered - started) * 1000)
            gevent.sleep(0.2)
            wait_until_idle(worker, sleep=gevent.sleep)
            used = resource.getrusage(resource.RUSAGE_SELF)
            result["cpu"] += cpu_seconds(worker) - cpu
            result["redis"] += redis_seconds() - at_redis
            mine = used.ru_utime + used.ru_stime - before.ru_utime - before.ru_stime
            result["client"].append(mine * 1000)
        result["rss"] = peak_rss_mb(worker)
        crowd.close()
        result["errors"] = crowd.errors + site.problems()
    client.close()
    return result


def print_ratios(counts: list[int], peers: list[str], results: dict[tuple[str, int], Any]) -> None:
    print("# ours/peer p99 (below 1: ours is faster)")
    for readers in counts:
        ours, ratios = results["ours", readers], []
        for system in peers:
            peer = results[system, readers]
            if isinstance(ours, Exception) or isinstance(peer, Exception):
                ratios.append(f"{system} -")
            else:
                ratio = percentile(ours["times"], 0.99) / percentile(peer["times"], 0.99)
                ratios.append(f"{system} {ratio:.2f}")
        print(f"#   {readers:>5} readers: " + ", ".join(ratios))


def print_table(
    database: str, args: argparse.Namespace, results: dict[tuple[str, int], Any]
) -> None:
    print(f"\n# {database}: from sending the POST to each reader reached having parsed the event")
    print(
        f"{'system':<34} {'readers':>7} {'received':>9} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'POST ms':>8} {'µs/reader/post':>15} {'RSS MB':>7}"
    )
    for readers in args.readers:
        for system in args.systems:
            result = results[system, readers]
            label = LABELS.get(system, system)
            if isinstance(result, Exception):
                reason = str(result).strip().split("\n")[0][:240]
                print(f"{label:<34} {readers:>7} FAILED: {type(result).__name__}: {reason}")
                continue
            times = result["times"] or [NAN]
            got = f"{min(result['got'])}/{readers}"
            cpu = result["cpu"] / (readers * args.posts) * 1e6
            post_ms = sorted(result["post"])[len(result["post"]) // 2]
            print(
                f"{label:<34} {readers:>7} {got:>9} {percentile(times, 0.5):>7.0f}"
                f" {percentile(times, 0.99):>7.0f} {post_ms:>8.1f} {cpu:>15.1f}"
                f" {result['rss']:>7.0f}"
            )
    peers = [system for system in args.systems if system != "ours"]
    if "ours" in args.systems and peers:
        print_ratios(args.readers, peers, results)
    print("# per post: p99 ms, readers reached; Redis server CPU µs/reader; this process's CPU ms")
    for (system, readers), result in results.items():
        if isinstance(result, Exception):
            continue
        redis_us = result["redis"] / (readers * args.posts) * 1e6
        client, errors = max(result["client"]), result["errors"]
        p99s = " ".join(f"{p99:.0f}" for p99 in result["p99s"])
        got = " ".join(str(count) for count in result["got"])
        print(
            f"#   {system:<18} {readers:>5}: p99 {p99s}; received {got}; Redis {redis_us:.1f};"
            f" client {client:.0f} (max);"
            f" errors {len(errors)}" + (f" (first: {errors[0][:120]})" if errors else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", default="500,1000,2000,3000", help="comma-separated counts")
    parser.add_argument("--posts", type=int, default=3)
    parser.add_argument("--database", choices=["sqlite", "postgres"], action="append")
    parser.add_argument("--join-rate", type=float, default=100, help="readers joining a second")
    parser.add_argument("--system", choices=SYSTEMS, action="append", help="default: all")
    parser.add_argument("--timeout", type=float, default=30, help="s to wait for one delivery")
    args = parser.parse_args()
    args.readers = [int(count) for count in args.readers.split(",")]
    databases = args.database or ["sqlite"]
    args.systems = [system for system in SYSTEMS if system in (args.system or SYSTEMS)]
    service("redis")
    limit = raise_open_files()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print_machine(sorted({"sqlite", *databases}), tmp)
        server = redis.Redis.from_url(service("redis")).info("server")["redis_version"]
        flask_sse = versions("flask-sse", ["flask-sse", "flask", "gunicorn", "gevent", "redis"])
        django = ["django-eventstream", "django", "uvicorn", "uvloop", "httptools", "psycopg"]
        print(f"# flask-sse venv: {flask_sse}; Redis server {server}")
        print(f"# django-eventstream venv: {versions('django-eventstream', django)}")
        print(
            f"# readers {args.readers}, {args.posts} posts each, joining {args.join_rate:g}/s;"
            f" open files {limit}; django-eventstream's PostgreSQL role: {PG_CONNECTIONS}"
            " connections at most",
            flush=True,
        )
        for database in databases:
            args.database_now = database
            results: dict[tuple[str, int], Any] = {}
            for readers in args.readers:
                for system in args.systems:
                    try:
                        results[system, readers] = measure(system, args, readers, tmp)
                    except Exception as error:  # a failed peer is a row, not the end of the run
                        results[system, readers] = error
                    print(f"# done: {database} {system} {readers}", flush=True)
            print_table(database, args, results)


if __name__ == "__main__":
    main()
