"""``accord serve --basemap FILE``: an MBTiles file served offline to the console."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from pathlib import Path
from typing import Any

from tests.support.server import problem, register


def png(rgb: tuple[int, int, int]) -> bytes:
    """A valid 1x1 PNG of one colour (written here so the test depends on nothing else)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + bytes(rgb))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def make_mbtiles(path: Path) -> dict[tuple[int, int, int], bytes]:
    """Tiles at z0 and z1, stored in TMS row order as the MBTiles specification says."""
    tiles = {(0, 0, 0): png((200, 200, 200)), (1, 1, 0): png((10, 120, 200))}
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute("CREATE TABLE tiles (zoom_level INT, tile_column INT, tile_row INT, tile_data BLOB)")
    db.executemany(
        "INSERT INTO metadata VALUES (?, ?)",
        [("name", "test"), ("format", "png"), ("minzoom", "0"), ("maxzoom", "1")],
    )
    for (z, x, y), data in tiles.items():
        db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
    db.commit()
    db.close()
    return tiles


def test_basemap_style_and_tiles(make_server: Any, tmp_path: Path) -> None:
    mbtiles = tmp_path / "base.mbtiles"
    tiles = make_mbtiles(mbtiles)
    server = make_server(None, None, "--basemap", str(mbtiles))
    north = register(server, "north")["north"]
    style = north.get("/v1/basemap/style.json").json()
    assert style["version"] == 8 and style["sources"]["basemap"]["type"] == "raster"
    url = style["sources"]["basemap"]["tiles"][0]
    assert url.startswith(server.base_url) and url.endswith("/v1/basemap/tiles/{z}/{x}/{y}")
    for (z, x, y), data in tiles.items():
        r = north.get(f"/v1/basemap/tiles/{z}/{x}/{y}")
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == "image/png"
    problem(north.get("/v1/basemap/tiles/1/0/0"), 404)
    problem(north.get("/v1/basemap/tiles/1/5/0"), 404)
    problem(server.client(None).get("/v1/basemap/tiles/0/0/0"), 401)


def test_no_basemap_is_a_clear_404(server: Any) -> None:
    north = register(server, "north")["north"]
    body = problem(north.get("/v1/basemap/style.json"), 404)
    assert "--basemap" in body["detail"]


def test_a_file_that_is_not_mbtiles_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.mbtiles"
    bad.write_text("not a database")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "accord.cli",
            "serve",
            "--data",
            str(tmp_path / "d"),
            "--port",
            "1",
            "--basemap",
            str(bad),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("accord: --basemap:") and len(run.stderr.splitlines()) == 1
