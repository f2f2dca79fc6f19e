"""The warehouse: one small interface, one module per engine.

``connect(url)`` picks the adapter from the URL scheme (``duckdb:///path`` or
``postgresql://…``). SQL is written once in the DuckDB dialect with ``?`` placeholders and
compiled per engine by :func:`revops.warehouse.sql.compile_sql`.
"""

from revops.warehouse.base import Capabilities, Warehouse, connect, open_warehouse
from revops.warehouse.schema import ensure_schema

__all__ = ["Capabilities", "Warehouse", "connect", "ensure_schema", "open_warehouse"]
