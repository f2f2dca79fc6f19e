"""Month slices of ``raw_sales_orders`` kept as Parquet files beside a DuckDB warehouse.

Appending tens of millions of rows to a DuckDB table costs more than reading and cleaning them
(DuckDB analyses and compresses every string column as it appends); writing the same rows to a
Parquet file costs a fraction of that. So on DuckDB ``revops.raw_sales_orders`` is a view: the
rows of the table ``revops.raw_sales_orders_rows`` (rows written by SQL, and every row of a
warehouse made before slices existed) followed by the month files listed in
``revops.sales_slices``. The files live in ``<database file>.files/raw_sales_orders/`` (a
temporary folder for an in-memory warehouse, removed when it closes).

A run writes its new files first. Then, in the run's transaction, it swaps the month's rows of
``sales_slices`` and the view's definition; only after the commit are the superseded files
removed. A failed run removes the files it wrote, and the previous slices stay as they were;
files left by a run that was killed are removed by a later run. On PostgreSQL
``raw_sales_orders`` stays a table.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from revops.errors import WarehouseError

if TYPE_CHECKING:
    from revops.warehouse.base import Warehouse

VIEW = "revops.raw_sales_orders"
ROWS = "revops.raw_sales_orders_rows"
SLICES = "revops.sales_slices"
FOLDER = "raw_sales_orders"
COLUMNS = (
    "order_id",
    "customer_id",
    "order_date",
    "revenue",
    "product_category",
    "month",
    "source_file",
    "line_no",
    "loaded_at",
)
# A file not listed in sales_slices is a run's own until it commits; older than this, it was
# left by a run that died.
ORPHAN_AGE_S = 24 * 3600


def arrow_schema() -> Any:
    """The Arrow schema of a slice file: the columns and types of ``raw_sales_orders``."""
    import pyarrow as pa

    text = pa.string()
    return pa.schema(
        [
            pa.field("order_id", text, nullable=False),
            pa.field("customer_id", text, nullable=False),
            pa.field("order_date", pa.date32()),
            pa.field("revenue", pa.decimal128(38, 6), nullable=False),
            pa.field("product_category", text),
            pa.field("month", text, nullable=False),
            pa.field("source_file", text, nullable=False),
            pa.field("line_no", pa.int64(), nullable=False),
            pa.field("loaded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )


def sales_rows_table(wh: Warehouse) -> str:
    """The table that takes ``raw_sales_orders`` rows written by SQL on this warehouse."""
    return ROWS if wh.dialect == "duckdb" else VIEW


def slice_folder(wh: Warehouse) -> Path:
    """The folder of this DuckDB warehouse's slice files."""
    return wh.files_folder() / FOLDER  # type: ignore[attr-defined]


def ensure_sales_view(wh: Warehouse) -> None:
    """On DuckDB, make ``raw_sales_orders`` the view over its rows table and slice files
    (inside :func:`~revops.warehouse.schema.ensure_schema`'s transaction).

    A warehouse where it is still a table (a new one, or one made before slices) has the table
    renamed, its rows kept. The view is also rebuilt when its files' folder is not this
    warehouse's own (the warehouse was moved or copied with its folder).
    """
    kinds = {
        r["table_name"]: r["table_type"]
        for r in wh.query(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'revops' AND table_name IN (?, ?)",
            ("raw_sales_orders", "raw_sales_orders_rows"),
        )
    }
    if kinds.get("raw_sales_orders") == "BASE TABLE":
        wh.execute("ALTER TABLE revops.raw_sales_orders RENAME TO raw_sales_orders_rows")
        publish_view(wh)
        return
    rows = wh.query(
        "SELECT sql FROM duckdb_views() WHERE schema_name = 'revops' AND view_name = ?",
        ("raw_sales_orders",),
        native=True,
    )
    # the view's paths start with the quoted folder: "'/folder/…"
    prefix = _literal(f"{slice_folder(wh)}/")[:-1]
    if _listed(wh) and (not rows or prefix not in rows[0]["sql"]):
        publish_view(wh)


def publish_view(wh: Warehouse) -> None:
    """Define ``raw_sales_orders`` as the rows table followed by every listed slice file."""
    cols = ", ".join(COLUMNS)
    sql = f"CREATE OR REPLACE VIEW {VIEW} AS SELECT {cols} FROM {ROWS}"
    files = _listed(wh)
    if files:
        # A view's definition cannot hold a bound parameter: the paths are written into it,
        # quoted. Every one is this warehouse's folder and a name made by SliceFiles.
        folder = slice_folder(wh)
        paths = ", ".join(_literal(str(folder / name)) for name in files)
        sql += f" UNION ALL SELECT {cols} FROM read_parquet([{paths}])"
    wh.execute(sql, native=True)


def _listed(wh: Warehouse) -> list[str]:
    return [r["file"] for r in wh.query(f"SELECT file FROM {SLICES} ORDER BY month, file")]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class SliceFiles:
    """The slice files of one run: written before its transaction commits, swapped in by
    :meth:`replace` and :meth:`publish` inside it.

    Used as a context manager around the run's transaction: leaving it on an error removes the
    files the run wrote; leaving it normally removes the files its months superseded.
    """

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self.folder = slice_folder(wh)
        self.run = uuid.uuid4().hex[:12]
        self._written: list[Path] = []
        self._superseded: list[Path] = []
        self._count = 0

    def __enter__(self) -> SliceFiles:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(
                f"cannot create the folder of the sales slice files: {exc.strerror}",
                input=str(self.folder),
                hint="let revops write beside the DuckDB file, or point [warehouse] url elsewhere",
            ) from exc
        self._remove_orphans()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for path in self._written if kind is not None else self._superseded:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def new_path(self, month: str) -> Path:
        """A new file for ``month`` (removed again if the run fails)."""
        self._count += 1
        path = self.folder / f"{month}.{self.run}.{self._count}.parquet"
        self._written.append(path)
        return path

    def replace(self, month: str, files: list[tuple[Path, int]]) -> None:
        """Make ``files`` (path, rows) the month's slice, in the run's transaction: its earlier
        files are listed no more (and removed after the commit) and its rows written by SQL are
        deleted."""
        old = self.wh.query(f"SELECT file FROM {SLICES} WHERE month = ?", (month,))
        self._superseded += [self.folder / r["file"] for r in old]
        self.wh.execute(f"DELETE FROM {SLICES} WHERE month = ?", (month,))
        self.wh.execute(f"DELETE FROM {ROWS} WHERE month = ?", (month,))
        if files:
            self.wh.insert_rows(
                SLICES, ("month", "file", "row_count"), [(month, p.name, n) for p, n in files]
            )

    def publish(self) -> None:
        """Point the view at the run's files (in the run's transaction)."""
        publish_view(self.wh)

    def _remove_orphans(self) -> None:
        listed = set(_listed(self.wh))
        cutoff = time.time() - ORPHAN_AGE_S
        for path in self.folder.glob("*.parquet"):
            with contextlib.suppress(FileNotFoundError):
                if path.name not in listed and path.stat().st_mtime < cutoff:
                    path.unlink()
