"""Builds Accord with its hot modules compiled to C extensions by mypyc (the metadata is in
pyproject.toml). The modules are the ones every clearance, position update and log append runs
through: the verdict, the state and its indexes, the geodesics, canonical JSON and the Merkle
tree. They are plain typed Python, checked by ``mypy --strict`` like the rest; mypyc makes each
function and class native, so that a call, an attribute or an arithmetic step skips the
interpreter's dispatch (docs/PERFORMANCE.md has what that bought). Every other module, and the
``.py`` sources of these, stay as they are.

A compiled module is imported in place of its source, so editing the source changes nothing until
the next build (``scripts/dev setup``, ``pip install -e .``). The build records each source's
SHA-256 in ``accord/compiled.json``; :func:`accord.compiled.check` refuses to run on a source
that differs from what was compiled.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from mypyc.build import mypycify
from setuptools import setup

SRC = Path(__file__).resolve().parent / "src"

# the list is kept beside its check; the file imports nothing of Accord's
_spec = importlib.util.spec_from_file_location("_compiled", SRC / "accord" / "compiled.py")
assert _spec is not None and _spec.loader is not None
compiled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compiled)

manifest = {m: compiled.source_digest(m, SRC) for m in compiled.COMPILED}
(SRC / "accord" / compiled.MANIFEST).write_text(
    json.dumps(manifest, indent=1, sort_keys=True) + "\n"
)

setup(
    ext_modules=mypycify(
        # no mypy cache: a fresh type check, whatever a run of mypy left in .mypy_cache
        [
            "--cache-dir=/dev/null",
            *(str(compiled.source_path(m, SRC).relative_to(SRC.parent)) for m in compiled.COMPILED),
        ],
        opt_level="3",
        group_name="accord",
    ),
)
