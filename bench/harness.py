"""What every benchmark prints first: the machine and the versions it measured."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import sqlalchemy as sa

# The benchmarks build the test suite's host app, so they measure what the tests check.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hosts import SERVICE_VARIABLES, database_url

DATABASES = ("sqlite", "postgres", "mysql")

#: The design flask-webchat grew out of: one table, read with ``OFFSET <rows seen>``. The
#: benchmarks measure against it on the same database.
ORIGINAL_MESSAGES = sa.Table(
    "original_messages",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("content", sa.String(1024), nullable=False),
    sa.Column("username", sa.String(1024), nullable=False),
    sa.Column("date", sa.DateTime, nullable=False),
)


def available_databases(wanted: list[str]) -> list[str]:
    """The databases asked for whose service is configured; say which are left out and why."""
    chosen = []
    for database in wanted:
        variable = SERVICE_VARIABLES.get(database)
        if variable and not os.environ.get(variable):
            print(f"# {database}: skipped, set {variable} to include it")
        else:
            chosen.append(database)
    return chosen


def server_version(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            info = connection.dialect.server_version_info or ()
        return ".".join(str(part) for part in info) or sa.__version__
    finally:
        engine.dispose()


def print_machine(databases: list[str], tmp_path: Path) -> None:
    packages = ["flask", "flask-sqlalchemy", "flask-session", "sqlalchemy", "flask-webchat"]
    print(f"# machine: {os.cpu_count()} cores, {platform.platform()}")
    print(
        f"# python {platform.python_version()}; " + ", ".join(f"{p} {version(p)}" for p in packages)
    )
    for database in databases:
        print(f"# {database}: server {server_version(database_url(database, tmp_path))}")
