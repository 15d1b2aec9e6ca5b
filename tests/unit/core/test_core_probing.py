"""R14 the probing defence, and the measurement recorded in docs/RULES.md.

Run ``pytest tests/unit/core/test_core_probing.py -s`` to print the figures."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from accord.core import commands as cmd
from accord.core import state as state_module
from accord.core.decide import decide
from accord.core.model import PROBE_BUDGET_PER_HOUR, REQUEST_BUDGET_PER_HOUR, ProbePolicy
from accord.core.state import fingerprint
from accord.errors import RateLimited

from .conftest import LAT0, LON0, World, offset, rect

M_PER_DEG_LAT = 110_900.0
HALF_SIDE_M = 10_000.0  # the attacker knows the target lies in a 20 km x 20 km square


def _size_m(box: tuple[float, float, float, float]) -> float:
    w, s, e, n = box
    return max((e - w) * M_PER_DEG_LAT * math.cos(math.radians(LAT0)), (n - s) * M_PER_DEG_LAT)


@dataclass
class Outcome:
    requests: int = 0
    revealing: int = 0
    refused: int = 0
    seconds: float = 0.0
    warnings: int = 0
    box: tuple[float, float, float, float] = (0, 0, 0, 0)


class Attacker:
    """Mallory asks clearances (hazard 0) over rectangles and reads only the status."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.out = Outcome()
        self.n = 0

    def ask(self, box: tuple[float, float, float, float]) -> bool:
        while True:
            self.n += 1
            try:
                self.w.request("mallory", 0, 0, hazard=0.0, cid=f"m{self.n}", area=rect(*box))
            except RateLimited:
                self.out.refused += 1
                self.w.advance(60.0)  # try again in a minute
                self.out.seconds += 60.0
                continue
            self.out.requests += 1
            self.w.advance(1.0)
            self.out.seconds += 1.0
            hit = self.w.state.clearances[f"m{self.n}"].status == "conflict"
            self.out.revealing += hit
            return hit


def _world(seed: int) -> tuple[World, float, float]:
    rng = random.Random(seed)
    w = World()
    w.party("owner")
    w.party("mallory")
    lon, lat = offset(
        LON0, LAT0, rng.uniform(-HALF_SIDE_M, HALF_SIDE_M), rng.uniform(-HALF_SIDE_M, HALF_SIDE_M)
    )
    w.site("owner", "hidden", lon, lat, 10.0)  # conflict-only to everyone
    return w, lon, lat


def _square() -> tuple[float, float, float, float]:
    w, s = offset(LON0, LAT0, -HALF_SIDE_M, -HALF_SIDE_M)
    e, n = offset(LON0, LAT0, HALF_SIDE_M, HALF_SIDE_M)
    return (w, s, e, n)


def bisect(seed: int) -> tuple[Outcome, float, float]:
    """Halve the box along its longer side until it is 500 m or less."""
    world, lon, lat = _world(seed)
    a = Attacker(world)
    box = _square()
    while _size_m(box) > 500.0:
        w, s, e, n = box
        wide = (e - w) * math.cos(math.radians(LAT0)) >= (n - s)
        half = (w, s, (w + e) / 2, n) if wide else (w, s, e, (s + n) / 2)
        other = ((w + e) / 2, s, e, n) if wide else (w, (s + n) / 2, e, n)
        box = half if a.ask(half) else other
    a.out.box = box
    a.out.warnings = sum(1 for e in world.log if e["type"] == "probe_warning")
    return a.out, lon, lat


