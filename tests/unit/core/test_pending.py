"""The grid of pending presences (accord.core.verdict.Pending.near): a verdict that looks only at
the pending records the grid returns sees exactly those a scan of all of them finds (R1, R6)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.core.model import Disclosure
from accord.core.state import PresenceRec
from accord.core.verdict import Pending, _may_reach, _reach
from accord.geo.index import bounds
from accord.geo.shapes import Area, Disc

lons = st.floats(-180.0, 180.0, allow_nan=False)
lats = st.floats(-90.0, 90.0, allow_nan=False)
SQUARE = Area(((((71.0, 34.9), (71.01, 34.9), (71.01, 34.91), (71.0, 34.91), (71.0, 34.9)),),))
metres = st.sampled_from([0.0, 1.0, 50.0, 900.0, 5_000.0, 60_000.0, 800_000.0])


@st.composite
def records(draw: st.DrawFn, k: int) -> PresenceRec:
    unit = draw(st.booleans())
    area = draw(st.sampled_from([None, None, None, SQUARE]))
    near = draw(st.booleans())  # most records cluster around one place, as a batch of moves does
    lon = draw(st.floats(70.0, 72.0)) if near else draw(lons)
    lat = draw(st.floats(34.0, 36.0)) if near else draw(lats)
    return PresenceRec(
        key=f"o:p{k}",
        owner="o",
        id=f"p{k}",
        kind="unit" if unit else "site",
        label="",
        lon=float("nan") if area is not None else lon,
        lat=float("nan") if area is not None else lat,
        area=area,
        area_json=None,
        uncertainty_m=draw(metres),
        added_m=0.0,
        fix=draw(st.sampled_from([0.0, 500.0, 3_000.0])),
        valid_from=None,
        valid_until=None,
        max_speed_mps=draw(st.sampled_from([None, 0.0, 5.0, 300.0])) if unit else None,
        disclosure=Disclosure(),
        sent=None,
        transformation=None,
        datum_warning=None,
        version=1,
        log_index=None,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    count=st.integers(0, 60),
    query=st.tuples(lons, lats) | st.tuples(st.floats(70.0, 72.0), st.floats(34.0, 36.0)),
    radius=metres,
    hazard=metres,
    t=st.sampled_from([0.0, 600.0, 10_000.0]),
)
def test_r1_r6_the_grid_of_pending_presences_misses_none_a_scan_finds(
    data: st.DataObject,
    count: int,
    query: tuple[float, float],
    radius: float,
    hazard: float,
    t: float,
) -> None:
    pending = Pending()
    recs = [data.draw(records(k)) for k in range(count)]
    for p in recs:
        pending[p.key] = p
    pending["o:gone"] = None  # a removal: never a candidate
    boxes = bounds(Disc(query[0], query[1], radius), hazard)
    for units in (False, True):
        scanned = {p.key for p in recs if p.is_unit == units and _may_reach(boxes, p, _reach(p, t))}
        found = {p.key for p in pending.near(boxes, units, t) if _may_reach(boxes, p, _reach(p, t))}
        assert found == scanned


def test_the_grid_follows_every_change_of_the_pending_presences() -> None:
    def site(k: str, lon: float) -> PresenceRec:
        return PresenceRec(
            key=f"o:{k}", owner="o", id=k, kind="site", label="", lon=lon, lat=35.0, area=None,
            area_json=None, uncertainty_m=10.0, added_m=0.0, fix=0.0, valid_from=None,
            valid_until=None, max_speed_mps=None, disclosure=Disclosure(), sent=None,
            transformation=None, datum_warning=None, version=1, log_index=None,
        )  # fmt: skip

    boxes = bounds(Disc(71.0, 35.0, 100.0), 100.0)
    pending = Pending()
    for k in range(300):  # enough records elsewhere that the grid, not a scan, answers
        pending[f"o:far{k}"] = site(f"far{k}", 10.0 + k * 0.01)
    pending["o:a"] = site("a", 71.0)
    assert [p.id for p in pending.near(boxes, False, 0.0)] == ["a"]
    pending["o:a"] = site("a", 75.0)  # moved away: the grid is built again
    assert [p.id for p in pending.near(boxes, False, 0.0)] == []
    pending.update({"o:b": site("b", 71.0)})
    assert [p.id for p in pending.near(boxes, False, 0.0)] == ["b"]
    pending.pop("o:b")
    assert pending.near(boxes, False, 0.0) == []
    assert len(pending.near(boxes, True, 0.0)) == 0  # no units pending
