from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.server import ServerProcess

from accord.compiled import check

check()  # the tests run the compiled modules: refuse to test an older build of them


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start real server processes; every one is stopped after the test."""
    started: list[ServerProcess] = []

    def make(
        data_dir: Path | None = None, store_url: str | None = None, *args: str
    ) -> ServerProcess:
        d = data_dir or tmp_path / f"data{len(started)}"
        d.mkdir(exist_ok=True)
        server = ServerProcess(d, store_url, *args).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., ServerProcess]) -> ServerProcess:
    return make_server()
