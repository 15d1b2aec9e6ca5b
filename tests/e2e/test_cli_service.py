"""The CLI against a real server: verify (and its failure on a rollback or a changed key),
timeline, import-layer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely
from tests.support.server import register


def accord(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def token_of(client: Any) -> str:
    return str(client.headers["Authorization"]).removeprefix("Bearer ")


SITE = {
    "kind": "site",
    "location": {"type": "Point", "coordinates": [71.09, 34.91]},
    "uncertainty_m": 10,
}


def test_verify_then_detect_rollback_and_changed_key(make_server: Any, tmp_path: Path) -> None:
    data = tmp_path / "live"
    server = make_server(data)
    north = register(server, "north")["north"]
    north.put("/v1/presences/a", json=SITE).raise_for_status()
    state = tmp_path / "head.json"
    first = accord(
        "verify",
        "--server",
        server.base_url,
        "--token",
        token_of(north),
        "--state",
        str(state),
        "--json",
    )
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["entries_checked"] == report["tree_size"] >= 2
    assert report["events_checked"] >= 1  # north recomputed its own events' commitments
    saved = json.loads(state.read_text())["head"]
    # copy the log as it is now, then let it grow
    server.stop()
    snapshot = tmp_path / "old"
    shutil.copytree(data, snapshot)
    server = make_server(data)
    north = server.client(token_of(north))
    north.put("/v1/presences/b", json=SITE).raise_for_status()
    second = accord("verify", "--server", server.base_url, "--state", str(state), "--json")
    assert second.returncode == 0, second.stderr
    grown = json.loads(second.stdout)
    assert grown["previous_size"] == saved["tree_size"] < grown["tree_size"]
    assert grown["consistency_checked"] is True
    server.stop()
    # the same key serving the older, shorter log: a rollback
    old = make_server(snapshot)
    rolled = accord("verify", "--server", old.base_url, "--state", str(state))
    assert rolled.returncode == 1
    assert "VERIFICATION FAILED" in rolled.stderr and "rollback" in rolled.stderr.lower()
    old.stop()
    # another server (another key): refused
    other = make_server(tmp_path / "other")
    changed = accord("verify", "--server", other.base_url, "--state", str(state))
    assert changed.returncode == 1 and "key" in changed.stderr


def test_verify_usage_errors_exit_2() -> None:
    missing = accord("verify")
    assert missing.returncode == 2
    unreachable = accord("verify", "--server", "http://127.0.0.1:9")
    assert unreachable.returncode == 2
    assert len(unreachable.stderr.strip().splitlines()) == 1


def test_timeline_formats(server: Any) -> None:
    north = register(server, "north")["north"]
    north.put("/v1/presences/a", json=SITE).raise_for_status()
    base = ["timeline", "--server", server.base_url, "--token", token_of(north)]
    as_json = accord(*base, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    entries = json.loads(as_json.stdout)
    assert [e["log_index"] for e in entries] == sorted(e["log_index"] for e in entries)
    assert any(e["type"] == "presence_upserted" for e in entries)
    table = accord(*base)
    assert table.returncode == 0 and "presence_upserted" in table.stdout
    geo = json.loads(accord(*base, "--format", "geojson").stdout)
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == len(entries)


def border(offset: float) -> Any:
    return shapely.LineString(
        [(30.0, 0.0), (30.08, 0.0), (30.085, offset), (30.115, offset), (30.12, 0.0), (30.2, 0.0)]
    )


def test_import_layer_geojson_and_geopackage(server: Any, tmp_path: Path) -> None:
    c = register(server, "north", "south")
    gj = tmp_path / "north.geojson"
    gj.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": shapely.geometry.mapping(border(0.0)),
                    }
                ],
            }
        )
    )
    gpkg = tmp_path / "south.gpkg"
    pyogrio.raw.write(
        gpkg,
        geometry=np.array([shapely.to_wkb(border(-0.0135))], dtype=object),
        field_data=[],
        fields=[],
        geometry_type="LineString",
        crs="EPSG:4326",
        driver="GPKG",
    )
    for party, path in (("north", gj), ("south", gpkg)):
        run = accord(
            "import-layer",
            str(path),
            "--server",
            server.base_url,
            "--token",
            token_of(c[party]),
            "--name",
            f"{party} survey",
        )
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["name"] == f"{party} survey"
    zones = c["north"].get("/v1/discrepancies", params={"tolerance_m": 100}).json()["features"]
    assert len(zones) == 1 and 1400 < zones[0]["properties"]["max_separation_m"] < 1600
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    refused = accord(
        "import-layer",
        str(bad),
        "--server",
        server.base_url,
        "--token",
        token_of(c["north"]),
        "--name",
        "x",
    )
    assert refused.returncode == 2 and refused.stderr.startswith("accord: ")
