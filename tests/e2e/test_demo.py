"""`accord demo`, the README's run command: it narrates what Accord catches, then keeps serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
from tests.support.server import free_port


def test_demo_narrates_every_catch_and_keeps_serving() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C to stop." in line:
                break
        text = "".join(lines)
        assert "Ctrl-C to stop." in text, text
        for expected in [
            "boundary_discrepancy",
            "checking: an asked party is still checking, which is NOT a no",
            "Accord: CLEAR",
            "stale: a party responsible",
            "Accord: CONFLICT",
            "Northland's system received CHECK FIRE for clearance",
            "Accord: REVOKED",
            "signed tree head",
        ]:
            assert expected in text, expected
        assert "'delivered_at': None" not in text
        # it keeps serving the console and the API
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        assert "<html" in httpx.get(f"http://127.0.0.1:{port}/").text.lower()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
