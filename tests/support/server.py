"""Start the real ``accord serve`` process for end-to-end tests (no mocks: a real process, a real
SQLite file or PostgreSQL database, real HTTP on a free loopback port)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ADMIN_TOKEN = "test-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (the core and the fronts of ``accord serve --workers``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


class ServerProcess:
    def __init__(
        self, data_dir: Path, store_url: str | None = None, *args: str, **env: str
    ) -> None:
        self.args = list(args)
        self.data_dir = data_dir
        self.store_url = store_url
        self.env = env
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._clients: list[httpx.Client] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "accord.cli",
            "serve",
            "--data",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        if self.store_url:
            cmd += ["--store", self.store_url]
        cmd += self.args
        env = {**os.environ, "ACCORD_ADMIN_TOKEN": ADMIN_TOKEN, **self.env}
        self.log = open(self.data_dir / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.output()}")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.data_dir / f"server-{self.port}.log").read_text(errors="replace")

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, and SIGKILL if the server has not exited after ``timeout`` seconds (it
        snapshots its state before it exits: tens of seconds at 10^6 presences)."""
        self.close_clients()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def kill9(self) -> None:
        """SIGKILL to the server and its worker processes (``--workers``) at once, as a crash
        of the machine would stop them."""
        assert self.proc is not None
        self.close_clients()
        for pid in (*child_pids(self.proc.pid), self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def client(self, token: str | None = ADMIN_TOKEN) -> httpx.Client:
        """A client for this server, closed when the server stops."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=10)
        self._clients.append(client)
        return client


def register(server: ServerProcess, *parties: str) -> dict[str, httpx.Client]:
    """Register parties through the admin token; return a client per party."""
    out = {}
    admin = server.client()
    for pid in parties:
        r = admin.post("/v1/parties", json={"id": pid, "name": pid.title()})
        assert r.status_code == 201, r.text
        out[pid] = server.client(r.json()["token"])
    return out


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status``; return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body
