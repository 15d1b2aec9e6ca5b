"""The probing defence (R14).

A party could map another party's undisclosed (``coarse`` / ``conflict-only``) presences by asking
many small clearances and watching which ones conflict. The verdict itself cannot be weakened
(invariant 2: every presence counts, at its exact geometry), so the defence limits and exposes the
asking instead:

- a clearance request whose verdict names a presence of another party that the requester may not
  see exactly is a *probe*; it is recorded (``probe: true`` on ``clearance_requested``) and the
  presence's owner receives a ``probe_warning`` naming the asker, the clearance and its presences;
- a party may make at most ``PROBE_BUDGET_PER_HOUR`` probes, and at most
  ``REQUEST_BUDGET_PER_HOUR`` clearance requests of any kind, in any sliding hour (a "clear" answer
  reveals absence: without the second budget an attacker scans with "no"s and needs one "yes");
  once either is used up, EVERY clearance request it makes is refused with ``RateLimited`` until
  the hour has slid on (refusing only the revealing requests would itself reveal the presence).

The budget is derived from logged events only, so a replay rebuilds it exactly. docs/RULES.md
records how many requests an attacker needs to locate a presence to 500 m with and without it.
"""

from __future__ import annotations

from collections.abc import Iterable

from accord.core.model import PROBE_WINDOW_S, Reason
from accord.core.state import State, presence_key
from accord.errors import RateLimited

__all__ = ["budget_left", "check_budget", "probe_used", "requests_used", "revealing"]


def probe_used(state: State, party: str, now: float) -> int:
    """Probes ``party`` made in the sliding hour before ``now`` (epoch seconds)."""
    return sum(1 for x in state.probes.get(party, ()) if x > now - PROBE_WINDOW_S)


def requests_used(state: State, party: str, now: float) -> int:
    """Clearance requests ``party`` made in the sliding hour before ``now``."""
    return sum(1 for x in state.requests.get(party, ()) if x > now - PROBE_WINDOW_S)


def check_budget(state: State, party: str, now: float) -> None:
    """Raise RateLimited if ``party`` has used up either budget (whatever it is about to ask)."""
    probes, requests = state.policy.probes_per_hour, state.policy.requests_per_hour
    if probes and probe_used(state, party, now) >= probes:
        raise RateLimited(
            f"party {party} made {probes} requests in the last hour that touched "
            "other parties' undisclosed presences; try again later"
        )
    if requests and requests_used(state, party, now) >= requests:
        raise RateLimited(
            f"party {party} made {requests} clearance requests in the last hour; try again later"
        )


def budget_left(state: State, party: str, now: float) -> int:
    return max(0, state.policy.probes_per_hour - probe_used(state, party, now))


def revealing(state: State, asker: str, reasons: Iterable[Reason]) -> dict[str, set[str]]:
    """Owner -> ids of its presences that ``reasons`` name and ``asker`` may not see exactly."""
    out: dict[str, set[str]] = {}
    for r in reasons:
        if r.presence is None or r.party is None or r.party == asker:
            continue
        p = state.presences.get(presence_key(r.party, r.presence))
        if p is None or p.disclosure.level(asker) != "exact":
            out.setdefault(r.party, set()).add(r.presence)
    return out
