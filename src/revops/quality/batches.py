"""SQL builders for the data a suite validates (one module: every statement is here).

The batch of a suite is ``SELECT *, <derived> FROM <table or query>``, optionally restricted to
one day of its ``date_column``. Identifiers are quoted; the day is a bound parameter on the
dataframe path and a GX daily partition (bound by GX) on the in-database path.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from revops.errors import ConfigError
from revops.warehouse.schema import SCHEMA
from revops.warehouse.sql import quote_ident

if TYPE_CHECKING:
    from revops.quality.suite_spec import Suite
    from revops.warehouse.base import Warehouse

_COLUMNS_SQL = (
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position"
)
_TABLES_SQL = "SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = ?"


@dataclass(frozen=True)
class BatchQuery:
    """The SELECT producing a suite's rows, with its bound parameters (DuckDB dialect)."""

    sql: str
    params: tuple[object, ...] = ()


def source_sql(suite: Suite) -> str:
    """The suite's rows plus its derived columns, over the whole table (DuckDB dialect)."""
    source = f"{SCHEMA}.{quote_ident(suite.table)}" if suite.table else f"({suite.query}) AS src"
    derived = "".join(f", ({expr}) AS {quote_ident(name)}" for name, expr in suite.derived.items())
    return f"SELECT *{derived} FROM {source}"


def batch_query(suite: Suite, day: date | None) -> BatchQuery:
    """The rows to validate: one day of ``date_column`` when ``day`` is given."""
    base = source_sql(suite)
    if day is None or not suite.date_column:
        return BatchQuery(base)
    return BatchQuery(
        f"SELECT * FROM ({base}) AS batch WHERE {quote_ident(suite.date_column)} = ?", (day,)
    )


def count_query(batch: BatchQuery) -> BatchQuery:
    """How many rows the batch has."""
    return BatchQuery(f"SELECT count(*) AS n FROM ({batch.sql}) AS counted", batch.params)


def sample_query(batch: BatchQuery, rows: int) -> BatchQuery:
    """A uniform, repeatable sample of ``rows`` rows of the batch (DuckDB reservoir sample).

    ``rows`` is a validated integer setting, so it is written into the statement (DuckDB does
    not take a parameter in ``USING SAMPLE``).
    """
    return BatchQuery(
        f"SELECT * FROM ({batch.sql}) AS sampled "
        f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE (7)",
        batch.params,
    )


def data_columns(wh: Warehouse, suite: Suite) -> list[str]:
    """The columns of the suite's data, read from the warehouse's metadata (no rows read).

    A table's columns come from ``information_schema``; a query's from a probe that joins it
    on FALSE, so the engine plans it without reading rows. A missing table raises
    :class:`ConfigError` naming the suite file and the close matches.
    """
    if suite.table:
        rows = wh.query(_COLUMNS_SQL, (SCHEMA, suite.table))
        if not rows:
            tables = [r["table_name"] for r in wh.query(_TABLES_SQL, (SCHEMA,))]
            close = difflib.get_close_matches(suite.table, tables, n=3)
            raise ConfigError(
                f"the warehouse has no table {SCHEMA}.{suite.table}",
                where=suite.where(),
                hint=("did you mean: " + ", ".join(close) + "?")
                if close
                else "run the step that creates it, or fix table:",
            )
        return [r["column_name"] for r in rows]
    probe = f"SELECT q.* FROM (SELECT 1 AS one) AS p LEFT JOIN ({suite.query}) AS q ON FALSE"
    try:
        rows = wh.query(probe)
    except Exception as exc:
        raise ConfigError(
            f"the suite's query does not run: {exc}",
            where=suite.where(),
            hint="fix the SQL in the query file",
        ) from exc
    return list(rows[0]) if rows else []
