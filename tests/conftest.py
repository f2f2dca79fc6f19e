"""Fixtures: real warehouses (a DuckDB file per test, a PostgreSQL database per session).

PostgreSQL tests skip with the reason when the server is not reachable, unless
``REVOPS_REQUIRE_SERVICES=1`` (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from revops.warehouse import Warehouse, connect, ensure_schema
from servicecheck import FIXTURES, PG_ADMIN_URL, REQUIRE_SERVICES, service_unavailable

__all__ = ["FIXTURES", "PG_ADMIN_URL", "REQUIRE_SERVICES", "service_unavailable"]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; dropped at the end."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        service_unavailable("PostgreSQL at " + PG_ADMIN_URL, str(exc).strip().splitlines()[0])
    name = f"revops_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _reset_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS revops CASCADE")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty warehouse of each engine (one test body, many warehouses)."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/revops.duckdb"
    url = request.getfixturevalue("pg_database")
    _reset_pg(url)
    return url


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    """An open warehouse of each engine with the revops schema created."""
    warehouse = connect(warehouse_url)
    ensure_schema(warehouse)
    try:
        yield warehouse
    finally:
        warehouse.close()


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Warehouse]:
    """A DuckDB warehouse only, for tests of DuckDB-specific behaviour."""
    warehouse = connect(f"duckdb:///{tmp_path}/revops.duckdb")
    ensure_schema(warehouse)
    try:
        yield warehouse
    finally:
        warehouse.close()
