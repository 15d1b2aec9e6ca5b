"""The modules the build compiles with mypyc (setup.py), and the check that each still is what
its source says.

A compiled module is imported in place of its ``.py``: after an edit, a checkout or a merge, the
process would run the code of the last build, not the code on disk. The build writes the SHA-256
of each source it compiled into ``compiled.json`` beside this file; :func:`check` compares them
with the sources on disk and refuses to go on when one differs. The entry points call it before
they use the core (``accord`` and every subcommand, :func:`accord.bootstrap.runtime`, the test
suite's conftest); it reads a few hundred KiB, once. The benchmarks in bench/ do not: a
benchmark of a worktree without a build runs its sources.

A class in a compiled module is native (its attributes are C fields) unless it is marked
``@mypyc_attr(native_class=False)``. A native class with a Python base (a generic, an ABC such as
``Mapping``, ``dict``, an exception) also gets a ``__dict__`` and takes weak references, but its
compiled deallocator does not clear them (mypyc/mypyc#1102): a weak reference to a freed instance
crashes the interpreter later, in the collector. Such classes are marked non-native here, or kept
in modules that are not compiled (``PointGeometry``, whose ``Mapping`` base is not allowed for
a non-native class either); tests/unit/test_compiled.py checks that no native class takes weak
references.

The ``__init__`` that ``dataclasses`` generates is interpreted Python even in a compiled module
(about 20 times the cost of a compiled one, and a frozen dataclass's goes through
``object.__setattr__`` for each field). The records built on every verdict or update
(``Reason``, ``Verdict``, ``Disclosure``, ``Evaluation``, ``PresenceRec``, ``Distance``,
``Position``, ``PositionUpdate``, ``UpdatePositions``) are dataclasses with ``init=False`` and an
``__init__`` of their own, which mypyc compiles; the immutable ones declare their fields
``Final``, which makes them read-only at run time in a compiled module (assigning raises
AttributeError, as ``frozen`` did) and for mypy everywhere.

This file imports nothing of Accord's: setup.py loads it on its own.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
from pathlib import Path

COMPILED = (
    "accord.api.strict_json",
    "accord.geo.cells",
    "accord.geo.distance",
    "accord.geo.index",
    "accord.geo.location",
    "accord.ledger.commitment",
    "accord.ledger.merkle",
    "accord.core.commands",
    "accord.core.disclosure",
    "accord.core.model",
    "accord.core.probing",
    "accord.core.stale",
    "accord.core.state",
    "accord.core.verdict",
    "accord.core.decide",
)
"""The modules compiled by setup.py, by name."""

MANIFEST = "compiled.json"
"""The build's record of the sources it compiled: ``{module: sha256 of its .py}``."""

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def source_path(module: str, package_root: Path = _PACKAGE_ROOT) -> Path:
    """The ``.py`` of ``module`` under ``package_root`` (the folder that holds ``accord``)."""
    return package_root.joinpath(*module.split(".")).with_suffix(".py")


def source_digest(module: str, package_root: Path = _PACKAGE_ROOT) -> str:
    """The SHA-256 of ``module``'s source, as the manifest records it."""
    return hashlib.sha256(source_path(module, package_root).read_bytes()).hexdigest()


def _built(module: str, package_root: Path) -> list[Path]:
    base = source_path(module, package_root).with_suffix("")
    built = [base.with_name(base.name + s) for s in importlib.machinery.EXTENSION_SUFFIXES]
    return [p for p in built if p.exists()]


def stale_modules(package_root: Path = _PACKAGE_ROOT) -> list[str]:
    """The compiled modules whose source on disk is not the one they were built from (a module
    with no extension built runs its source, and one with no source runs its extension: neither is
    stale). ``package_root`` is the folder that holds the ``accord`` package."""
    manifest_path = package_root / "accord" / MANIFEST
    recorded: dict[str, str] = (
        json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    )
    stale = []
    for module in COMPILED:
        if not _built(module, package_root) or not source_path(module, package_root).exists():
            continue
        if recorded.get(module) != source_digest(module, package_root):
            stale.append(module)
    return stale


class StaleBuild(RuntimeError):
    """A compiled module is not what its source says (see :func:`check`)."""


def check(package_root: Path = _PACKAGE_ROOT) -> None:
    """Raise :class:`StaleBuild`, naming them, if any compiled module is stale."""
    stale = stale_modules(package_root)
    if stale:
        raise StaleBuild(
            "compiled from an older source: "
            + ", ".join(stale)
            + "; rebuild with `scripts/dev setup` (or `pip install -e .`)"
        )
