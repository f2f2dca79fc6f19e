"""Table definitions of the ``revops`` schema, one ``.sql`` file per domain, applied in name
order. Every statement is idempotent (``IF NOT EXISTS``), so :func:`ensure_schema` can run at
every start; new columns are added with ``ALTER TABLE … ADD COLUMN IF NOT EXISTS``.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from revops.warehouse.slices import ensure_sales_view

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

SCHEMA = "revops"


def schema_files() -> list[str]:
    """Names of the shipped schema files, in the order they are applied."""
    return sorted(p.name for p in resources.files(__name__).iterdir() if p.name.endswith(".sql"))


def schema_sql() -> str:
    """The whole schema as one DuckDB-dialect script."""
    return "\n".join(
        resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
        for name in schema_files()
    )


def ensure_schema(wh: Warehouse) -> None:
    """Create the ``revops`` schema and every table that does not exist yet (idempotent)."""
    if getattr(wh, "_schema_ensured", False):
        return
    with wh.transaction(lock="revops.schema"):
        wh.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        for name in schema_files():
            text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
            wh.execute(text)
        if wh.dialect == "duckdb":
            ensure_sales_view(wh)
    wh._schema_ensured = True  # type: ignore[attr-defined]
