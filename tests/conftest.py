"""Fixtures: a host app per stack (database + session backend), closed after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from hosts import (
    STACKS,
    Browser,
    Host,
    MakeHost,
    Stack,
    build_host,
    close_leftover_streams,
    give_worker_its_services,
)

# No deadline per example: on a loaded machine it fails tests on time, not on behaviour.
settings.register_profile("webchat", deadline=None)
settings.load_profile("webchat")

# Under pytest-xdist, each worker process has databases and a Redis database of its own.
give_worker_its_services()

# Chromium, a served example app and page helpers for the browser tests; real servers.
pytest_plugins = ["browsing", "servers"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the stacks a ``stacks`` mark does not name.

    Translations, routing or the OpenAPI document read the same on every database: such a module
    runs on SQLite and on one server stack, and the whole matrix keeps its time for storage.
    """
    kept, dropped = [], []
    for item in items:
        mark = item.get_closest_marker("stacks")
        callspec = getattr(item, "callspec", None)
        stack = callspec.params.get("stack") if callspec is not None else None
        if mark is not None and isinstance(stack, Stack) and stack.name not in mark.args:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def mypy_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for the programs the tests check, kept between runs in pytest's cache.

    Most of a cold check is typeshed and the third-party packages (Flask, SQLAlchemy, httpx),
    which are checked once here; mypy rechecks whatever changed, the programs and the package.
    Test workers share it: mypy replaces each cache file whole.
    """
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    return cache.mkdir("mypy") if cache is not None else tmp_path_factory.mktemp("mypy-cache")


@pytest.fixture(params=STACKS, ids=lambda stack: stack.name)
def stack(request: pytest.FixtureRequest) -> Stack:
    """Each database and session backend of the matrix; one whose service is absent skips."""
    stack: Stack = request.param
    missing = stack.missing_services()
    if missing:
        pytest.skip(f"{stack.name} needs {' and '.join(missing)} (see docs/contributing.rst)")
    return stack


@pytest.fixture
def make_host(stack: Stack, tmp_path: Path) -> Iterator[MakeHost]:
    """Build a host on the current stack with extra configuration; it is closed afterwards."""
    hosts: list[Host] = []

    def make(**config: Any) -> Host:
        host = build_host(tmp_path, stack, **config)
        hosts.append(host)
        return host

    yield make
    close_leftover_streams()
    for host in hosts:
        host.close()


@pytest.fixture
def host(make_host: MakeHost) -> Host:
    """The default host, once per stack."""
    return make_host()


@pytest.fixture
def browser(host: Host) -> Browser:
    return host.browser()
