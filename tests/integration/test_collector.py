"""The cyclic collector while the service runs (bootstrap.collector, through bootstrap.runtime on
a real SQLite store): what outlives a collection of the middle generation is frozen, young garbage
cycles are still collected, and Python's settings come back on exit."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.bootstrap import GC_THRESHOLDS, runtime
from accord.core import RegisterParty


class Node:
    """A collector-tracked object that can be part of a cycle and be weakly referenced."""

    def __init__(self) -> None:
        self.peer: Node | None = None


def tracked(obj: object) -> bool:
    """Whether the collector's generations hold ``obj`` (frozen objects are in none of them)."""
    return any(o is obj for o in gc.get_objects())


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Leave the test process as it was: nothing frozen afterwards."""
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_what_outlives_a_middle_collection_is_frozen(tmp_path: Path) -> None:
    before = gc.get_threshold()
    with runtime(tmp_path / "data") as rt:
        assert gc.get_threshold() == GC_THRESHOLDS
        rt.service.execute(RegisterParty("admin", "alpha", "Alpha"))
        kept = Node()
        kept.peer = kept  # a cycle, still referenced: it survives every collection
        gc.collect(0)
        assert tracked(kept), "a young collection alone freezes nothing"
        frozen = gc.get_freeze_count()
        gc.collect(1)
        assert not tracked(kept)
        assert gc.get_freeze_count() > frozen
        party = rt.service.state.parties["alpha"]
        assert not tracked(party), "the state is frozen too"
    assert gc.get_threshold() == before
    later = Node()
    later.peer = later
    gc.collect(1)
    assert tracked(later), "after the service, a middle collection freezes nothing"


@pytest.mark.usefixtures("unfrozen")
def test_young_garbage_cycles_are_still_collected(tmp_path: Path) -> None:
    with runtime(tmp_path / "data"):
        for generation in (0, 1):
            a, b = Node(), Node()
            a.peer, b.peer = b, a
            gone = weakref.ref(a)
            del a, b
            assert gone() is not None  # only the collector frees a cycle
            assert gc.collect(generation) >= 2
            assert gone() is None
