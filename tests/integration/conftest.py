"""Fixtures of the integration tests: the throwaway PostgreSQL cluster (tests/integration/pg.py)."""

from __future__ import annotations

import pytest
from tests.integration import pg


@pytest.fixture(scope="session")
def pg_cluster() -> pg.Cluster:
    """The session's throwaway PostgreSQL 15 cluster (started on first use; fails if absent)."""
    return pg.cluster()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    pg.stop_cluster()
