"""The ``accord`` command line: one function per subcommand; errors caught once, in :func:`main`.

Results go to standard output, diagnostics to standard error. Exit status: 0 on success, 1 when a
check fails (:class:`~accord.errors.VerificationError`), 2 on bad usage or input, with a one-line
reason on standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring as _enc
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from accord.compiled import StaleBuild
from accord.compiled import check as check_compiled
from accord.core.model import ProbePolicy
from accord.errors import AccordError, InvalidInput, VerificationError
from accord.geo.coords import GridReading, parse_text
from accord.geo.datums import WGS84, normalise_crs
from accord.geo.location import Position, position_from_reading
from accord.geo.mgrs import (
    GridRef,
    format_dms_many,
    grid_forward_many,
    mgrs_many,
    utm_text_many,
)

__all__ = ["main"]

_CONVERT_DESCRIPTION = """\
Convert positions between latitude/longitude, DMS, MGRS and UTM/UPS, and from legacy datums to
WGS 84 (with PROJ's best transformation for the place).

With TEXT, converts that one position. Without TEXT, converts one position per line of standard
input, streaming (each result is written as soon as its line is read).

Input text: decimal degrees, latitude first ("34.9183, 71.0917", "34.9183 71.0917",
"34.9183N 71.0917E"), DMS (34°55'06"N 71°05'30"E, "34 55 06 N 71 05 30 E", 34-55-06N 071-05-30E),
MGRS (42SXD9107565979, "42S XD 91075 65979", polar ZAF1927990660) or UTM/UPS ("42S 691075 3865980":
the letter is the MGRS latitude band; "42north 691075 3865980"; "north 2019280 1890660").
Ambiguous or malformed text is refused, never guessed: see the reason given.

Output (--to):
  wgs84  latitude longitude in decimal degrees, latitude first as people write it, 6 places
         (0.1 m): "34.918300 71.091700"  (the default)
  mgrs   MGRS to the metre, truncated as the MGRS convention says: "42SXD9107565979"
  utm    UTM/UPS to the metre, hemisphere spelled out: "42north 691075 3865980"
  dms    degrees, minutes, seconds (0.01"): 34°55'05.88"N 071°05'30.12"E

--json prints one JSON object per input line:
  {"input", "wgs84": [lon, lat], "mgrs", "utm", "dms", "added_uncertainty_m",
   "transformation": {"description", "accuracy_m", "ballpark"}, "datum_warning"}
or {"input", "error"} for a line it cannot read, and goes on with the next line.
added_uncertainty_m is what reading and converting the input adds to its uncertainty: the datum
transformation's stated accuracy, and the precision of what was typed (an MGRS square's
half-diagonal, half a unit of the last digit of a coordinate).

Exit status: 0 when every position was read; 2 when any was not (in batch mode after all lines,
with error objects in --json mode, or an empty output line and a reason on standard error
otherwise) or on bad usage.
"""

_CONVERT_EPILOG = """\
examples:
  accord convert 34.9183 71.0917 --to mgrs
  accord convert "34°55'06\\"N 71°05'30\\"E" --json
  accord convert 42SXD9107565979 --to dms
  accord convert 34.9 71.0 --crs EPSG:4145          (Kalianpur 1962 to WGS 84)
  accord convert --json -- "-34.5, -58.25"          (-- before text starting with '-')
  printf '34.9183 71.0917\\n42S 691075 3865980\\n' | accord convert --json
"""

_FORMATS = ("wgs84", "mgrs", "dms", "utm")


@dataclass(frozen=True, slots=True)
class _Row:
    """One input line, read: its position, or why it could not be read."""

    text: str
    position: Position | None = None
    error: InvalidInput | None = None
    typed: GridRef | None = None  # UTM/MGRS coordinates as typed (on WGS 84)


def _read(text: str, args: argparse.Namespace) -> _Row:
    try:
        reading = parse_text(text, "text")
        p = position_from_reading(
            text, reading, args.crs, allow_ballpark=args.allow_ballpark, field="text"
        )
    except InvalidInput as exc:
        return _Row(text, error=exc)
    typed = reading.grid if isinstance(reading, GridReading) and args.crs == WGS84 else None
    return _Row(text, p, typed=typed)


def _formats(rows: list[_Row], forms: tuple[str, ...]) -> dict[str, list[str]]:
    """The output forms of the rows that were read, all at once (vectorised)."""
    lons = np.array([r.position.lon for r in rows if r.position is not None], dtype=np.float64)
    lats = np.array([r.position.lat for r in rows if r.position is not None], dtype=np.float64)
    out: dict[str, list[str]] = {}
    if "wgs84" in forms:
        out["wgs84"] = [
            f"{la:.6f} {lo:.6f}" for la, lo in zip(lats.tolist(), lons.tolist(), strict=True)
        ]
    if "dms" in forms:
        out["dms"] = format_dms_many(lons, lats)
    if "mgrs" in forms or "utm" in forms:
        grid = grid_forward_many(lons, lats)
        # UTM/MGRS in, UTM/MGRS out: keep the coordinates as typed when they are in the standard
        # zone (as GeoConvert does), rather than the projection of their inverse projection
        typed = [r.typed for r in rows if r.position is not None]
        for k, ref in enumerate(typed):
            if ref is not None and ref.zone == grid.zone[k] and ref.north == grid.north[k]:
                grid.easting[k] = ref.easting
                grid.northing[k] = ref.northing
        if "mgrs" in forms:
            out["mgrs"] = mgrs_many(grid, lats, 5)
        if "utm" in forms:
            out["utm"] = utm_text_many(grid)
    return out


def _json_lines(rows: list[_Row]) -> list[str]:
    # written out by hand: json.dumps of a dict costs as much as the conversion itself
    forms = _formats(rows, ("mgrs", "utm", "dms"))
    lines: list[str] = []
    k = 0
    for r in rows:
        p = r.position
        if p is None:
            lines.append(f'{{"input": {_enc(r.text)}, "error": {_enc(str(r.error))}}}')
            continue
        tr = p.transformation
        accuracy = "null" if tr.accuracy_m is None else repr(tr.accuracy_m)
        warning = "null" if p.datum_warning is None else _enc(p.datum_warning)
        lines.append(
            f'{{"input": {_enc(r.text)}, "wgs84": [{p.lon!r}, {p.lat!r}], '
            f'"mgrs": "{forms["mgrs"][k]}", "utm": "{forms["utm"][k]}", '
            f'"dms": {_enc(forms["dms"][k])}, '
            f'"added_uncertainty_m": {p.added_uncertainty_m!r}, '
            f'"transformation": {{"description": {_enc(tr.description)}, '
            f'"accuracy_m": {accuracy}, "ballpark": {"true" if tr.ballpark else "false"}}}, '
            f'"datum_warning": {warning}}}'
        )
        k += 1
    return lines


def _plain_lines(rows: list[_Row], to: str) -> list[str]:
    forms = _formats(rows, (to,))[to]
    lines: list[str] = []
    k = 0
    for r in rows:
        if r.position is None:
            lines.append("")
        else:
            lines.append(forms[k])
            k += 1
    return lines


def _batches() -> Iterator[list[str]]:
    """The lines of standard input, in batches of whatever has arrived (streaming, not waiting).

    Each batch is every complete line one ``read`` returned; the caller answers them all and
    flushes before reading again, so a slow producer sees each answer as soon as its line is in,
    and a fast one is answered in large writes.
    """
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. replaced in a test)
        for line in sys.stdin:
            yield [line.rstrip("\r\n")]
        return
    pending = b""
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            if pending:
                yield [pending.decode("utf-8", errors="replace").rstrip("\r")]
            return
        pending += data
        *complete, pending = pending.split(b"\n")
        if complete:
            yield [raw.decode("utf-8", errors="replace").rstrip("\r") for raw in complete]


def _convert_batch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    failed = total = n = 0
    warned: set[str] = set()
    for batch in _batches():
        if args.json:
            rows = [_read(text, args) for text in batch]
            total += len(rows)
            failed += sum(r.position is None for r in rows)
            out.write("\n".join(_json_lines(rows)) + "\n")
        else:
            rows = [_read(text, args) if text.strip() else _Row(text) for text in batch]
            for r in rows:
                n += 1
                if r.position is not None:
                    total += 1
                    warning = r.position.datum_warning
                    if warning and warning not in warned:
                        warned.add(warning)
                        err.write(f"accord: warning: {warning}\n")
                elif r.error is not None:
                    total += 1
                    failed += 1
                    err.write(f"accord: line {n}: {r.error}\n")
            out.write("\n".join(_plain_lines(rows, args.to)) + "\n")
        out.flush()
        err.flush()
    if failed:
        err.write(f"accord: {failed} of {total} lines could not be read\n")
        return 2
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """``accord convert``: one position from the arguments, or one per line of standard input."""
    args.crs = normalise_crs(args.crs, "crs")
    if not args.text:
        return _convert_batch(args, sys.stdout, sys.stderr)
    row = _read(" ".join(args.text), args)
    if args.json:
        sys.stdout.write(_json_lines([row])[0] + "\n")
    if row.error is not None:
        raise row.error
    assert row.position is not None
    if not args.json:
        sys.stdout.write(_plain_lines([row], args.to)[0] + "\n")
        if row.position.datum_warning:
            sys.stderr.write(f"accord: warning: {row.position.datum_warning}\n")
    return 0


class _Terminated(Exception):
    """SIGTERM, raised once uvicorn has shut down (so that the runtime closes as on Ctrl-C)."""


def _terminated(_signum: int, _frame: object) -> None:
    raise _Terminated


def _cmd_serve(args: argparse.Namespace) -> int:
    if not 1 <= args.workers <= _MAX_WORKERS:
        raise InvalidInput("--workers", f"must be 1 to {_MAX_WORKERS}, not {args.workers}")
    if args.workers == 1:
        return _serve(args)
    return _serve_workers(args)


_MAX_WORKERS = 64


def _serve(
    args: argparse.Namespace,
    sock: socket.socket | None = None,
    relay: socket.socket | None = None,
) -> int:
    """Serve in this process: on ``args.host``/``args.port``, or as the core process of
    ``--workers`` on the Unix sockets ``sock`` (HTTP) and ``relay``."""
    import uvicorn

    from accord.api.serving import UVICORN_OPTIONS
    from accord.bootstrap import runtime

    policy = ProbePolicy(args.probe_budget, args.request_budget)
    basemap = Path(args.basemap) if args.basemap else None
    # uvicorn shuts down on SIGTERM and then raises it again for the handler it found: without
    # one of ours, the process would die there, before the runtime snapshots and closes the store
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        with runtime(
            Path(args.data), args.store, policy=policy, basemap=basemap, relay=relay
        ) as rt:
            if sock is None:
                print(f"accord: serving on http://{args.host}:{args.port}/", file=sys.stderr)
                uvicorn.run(rt.app, host=args.host, port=args.port, **UVICORN_OPTIONS)
            else:
                uvicorn.Server(uvicorn.Config(rt.app, **UVICORN_OPTIONS)).run(sockets=[sock])
    except _Terminated:
        print("accord: stopped (SIGTERM)", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _serve_front(args: argparse.Namespace, relay_path: str, http_path: str) -> int:
    """Serve as a front process of ``--workers`` (:mod:`accord.api.front`)."""
    import uvicorn

    from accord.api.app import MAX_BODY
    from accord.api.front import front_app
    from accord.api.serving import UVICORN_OPTIONS

    sock = _reuse_port_socket(args.host, args.port)
    sock.listen(2048)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        front = front_app(relay_path, http_path, MAX_BODY)
        uvicorn.Server(uvicorn.Config(front, **UVICORN_OPTIONS)).run(sockets=[sock])
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _serve_workers(args: argparse.Namespace) -> int:
    """``accord serve --workers N``: a core process and N front processes.

    The core is the service as a lone server runs it (state, decisions, the log, timers, event
    streams), listening on two Unix sockets in a directory of its own (mode 0700): HTTP, and the
    relay (:mod:`accord.api.relay`). The fronts listen on the port, each on a socket of its own
    (``SO_REUSEPORT``: the kernel spreads new connections over them), hand the busiest requests
    to the core as relay frames and pass the others on to its HTTP socket
    (:mod:`accord.api.front`). Every process is forked here before any thread starts; the fronts
    may start before the core has restored its state: what they hand over waits in its sockets.

    This process then only waits. SIGINT or SIGTERM stops the fronts, then the core (which
    snapshots and closes the store as a lone server does). A process that stops by itself stops
    the others, and the exit status is then 1."""
    reserved = _reuse_port_socket(args.host, args.port)  # the port is free (and stays ours)
    rundir = Path(tempfile.mkdtemp(prefix="accord-"))
    try:
        http_path, relay_path = str(rundir / "http.sock"), str(rundir / "relay.sock")
        listening = [_unix_socket(http_path), _unix_socket(relay_path)]
        core = _fork(lambda: _serve(args, *listening), reserved)
        for sock in listening:
            sock.close()
        fronts = [
            _fork(lambda: _serve_front(args, relay_path, http_path), reserved)
            for _ in range(args.workers)
        ]
        print(
            f"accord: serving on http://{args.host}:{args.port}/ with {args.workers} front "
            f"processes (pids {' '.join(map(str, fronts))}) and the core (pid {core})",
            file=sys.stderr,
        )
        return _supervise(core, fronts)
    finally:
        reserved.close()
        shutil.rmtree(rundir, ignore_errors=True)


def _fork(serve: Callable[[], int], reserved: socket.socket) -> int:
    """Run ``serve`` in a child process; its pid. The child leaves with ``serve``'s status,
    without running this process's exit handlers."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setpgid(0, 0)  # Ctrl-C reaches the supervisor alone, which stops the fronts first
        _stop_with_parent()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        reserved.close()
        code = serve()
    except KeyboardInterrupt:
        code = 0
    except BaseException as exc:  # reported as main() would, then the child leaves
        print(f"accord: {exc}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _stop_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent dies (``PR_SET_PDEATHSIG``),
    so that a supervisor killed outright leaves no process serving (and holding the store)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() == 1:  # the parent died before the call
        raise SystemExit(1)


_PR_SET_PDEATHSIG = 1


def _unix_socket(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    sock.listen(2048)
    return sock


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` with ``SO_REUSEPORT``: each front listens on one of
    its own, and the kernel spreads new connections over them (by a hash of their addresses;
    with one socket shared, whichever process accepts first would take them, and a keep-alive
    connection stays where it was accepted)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInput("--port", f"cannot listen on {host}:{port}: {exc}") from exc
    return sock


def _supervise(core: int, fronts: list[int]) -> int:
    """Wait for the processes to stop: on SIGINT or SIGTERM, or once one has stopped by itself,
    stop the fronts, then the core. Returns 1 if one stopped by itself."""
    running = {core, *fronts}
    stopping = False

    def stop(_signum: int = 0, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in fronts:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    failed = False
    try:
        while running:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            running.discard(pid)
            if not stopping:
                code = os.waitstatus_to_exitcode(status)
                what = "the core" if pid == core else "a front"
                print(
                    f"accord: {what} (pid {pid}) stopped by itself (status {code}); stopping",
                    file=sys.stderr,
                )
                failed = True
                stop()
            if core in running and not running.intersection(fronts):
                os.kill(core, signal.SIGTERM)  # the fronts are gone: now the core
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from accord.demo import run_demo

    return run_demo(host=args.host, port=args.port)


class _Unreachable(AccordError):
    """The server did not answer (a usage problem, exit 2: not a failed check)."""


class _HTTPLog:
    """The verifier's LogSource over HTTP."""

    def __init__(self, server: str, token: str | None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=30)

    def _get(self, path: str, **params: int) -> dict[str, Any]:
        import httpx

        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise _Unreachable(f"--server: cannot reach {path}: {exc}") from exc
        if response.status_code != 200:
            raise VerificationError(f"GET {path} answered {response.status_code}")
        data = response.json()
        if not isinstance(data, dict):
            raise VerificationError(f"GET {path} did not answer a JSON object")
        return data

    def head(self) -> dict[str, Any]:
        return self._get("/v1/log/head")

    def key(self) -> dict[str, Any]:
        return self._get("/v1/log/key")

    def entry(self, index: int) -> dict[str, Any]:
        return self._get(f"/v1/log/entries/{index}")

    def inclusion(self, index: int, tree_size: int) -> dict[str, Any]:
        return self._get("/v1/log/proof/inclusion", index=index, tree_size=tree_size)

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        return self._get("/v1/log/proof/consistency", first=first, second=second)


def _cmd_verify(args: argparse.Namespace) -> int:
    from accord.ledger import verify_log

    state_file = Path(args.state) if args.state else None
    saved = None
    if state_file is not None and state_file.exists():
        try:
            saved = json.loads(state_file.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInput("--state", f"cannot read {state_file}: {exc}") from exc
    source = _HTTPLog(args.server, args.token)
    try:
        report = verify_log(
            source,
            saved_head=saved.get("head") if saved else None,
            trusted_key=saved.get("key") if saved else None,
        )
    except VerificationError as exc:
        print(f"accord: VERIFICATION FAILED: {exc}", file=sys.stderr)
        return 1
    if state_file is not None:
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"head": report.head, "key": source.key()}))
        tmp.replace(state_file)
    out = {
        "tree_size": report.tree_size,
        "root_hash": report.root_hash,
        "previous_size": report.previous_size,
        "consistency_checked": report.consistency_checked,
        "entries_checked": report.entries_checked,
        "events_checked": report.events_checked,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"ok: head of {report.tree_size} entries (root {report.root_hash[:16]}…) signed by "
            f"{report.key_id[:16]}…; {report.entries_checked} inclusion proofs, "
            f"{report.events_checked} events recomputed"
            + (
                f"; consistent with the saved head of {report.previous_size}"
                if report.previous_size is not None
                else ""
            )
        )
    return 0


def _cmd_timeline(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("start", args.start), ("end", args.end)) if v}
    response = _call("GET", args.server, "/v1/timeline", args.token, params=params)
    if response.status_code != 200:
        raise InvalidInput("--server", _problem_text(response))
    entries: list[dict[str, Any]] = response.json()
    if args.format == "json":
        json.dump(entries, sys.stdout, indent=2)
        print()
    elif args.format == "geojson":
        features = [
            {
                "type": "Feature",
                "id": e["log_index"],
                "geometry": e.get("geometry"),
                "properties": {k: v for k, v in e.items() if k != "geometry"},
            }
            for e in entries
        ]
        json.dump({"type": "FeatureCollection", "features": features}, sys.stdout)
        print()
    else:
        print(f"{'index':>6}  {'time':24}  {'party':12}  {'type':22}  detail")
        for e in entries:
            detail = ", ".join(
                f"{k}={v}"
                for k, v in e.items()
                if k not in ("log_index", "time", "party", "type", "geometry")
                and not isinstance(v, dict | list)
            )
            print(
                f"{e['log_index']:>6}  {e['time']:24}  {e.get('party') or '':12}  "
                f"{e['type']:22}  {detail}"
            )
    return 0


def _call(method: str, server: str, path: str, token: str, **kwargs: Any) -> Any:
    """One request to an Accord server with a party token; an unreachable server exits 2."""
    import httpx

    try:
        return httpx.request(
            method,
            f"{server.rstrip('/')}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            **kwargs,
        )
    except httpx.HTTPError as exc:
        raise _Unreachable(f"--server: cannot reach {path}: {exc}") from exc


def _problem_text(response: Any) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('title')}: {body.get('detail')}"
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"


def read_layer_file(path: Path) -> dict[str, Any]:
    """A boundary layer file (GeoJSON, Shapefile, KML, GeoPackage) as a WGS84 FeatureCollection."""
    import pyogrio
    import shapely
    from pyproj import CRS, Transformer

    if not path.is_file():
        raise InvalidInput("FILE", f"{path} is not a file")
    try:
        meta, _fids, geometries, _fields = pyogrio.raw.read(path)
    except Exception as exc:  # pyogrio raises several DataSource/DataLayer errors
        raise InvalidInput("FILE", f"cannot read {path.name}: {exc}") from exc
    shapes = shapely.from_wkb(geometries)
    crs = meta.get("crs")
    if crs and CRS.from_user_input(crs) != CRS.from_epsg(4326):
        transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        shapes = shapely.transform(shapes, lambda xy: _apply(transformer, xy))
    features = []
    for shape in shapes:
        if shape is None or shape.is_empty:
            continue
        geometry = shapely.geometry.mapping(shapely.force_2d(shape))
        features.append({"type": "Feature", "properties": {}, "geometry": geometry})
    if not features:
        raise InvalidInput("FILE", f"{path.name} holds no geometries")
    return {"type": "FeatureCollection", "features": features}


def _apply(transformer: Any, xy: Any) -> Any:
    import numpy as np

    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _cmd_import_layer(args: argparse.Namespace) -> int:
    fc = read_layer_file(Path(args.file))
    body = {"name": args.name, "role": "boundary", "features": fc}
    response = _call("POST", args.server, "/v1/layers", args.token, json=body)
    if response.status_code != 201:
        raise InvalidInput("FILE", _problem_text(response))
    print(json.dumps(response.json()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accord",
        description="Accord: multi-party deconfliction. Is anyone inside the hazard area?",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    convert = sub.add_parser(
        "convert",
        help="convert positions (lat/lon, DMS, MGRS, UTM; legacy datums to WGS 84)",
        description=_CONVERT_DESCRIPTION,
        epilog=_CONVERT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="the position (several words are joined with spaces); absent: read standard input",
    )
    convert.add_argument(
        "--crs",
        default="EPSG:4326",
        metavar="EPSG:n",
        help="geographic CRS (datum) the text is in (default EPSG:4326, WGS 84)",
    )
    convert.add_argument(
        "--to", choices=_FORMATS, default="wgs84", help="output form without --json (default wgs84)"
    )
    convert.add_argument("--json", action="store_true", help="one JSON object per input")
    convert.add_argument(
        "--allow-ballpark",
        action="store_true",
        help="accept a datum PROJ can only convert without a datum shift (adds 1000 m)",
    )
    convert.set_defaults(func=cmd_convert)

    serve = sub.add_parser(
        "serve",
        help="run the service",
        description="Run the Accord service (HTTP API, event streams, the console at /).",
        epilog="examples:\n  ACCORD_ADMIN_TOKEN=secret accord serve --data ./data --port 8080\n"
        "  accord serve --data ./data --workers 2    # a core process behind two HTTP fronts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--data", default="./accord-data", help="data directory (default ./accord-data)"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument(
        "--store",
        default=None,
        help="store URL: sqlite:///NAME (default, in DATA) or postgresql://...",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="front processes that speak HTTP for one core process that holds the state and "
        "writes the log (default 1: one process does both); use more cores",
    )
    serve.add_argument(
        "--basemap", default=None, metavar="FILE", help="an offline basemap: an MBTiles file"
    )
    serve.add_argument(
        "--probe-budget",
        type=int,
        default=ProbePolicy().probes_per_hour,
        metavar="N",
        help="clearance requests per party and hour that may touch others' undisclosed presences "
        f"(default {ProbePolicy().probes_per_hour}; 0: no limit)",
    )
    serve.add_argument(
        "--request-budget",
        type=int,
        default=ProbePolicy().requests_per_hour,
        metavar="N",
        help=f"clearance requests per party and hour (default {ProbePolicy().requests_per_hour}; "
        "0: no limit)",
    )
    serve.set_defaults(func=_cmd_serve)

    demo = sub.add_parser(
        "demo",
        help="run the built-in scenario, narrated, then keep serving the console",
        description="Start a server with a built-in border scenario, narrate what Accord catches, "
        "and keep serving the console until Ctrl-C.",
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.set_defaults(func=_cmd_demo)

    verify = sub.add_parser(
        "verify",
        help="verify the server's signed log on your own",
        description="Fetch the signed tree head, check its signature, every visible entry's "
        "inclusion proof (and commitment, where you may read the event), and consistency with the "
        "last head seen (kept in --state). Exit 1 on any failure: a fork, a rollback, a bad proof.",
        epilog="example:\n  accord verify --server http://127.0.0.1:8080 --token $TOKEN "
        "--state ~/.accord-head.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("--server", required=True, metavar="URL")
    verify.add_argument("--token", default=None, help="a party token (to recompute your events)")
    verify.add_argument(
        "--state", default=None, metavar="FILE", help="last head seen (read, then updated)"
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=_cmd_verify)

    timeline = sub.add_parser(
        "timeline",
        help="the reconstructed timeline of events you may see",
        epilog="example:\n  accord timeline --server http://127.0.0.1:8080 --token $TOKEN "
        "--start 2026-11-26T22:00:00Z --format table",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    timeline.add_argument("--server", required=True, metavar="URL")
    timeline.add_argument("--token", required=True)
    timeline.add_argument("--start", default=None, help="RFC 3339 time")
    timeline.add_argument("--end", default=None, help="RFC 3339 time")
    timeline.add_argument("--format", choices=("table", "json", "geojson"), default="table")
    timeline.set_defaults(func=_cmd_timeline)

    layer = sub.add_parser(
        "import-layer",
        help="load a boundary layer (GeoJSON, Shapefile, KML, GeoPackage)",
        epilog="example:\n  accord import-layer border.gpkg --server http://127.0.0.1:8080 "
        "--token $TOKEN --name 'Survey 2019'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    layer.add_argument("file", metavar="FILE")
    layer.add_argument("--server", required=True, metavar="URL")
    layer.add_argument("--token", required=True)
    layer.add_argument("--name", required=True)
    layer.set_defaults(func=_cmd_import_layer)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or bad usage (argparse has printed why)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        check_compiled()
        return func(args)
    except StaleBuild as exc:
        print(f"accord: {exc}", file=sys.stderr)
        return 2
    except AccordError as exc:
        print(f"accord: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, VerificationError) else 2
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, and keep Python from complaining
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
