"""The build's compiled modules: the tests run them, and a source edited since the build is
caught (accord.compiled)."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.machinery
import inspect
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accord.compiled import COMPILED, MANIFEST, StaleBuild, check, stale_modules
from accord.core.commands import PositionUpdate
from accord.core.model import Disclosure, Reason, Verdict
from accord.core.verdict import Evaluation
from accord.geo.distance import Distance
from accord.geo.location import parse_location

_POSITION = parse_location({"type": "Point", "coordinates": [71.0, 34.9]})


@pytest.mark.parametrize("name", COMPILED)
def test_each_listed_module_runs_compiled(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


@pytest.mark.parametrize("name", COMPILED)
def test_no_native_class_takes_weak_references(name: str) -> None:
    """A native class that does is freed without clearing them (see accord.compiled)."""
    module = importlib.import_module(name)
    classes = [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == name]
    native = [c for c in classes if "__mypyc_attrs__" in c.__dict__]
    assert native or name in (
        "accord.api.strict_json",  # functions only
        "accord.core.decide",  # only lists' subclasses
        "accord.core.disclosure",
        "accord.core.probing",
        "accord.ledger.commitment",
    )
    for c in native:
        assert c.__weakrefoffset__ == 0, c


def _tree(root: Path, source: bytes, recorded: bytes | None, built: bool = True) -> Path:
    """A package root holding accord/core/state.py (and its extension when ``built``), with a
    manifest recording the SHA-256 of ``recorded``."""
    pkg = root / "accord" / "core"
    pkg.mkdir(parents=True)
    (pkg / "state.py").write_bytes(source)
    if built:
        (pkg / ("state" + importlib.machinery.EXTENSION_SUFFIXES[0])).write_bytes(b"\x7fELF")
    manifest = (
        {} if recorded is None else {"accord.core.state": hashlib.sha256(recorded).hexdigest()}
    )
    (root / "accord" / MANIFEST).write_text(json.dumps(manifest))
    return root


def test_a_source_as_built_is_not_stale(tmp_path: Path) -> None:
    assert stale_modules(_tree(tmp_path, b"x = 1\n", b"x = 1\n")) == []


def test_a_source_changed_since_the_build_is_stale(tmp_path: Path) -> None:
    assert stale_modules(_tree(tmp_path, b"x = 2\n", b"x = 1\n")) == ["accord.core.state"]


def test_a_built_module_missing_from_the_manifest_is_stale(tmp_path: Path) -> None:
    assert stale_modules(_tree(tmp_path, b"x = 1\n", None)) == ["accord.core.state"]


def test_a_module_never_built_runs_its_source(tmp_path: Path) -> None:
    assert stale_modules(_tree(tmp_path, b"x = 2\n", b"x = 1\n", built=False)) == []


def test_the_installed_build_matches_its_sources() -> None:
    assert stale_modules() == []
    check()


def test_check_names_the_stale_modules(tmp_path: Path) -> None:
    root = _tree(tmp_path, b"x = 2\n", b"x = 1\n")
    with pytest.raises(StaleBuild, match=r"accord\.core\.state; rebuild"):
        check(root)


@pytest.mark.parametrize(
    ("record", "other"),
    [
        (
            Reason("conflict", party="p", presence="x", distance_m=12.5, layers=("a",)),
            Reason("stale", party="q"),
        ),
        (Verdict("clear", (), None), Verdict("unresolved", (Reason("checking"),), None)),
        (Disclosure("exact", {"q": "coarse"}), Disclosure()),
        (Evaluation("unresolved", (Reason("checking"),), None), Evaluation("clear", (), 9.0)),
        (Distance(3.5, 1e-9), Distance(4.0, 0.5)),
        (_POSITION, parse_location({"mgrs": "42SXD 12345 67890"})),
        (
            PositionUpdate("u", _POSITION, 5.0, datetime(2026, 12, 2, tzinfo=UTC)),
            PositionUpdate("v", _POSITION, 6.0, datetime(2026, 12, 3, tzinfo=UTC)),
        ),
    ],
    ids=lambda r: type(r).__name__,
)
def test_a_record_with_its_own_init_stays_a_frozen_dataclass(record: object, other: object) -> None:
    """They define __init__ for mypyc to compile (see accord.compiled); each field stays
    read-only, and equality, the repr and dataclasses.replace are the dataclass's."""
    fields = dataclasses.fields(record)
    for f in fields:
        with pytest.raises(AttributeError):
            setattr(record, f.name, getattr(other, f.name))
    copy = dataclasses.replace(record)
    assert copy == record and copy is not record
    assert repr(copy) == repr(record)
    assert repr(record).startswith(f"{type(record).__name__}({fields[0].name}=")
    assert record != other
    assert dataclasses.replace(record, **{f.name: getattr(other, f.name) for f in fields}) == other


def test_equal_reasons_hash_alike() -> None:
    assert hash(Reason("stale", party="p")) == hash(Reason("stale", party="p"))
    assert len({Reason("stale", party="p"), Reason("stale", party="p")}) == 1
