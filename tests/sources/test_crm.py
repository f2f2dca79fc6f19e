"""The CRM extractor against the real PostgreSQL on 127.0.0.1 and against SQLite."""

from __future__ import annotations

import socket
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from revops.config import Settings
from revops.dev.demo_sources import write_demo_sources
from revops.errors import ConfigError, SourceError
from revops.sources.crm import extract_crm

SOURCE_SCHEMA = "crm_src"


@pytest.fixture
def pg_crm(pg_database: str) -> str:
    """A CRM in schema crm_src of the test database (apart from the warehouse's schema)."""
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {SOURCE_SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {SOURCE_SCHEMA}")
        con.execute(f"""CREATE TABLE {SOURCE_SCHEMA}.customers (
            customer_id TEXT, customer_name TEXT, email TEXT,
            acquisition_date TIMESTAMP, acquisition_source TEXT, acquisition_channel TEXT)""")
        con.execute(f"""CREATE TABLE {SOURCE_SCHEMA}.orders (
            order_id TEXT, customer_id TEXT, order_date DATE, revenue NUMERIC(12, 2))""")
        con.execute(f"""INSERT INTO {SOURCE_SCHEMA}.customers VALUES
            ('C1', '山田 "太郎", Jr.', 'a@example.com', '2024-03-01 23:30:00', 'GGL-0001',
             'Google'),
            ('C2', '', NULL, '2024-03-02', NULL, 'Organic'),
            ('C3', 'multi
line', 'c@example.com', NULL, 'referral', 'Referral')""")
        con.execute(f"""INSERT INTO {SOURCE_SCHEMA}.orders VALUES
            ('O1', 'C1', '2024-03-02', 1234.50), ('O2', 'C1', '2024-03-05', 100),
            ('O3', 'C2', '2024-03-03', 0), (NULL, 'C3', '2024-03-04', 5),
            ('O5', NULL, NULL, NULL)""")
    return pg_database


def _settings(url: str, **crm: object) -> Settings:
    return Settings(data={"crm": {"url": url, **crm}}, env={})


def _pg_settings(url: str, **crm: object) -> Settings:
    tables = {
        "customers_table": f"{SOURCE_SCHEMA}.customers",
        "orders_table": f"{SOURCE_SCHEMA}.orders",
    }
    return _settings(url, **{**tables, **crm})


@pytest.mark.postgres
@pytest.mark.parametrize("chunk_size", [100_000, 2])
def test_postgres_crm_snapshot(wh, pg_crm, chunk_size):
    report = extract_crm(wh, _pg_settings(pg_crm, chunk_size=chunk_size))
    assert report.tables == {"raw_crm_customers": 3, "raw_crm_orders": 4}
    assert report.reasons == {"missing_order_id": 1}
    customers = {
        r["customer_id"]: r
        for r in wh.query("SELECT * FROM revops.raw_crm_customers ORDER BY customer_id")
    }
    assert customers["C1"]["customer_name"] == '山田 "太郎", Jr.'
    assert customers["C1"]["acquisition_date"] == date(2024, 3, 1)
    assert customers["C2"]["customer_name"] == "" and customers["C2"]["email"] is None
    assert customers["C3"]["customer_name"] == "multi\nline"
    assert customers["C3"]["acquisition_date"] is None
    orders = {r["order_id"]: r for r in wh.query("SELECT * FROM revops.raw_crm_orders")}
    assert orders["O1"]["revenue"] == Decimal("1234.5")
    assert orders["O5"]["customer_id"] is None and orders["O5"]["revenue"] is None
    assert wh.query_value("SELECT sum(revenue) FROM revops.raw_crm_orders") == Decimal("1334.5")


@pytest.mark.postgres
def test_custom_queries(duck, pg_crm):
    settings = _settings(
        pg_crm,
        customers_query=f"SELECT customer_id, customer_name, email, "
        f"acquisition_date::date AS acquisition_date, acquisition_source, acquisition_channel "
        f"FROM {SOURCE_SCHEMA}.customers WHERE acquisition_channel = 'Google'",
        orders_query=f"SELECT order_id, customer_id, order_date, revenue "
        f"FROM {SOURCE_SCHEMA}.orders WHERE customer_id = 'C1'",
    )
    report = extract_crm(duck, settings)
    assert report.tables == {"raw_crm_customers": 1, "raw_crm_orders": 2}


@pytest.mark.postgres
def test_failed_extraction_keeps_the_previous_snapshot(wh, pg_crm):
    extract_crm(wh, _pg_settings(pg_crm))
    with pytest.raises(SourceError) as info:
        extract_crm(wh, _pg_settings(pg_crm, orders_table=f"{SOURCE_SCHEMA}.nope"))
    assert "CRM: the query failed" in str(info.value) and "nope" in str(info.value)
    assert wh.query_value("SELECT count(*) FROM revops.raw_crm_customers") == 3
    assert wh.query_value("SELECT count(*) FROM revops.raw_crm_orders") == 4


@pytest.mark.postgres
def test_postgres_source_is_read_only(duck, pg_crm):
    settings = _pg_settings(
        pg_crm,
        customers_query=(
            f"WITH gone AS (DELETE FROM {SOURCE_SCHEMA}.customers RETURNING *) SELECT * FROM gone"
        ),
    )
    with pytest.raises(SourceError):
        extract_crm(duck, settings)
    import psycopg

    with psycopg.connect(pg_crm) as con:
        assert con.execute(f"SELECT count(*) FROM {SOURCE_SCHEMA}.customers").fetchone()[0] == 3


def test_unreachable_postgres(duck):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(
        data={"crm": {"url": f"postgresql://reader@127.0.0.1:{port}/crm"}},
        env={"REVOPS_CRM__PASSWORD": "hunter2"},
    )
    with pytest.raises(SourceError) as info:
        extract_crm(duck, settings)
    text = str(info.value)
    assert "CRM: cannot connect" in text and f"127.0.0.1:{port}" in text
    assert "REVOPS_CRM__PASSWORD" in text and "hunter2" not in text


def test_sqlite_demo_crm(wh, tmp_path: Path):
    overrides = write_demo_sources(tmp_path, seed=3, end=date(2024, 3, 31), days=30)
    report = extract_crm(wh, _settings(overrides["crm"]["url"], chunk_size=500))
    with sqlite3.connect(tmp_path / "crm.sqlite") as con:
        n_customers = con.execute("SELECT count(*) FROM customers").fetchone()[0]
        n_orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        revenue = con.execute("SELECT sum(revenue) FROM orders").fetchone()[0]
    con.close()
    assert report.tables == {"raw_crm_customers": n_customers, "raw_crm_orders": n_orders}
    assert wh.query_value("SELECT sum(revenue) FROM revops.raw_crm_orders") == Decimal(str(revenue))
    channels = {
        r["acquisition_channel"]
        for r in wh.query("SELECT DISTINCT acquisition_channel FROM revops.raw_crm_customers")
    }
    assert channels == {"Google", "Facebook", "Instagram", "Organic", "Referral"}


def test_sqlite_is_opened_read_only(duck, tmp_path: Path):
    overrides = write_demo_sources(tmp_path, seed=3, end=date(2024, 3, 31), days=5)
    settings = _settings(
        overrides["crm"]["url"], customers_query="DELETE FROM customers RETURNING *"
    )
    with pytest.raises(SourceError, match="readonly"):
        extract_crm(duck, settings)


def test_missing_sqlite_file_and_bad_urls(duck, tmp_path: Path):
    with pytest.raises(SourceError, match="cannot open the SQLite file"):
        extract_crm(duck, _settings(f"sqlite:///{tmp_path}/absent.db"))
    with pytest.raises(ConfigError, match="unknown CRM URL scheme 'mysql'"):
        extract_crm(duck, _settings("mysql://x@h/db"))
    with pytest.raises(ConfigError, match=r"\[crm\] url"):
        extract_crm(duck, Settings(data={}, env={}))


def test_cloud_sql_needs_its_extra_or_a_proper_url(duck):
    with pytest.raises(ConfigError, match="cloudsql://iam-user@project:region:instance"):
        extract_crm(duck, _settings("cloudsql://user@only-a-name/db"))
    try:
        import google.cloud.sql.connector  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"revops\[cloudsql\]"):
            extract_crm(duck, _settings("cloudsql://crm-reader@proj:asia-northeast1:crm/crm"))


def test_copy_stream_fills_each_read_from_many_small_chunks():
    from revops.sources.crm_db import _CopyStream

    stream = _CopyStream([b"row %d\n" % i for i in range(1000)])
    buffer = bytearray(4096)
    assert stream.readinto(buffer) == 4096  # not one 6-byte row per read
    rest = bytearray(10_000)
    n = stream.readinto(rest)
    assert bytes(buffer) + bytes(rest[:n]) == b"".join(b"row %d\n" % i for i in range(1000))
    assert stream.readinto(rest) == 0
