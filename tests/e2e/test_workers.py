"""End-to-end: ``accord serve --workers N``, a core process behind N fronts, as processes.

What every endpoint answers behind fronts is tested in test_api.py (each test runs against one
process and against a core with two fronts); here, how the processes live and die together."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.support.server import ADMIN_TOKEN, ServerProcess, child_pids, problem, register


def _core_pid(server: ServerProcess) -> int:
    found = re.search(r"and the core \(pid (\d+)\)", server.output())
    assert found is not None, server.output()
    return int(found.group(1))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return status == "Z"  # exited, not yet reaped by its parent


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_core_that_dies_is_answered_503_and_stops_the_service(
    make_server: Callable[..., ServerProcess],
) -> None:
    server = make_server(None, None, "--workers", "2")
    north = register(server, "north")["north"]
    assert north.post("/v1/heartbeat").status_code == 200
    assert server.proc is not None
    core = _core_pid(server)
    fronts = [pid for pid in child_pids(server.proc.pid) if pid != core]
    assert len(fronts) == 2
    server.proc.send_signal(signal.SIGSTOP)  # the supervisor, held: the fronts stay up
    try:
        os.kill(core, signal.SIGKILL)
        _wait(lambda: _gone(core))
        for _ in range(4):  # over new connections, to reach both fronts
            with httpx.Client(base_url=server.base_url, headers=north.headers) as fresh:
                body = problem(fresh.post("/v1/heartbeat"), 503)
                assert "core process" in body["detail"]
                problem(fresh.get("/v1/me"), 503)
    finally:
        server.proc.send_signal(signal.SIGCONT)
    assert server.proc.wait(timeout=30) == 1
    assert all(_gone(pid) for pid in fronts)
    assert "the core (pid" in server.output() and "stopped by itself" in server.output()


def test_killing_the_supervisor_stops_every_process_and_the_store_reopens(
    make_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "orphans"
    data.mkdir()
    server = make_server(data, None, "--workers", "2")
    north = register(server, "north")["north"]
    token = north.headers["Authorization"].removeprefix("Bearer ")
    assert north.post("/v1/heartbeat").status_code == 200
    assert server.proc is not None
    children = child_pids(server.proc.pid)
    assert len(children) == 3
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    _wait(lambda: all(_gone(pid) for pid in children))  # each was told to stop by the kernel
    again = make_server(data, None, "--workers", "2")
    assert again.client(token).get("/v1/me").json()["party"] == "north"


def test_sigterm_stops_the_fronts_then_the_core(
    make_server: Callable[..., ServerProcess],
) -> None:
    server = make_server(None, None, "--workers", "3")
    assert server.proc is not None
    assert len(child_pids(server.proc.pid)) == 4
    server.stop()
    assert server.proc.returncode == 0, server.output()
    assert "accord: stopped (SIGTERM)" in server.output()  # the core snapshotted and closed
    assert "stopped by itself" not in server.output()


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACCORD_ADMIN_TOKEN": ADMIN_TOKEN}
    command = [sys.executable, "-m", "accord.cli", "serve", "--data", str(tmp_path), *args]
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("workers", ["0", "-1", "65"])
def test_a_bad_number_of_workers_is_refused(tmp_path: Path, workers: str) -> None:
    done = _serve(tmp_path, "--workers", workers)
    assert done.returncode == 2
    assert done.stderr == f"accord: --workers: must be 1 to 64, not {workers}\n"


def test_a_port_in_use_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(tmp_path, "--workers", "2", "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.startswith(f"accord: --port: cannot listen on 127.0.0.1:{port}: ")
    assert done.stderr.count("\n") == 1