def scan(seed: int, cell_m: float = 2_000.0) -> tuple[Outcome, float, float]:
    """Ask about one cell after another, stopping at the first "yes"; then bisect inside it."""
    world, lon, lat = _world(seed)
    a = Attacker(world)
    w0, s0, e0, n0 = _square()
    k = int(2 * HALF_SIDE_M / cell_m)
    dx, dy = (e0 - w0) / k, (n0 - s0) / k
    box = (w0, s0, e0, n0)
    for i in range(k * k):
        cell = (
            w0 + (i % k) * dx,
            s0 + (i // k) * dy,
            w0 + (i % k + 1) * dx,
            s0 + (i // k + 1) * dy,
        )
        if i == k * k - 1 or a.ask(cell):
            box = cell
            break
    while _size_m(box) > 500.0:
        w, s, e, n = box
        wide = (e - w) * math.cos(math.radians(LAT0)) >= (n - s)
        half = (w, s, (w + e) / 2, n) if wide else (w, s, e, (s + n) / 2)
        other = ((w + e) / 2, s, e, n) if wide else (w, (s + n) / 2, e, n)
        box = half if a.ask(half) else other
    a.out.box = box
    a.out.warnings = sum(1 for e in world.log if e["type"] == "probe_warning")
    return a.out, lon, lat


def _located(out: Outcome, lon: float, lat: float) -> bool:
    w, s, e, n = out.box
    slack = 20.0 / M_PER_DEG_LAT  # the site's 10 m uncertainty plus the distance error bound
    return (
        w - slack <= lon <= e + slack and s - slack <= lat <= n + slack and _size_m(out.box) <= 500
    )


SEEDS = range(2)


@pytest.fixture
def no_defence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "DEFAULT_POLICY", ProbePolicy(0, 0))


def _report(name: str, runs: list[Outcome]) -> None:
    def avg(f: str) -> float:
        return sum(getattr(o, f) for o in runs) / len(runs)

    print(
        f"\n{name}: requests {avg('requests'):.1f}, revealing {avg('revealing'):.1f}, "
        f"refused {avg('refused'):.1f}, time {avg('seconds') / 3600:.2f} h, "
        f"probe warnings {avg('warnings'):.1f} (mean of {len(runs)} seeded targets)"
    )


@pytest.mark.usefixtures("no_defence")
def test_r14_measure_without_defence() -> None:
    """R14: without the budgets, bisection locates a conflict-only site to 500 m in ~11 requests
    within seconds; a scan using mostly "no" answers needs more requests but few "yes"."""
    runs = []
    for seed in SEEDS:
        out, lon, lat = bisect(seed)
        assert _located(out, lon, lat)
        assert out.refused == 0
        runs.append(out)
    _report("bisection, no defence", runs)
    assert max(o.seconds for o in runs) < 60
    scans = []
    for seed in SEEDS:
        out, lon, lat = scan(seed)
        assert _located(out, lon, lat)
        scans.append(out)
    _report("scan then bisect, no defence", scans)


def test_r14_measure_with_defence() -> None:
    """R14: with the budgets the same attacks still succeed (a correct verdict leaks a bit per
    request) but take hours, and the owner is warned, naming the asker, from the first "yes"."""
    runs = []
    for seed in SEEDS:
        out, lon, lat = bisect(seed)
        assert _located(out, lon, lat)
        runs.append(out)
        if out.revealing > PROBE_BUDGET_PER_HOUR:
            assert out.seconds >= 3600.0
        assert out.warnings == out.revealing
    _report("bisection, with defence", runs)
    scans = []
    for seed in SEEDS:
        out, lon, lat = scan(seed)
        assert _located(out, lon, lat)
        assert out.seconds >= 3600.0 * ((out.requests - 1) // REQUEST_BUDGET_PER_HOUR)
        scans.append(out)
    _report("scan then bisect, with defence", scans)


def test_r14_budget_refuses_every_request_once_used_up_and_changes_nothing() -> None:
    """R14: after PROBE_BUDGET_PER_HOUR revealing requests, even a request far from anything is
    refused (refusing only revealing ones would reveal), and the refusal changes nothing; an hour
    later requests pass again. Each probe sends the owner a probe_warning naming the asker."""
    world, lon, lat = _world(1)
    for i in range(PROBE_BUDGET_PER_HOUR):
        events = world.request("mallory", lon, lat, 50, 0, cid=f"p{i}")
        warning = events[-1]
        assert warning["type"] == "probe_warning"
        assert (warning["party"], warning["asker"], warning["presences"]) == (
            "owner",
            "mallory",
            ["hidden"],
        )
        world.advance(1.0)
    far = cmd.RequestClearance(
        "mallory",
        None,
        rect(LON0 + 5, LAT0, LON0 + 5.01, LAT0 + 0.01)[0],
        rect(LON0 + 5, LAT0, LON0 + 5.01, LAT0 + 0.01)[1],
        None,
        None,
        0.0,
        world.now,
        world.now.replace(year=2027),
        "",
        (),
    )
    before = fingerprint(world.state)
    with pytest.raises(RateLimited, match="last hour"):
        decide(world.state, far, world.now)
    assert fingerprint(world.state) == before
    # the owner itself is not limited by probes about its own presences
    world.request("owner", lon, lat, 50, 0, cid="own")
    world.advance(3600.0)
    world.run(far)
    assert fingerprint(world.replayed()) == fingerprint(world.state)
