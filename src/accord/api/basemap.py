"""An optional offline basemap from an MBTiles file (``accord serve --basemap FILE``).

MBTiles is an SQLite file of map tiles (raster PNG/JPEG/WebP, or Mapbox vector tiles) with a
``metadata`` table; rows are in TMS order, so the row is flipped against the XYZ scheme that
MapLibre asks for. The console reads ``/v1/basemap/style.json`` and fetches tiles from
``/v1/basemap/tiles/{z}/{x}/{y}``: nothing leaves the machine.
"""

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from accord.errors import InvalidInput

__all__ = ["MBTiles"]

_MEDIA = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "pbf": "application/x-protobuf",
}
_VECTOR_COLOURS = ["#8a8a8a", "#6f8fb0", "#7aa374", "#b08a6f", "#9c7fb0"]


class MBTiles:
    """A read-only MBTiles file."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise InvalidInput("--basemap", f"{path} is not a file")
        try:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            rows = self._db.execute("SELECT name, value FROM metadata").fetchall()
        except sqlite3.Error as exc:
            raise InvalidInput("--basemap", f"{path.name} is not an MBTiles file: {exc}") from exc
        self._lock = threading.Lock()
        self.metadata: dict[str, str] = {str(k): str(v) for k, v in rows}
        self.format = self.metadata.get("format", "png").lower()
        if self.format not in _MEDIA:
            raise InvalidInput("--basemap", f"unsupported tile format {self.format!r}")
        self.media_type = _MEDIA[self.format]

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ ``z/x/y``, or None if the file has none there."""
        if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, x, (1 << z) - 1 - y),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def style(self, tiles_url: str) -> dict[str, Any]:
        """A MapLibre style drawing this file (raster tiles as they are; vector layers plainly)."""
        source: dict[str, Any] = {
            "tiles": [tiles_url],
            "minzoom": int(self.metadata.get("minzoom", 0)),
            "maxzoom": int(self.metadata.get("maxzoom", 14)),
            "attribution": self.metadata.get("attribution", ""),
        }
        layers: list[dict[str, Any]] = []
        if self.format == "pbf":
            source["type"] = "vector"
            vector_layers = json.loads(self.metadata.get("json", "{}")).get("vector_layers", [])
            for i, layer in enumerate(vector_layers):
                colour = _VECTOR_COLOURS[i % len(_VECTOR_COLOURS)]
                lid = str(layer["id"])
                layers.append(
                    {
                        "id": f"basemap-{lid}-line",
                        "type": "line",
                        "source": "basemap",
                        "source-layer": lid,
                        "paint": {"line-color": colour, "line-width": 0.8},
                    }
                )
        else:
            source["type"] = "raster"
            source["tileSize"] = 256
            layers.append({"id": "basemap", "type": "raster", "source": "basemap"})
        return {
            "version": 8,
            "name": self.metadata.get("name", "basemap"),
            "sources": {"basemap": source},
            "layers": layers,
        }
