"""DuckDB adapter: the embedded default (``duckdb:///path/file.duckdb``).

One process may hold the file read-write; a second process gets a
:class:`WarehouseLockedError` naming the holder's PID and what to do.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from revops.errors import (
    ConfigError,
    ConstraintViolation,
    WarehouseError,
    WarehouseLockedError,
)
from revops.warehouse.base import Capabilities, Params, Warehouse

CATALOG = "warehouse"


def duckdb_path(url: str) -> str:
    """The file path in a ``duckdb:///…`` URL (``duckdb:////abs`` for absolute paths)."""
    if not url.startswith("duckdb:///"):
        raise ConfigError(
            "a DuckDB URL reads duckdb:///relative/path.duckdb or duckdb:////absolute/path.duckdb",
            input=url,
        )
    path = url[len("duckdb:///") :]
    return path or "revops.duckdb"


class DuckDBWarehouse(Warehouse):
    """A DuckDB file; threads share one database through per-thread cursors."""

    capabilities = Capabilities(
        dialect="duckdb", single_writer=True, supports_merge=True, advisory_locks=False
    )

    def __init__(
        self, url: str, *, read_only: bool = False, memory_limit: str | None = None
    ) -> None:
        try:
            import duckdb
        except ImportError as exc:  # pragma: no cover - duckdb is a core dependency
            raise ConfigError(
                "the duckdb package is not installed", hint="pip install 'revops'"
            ) from exc
        super().__init__()
        self._duckdb = duckdb
        # Arrow types of each table's columns, by table (see _arrow_types)
        self._arrow_type_cache: dict[str, dict[str, Any]] = {}
        self.url = url
        self.path = duckdb_path(url)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        else:
            self.path = ":memory:"
        try:
            # Attach under a fixed alias: a file named revops.duckdb would otherwise make the
            # catalog "revops" clash with the schema "revops".
            self._root = duckdb.connect(":memory:")
            literal = "'" + self.path.replace("'", "''") + "'"
            mode = " (READ_ONLY)" if read_only else ""
            self._root.execute(f"ATTACH {literal} AS {CATALOG}{mode}")
            self._root.execute(f"USE {CATALOG}")
            self._root.execute("SET TimeZone = 'UTC'")
            if memory_limit:
                # A setting's value cannot be a bound parameter; the value is checked first.
                if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit.strip(), re.I):
                    raise ConfigError(
                        "invalid DuckDB memory limit",
                        input=memory_limit,
                        where="[warehouse] memory_limit",
                        hint="write it like 512MB or 2GB",
                    )
                self._root.execute(f"SET memory_limit = '{memory_limit.strip()}'")
        except duckdb.IOException as exc:
            raise _locked_error(self.path, exc) from exc
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open the DuckDB file: {exc}", input=self.path) from exc
        self._cursors: list[Any] = []
        self._files_tmp: str | None = None

    def files_folder(self) -> Path:
        """The folder of the files this warehouse keeps beside its database file (for an
        in-memory warehouse a temporary folder, removed when it closes)."""
        if self.path != ":memory:":
            return Path(self.path).resolve().with_name(Path(self.path).name + ".files")
        if self._files_tmp is None:
            self._files_tmp = tempfile.mkdtemp(prefix="revops-warehouse-")
        return Path(self._files_tmp)

    def _cur(self) -> Any:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._root.cursor()
            cur.execute(f"USE {CATALOG}")
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cur = cur
            self._cursors.append(cur)
        return cur

    def execute(self, sql: str, params: Params = (), *, native: bool = False) -> int:
        cur = self._cur()
        statements = (sql,) if native else self.compile(sql)
        count = -1
        try:
            for stmt in statements:
                res = cur.execute(stmt, list(params) if params else None)
                count = _rowcount(res)
        except self._duckdb.Error as exc:
            raise WarehouseError(
                f"DuckDB refused a statement: {exc}",
                input=statements[0][:300] if statements else sql[:300],
            ) from exc
        return count

    def query(self, sql: str, params: Params = (), *, native: bool = False) -> list[dict[str, Any]]:
        cur = self._cur()
        stmt = sql if native else self.compile(sql)[-1]
        try:
            res = cur.execute(stmt, list(params) if params else None)
            if res.description is None:
                return []
            names = [d[0] for d in res.description]
            return [dict(zip(names, row, strict=True)) for row in res.fetchall()]
        except self._duckdb.Error as exc:
            raise WarehouseError(f"DuckDB refused a query: {exc}", input=stmt[:300]) from exc

    def query_arrow(self, sql: str, params: Params = (), *, native: bool = False) -> Any:
        """The result as a pyarrow Table."""
        cur = self._cur()
        stmt = sql if native else self.compile(sql)[-1]
        try:
            return cur.sql(stmt, params=list(params) if params else None).to_arrow_table()
        except self._duckdb.Error as exc:
            raise WarehouseError(f"DuckDB refused a query: {exc}", input=sql[:300]) from exc

    def query_df(self, sql: str, params: Params = ()) -> Any:
        cur = self._cur()
        try:
            return cur.execute(self.compile(sql)[-1], list(params) if params else None).df()
        except self._duckdb.Error as exc:
            raise WarehouseError(f"DuckDB refused a query: {exc}", input=sql[:300]) from exc

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        import pyarrow as pa

        rows = list(rows)
        if not rows:
            return 0
        cols = list(zip(*rows, strict=True))
        types = self._arrow_types(table)
        try:
            arrow = pa.table(
                {c: _arrow_array(v, types.get(c)) for c, v in zip(columns, cols, strict=True)}
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrow = pa.table(
                {
                    c: pa.array([None if x is None else str(x) for x in v], type=pa.string())
                    for c, v in zip(columns, cols, strict=True)
                }
            )
        return self.insert_arrow(table, arrow)

    def _arrow_types(self, table: str) -> dict[str, Any]:
        """Arrow types of ``table``'s columns (``schema.table`` of the warehouse), cached: a
        column built with its type skips pyarrow's inference from the Python values. Columns
        added later or of other types are inferred as before."""
        cache = self._arrow_type_cache
        if table not in cache:
            import pyarrow as pa

            known = {
                "VARCHAR": pa.string(),
                "BIGINT": pa.int64(),
                "INTEGER": pa.int32(),
                "BOOLEAN": pa.bool_(),
                "DOUBLE": pa.float64(),
                "DATE": pa.date32(),
                "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
                "DECIMAL(38,6)": pa.decimal128(38, 6),
            }
            schema, _, name = table.rpartition(".")
            rows = (
                self._cur()
                .execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
                    [CATALOG, schema or "main", name],
                )
                .fetchall()
            )
            cache[table] = {c: known[t] for c, t in rows if t in known}
        return cache[table]

    def insert_arrow(self, table: str, arrow: Any) -> int:
        """Insert a pyarrow Table whose column names match ``table``'s."""
        cur = self._cur()
        col_list = ", ".join(f'"{c}"' for c in arrow.column_names)
        cur.register("_revops_insert", arrow)
        try:
            cur.execute(f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM _revops_insert")
        except self._duckdb.ConstraintException as exc:
            raise ConstraintViolation(
                f"DuckDB refused an insert into {table}: {exc}", input=table
            ) from exc
        except self._duckdb.Error as exc:
            raise WarehouseError(
                f"DuckDB refused an insert into {table}: {exc}", input=table
            ) from exc
        finally:
            # After a failed insert the transaction is aborted and refuses even this; the
            # next registration under the name replaces the view.
            with contextlib.suppress(self._duckdb.Error):
                cur.unregister("_revops_insert")
        return int(arrow.num_rows)

    def execute_with_arrow(self, sql: str, params: Params, name: str, batches: Any) -> int:
        """Run ``sql`` (DuckDB's dialect) on this thread's cursor with the Arrow batches
        ``batches`` (a ``pyarrow.RecordBatchReader``) readable as the relation ``name``.

        A reader is consumed once, so DuckDB keeps no reference to its buffers: a registered
        ``pyarrow.Table`` stays referenced by an open transaction until it ends, which holds
        every appended block in memory until the commit.
        """
        cur = self._cur()
        try:
            cur.register(name, batches)
            try:
                return _rowcount(cur.execute(sql, list(params) if params else None))
            finally:
                cur.unregister(name)
        except self._duckdb.Error as exc:
            raise WarehouseError(f"DuckDB refused a statement: {exc}", input=sql[:300]) from exc

    def _begin(self) -> None:
        self._cur().execute("BEGIN TRANSACTION")

    def checkpoint_by_log_size(self) -> None:
        if self.in_transaction and self.path != ":memory:":
            self._local.by_log_size = True

    def _commit(self) -> None:
        by_log_size = getattr(self._local, "by_log_size", False)
        self._local.by_log_size = False
        try:
            if by_log_size:
                self._commit_by_log_size()
            else:
                self._cur().execute("COMMIT")
        except self._duckdb.Error as exc:
            raise WarehouseError(f"DuckDB could not commit: {exc}") from exc

    def _commit_by_log_size(self) -> None:
        """Commit without DuckDB's checkpoint on its estimate of the transaction, then
        checkpoint if the write-ahead log is now past the threshold.

        DuckDB checkpoints at a commit when the log plus its estimate of the transaction pass
        ``checkpoint_threshold``, and the estimate counts the memory allocated for every index
        the transaction appended to (about 1-4 MB each, however few rows): a transform that
        writes ~6 MB of log into twenty indexed tables is taken for more than 16 MB and
        checkpoints, rewriting what it touched in every table. Its log is kept instead; the
        commit that takes the log past the threshold (usually the next landing) checkpoints."""
        cur = self._cur()
        with _SETTINGS_GUARD:
            threshold = cur.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0]
            limit = _size_bytes(threshold)
            if limit is None:  # not a size this adapter reads: DuckDB decides as usual
                cur.execute("COMMIT")
                return
            cur.execute("SET checkpoint_threshold = '1TB'")
            try:
                cur.execute("COMMIT")
            finally:
                # The value DuckDB itself reported, checked to be a size before it is written.
                cur.execute(f"SET checkpoint_threshold = '{threshold}'")
        wal = Path(self.path + ".wal")
        if wal.exists() and wal.stat().st_size > limit:
            # Another thread's open transaction may refuse it: a later commit checkpoints.
            with contextlib.suppress(self._duckdb.Error):
                cur.execute("CHECKPOINT")

    def _rollback(self) -> None:
        self._local.by_log_size = False
        with contextlib.suppress(self._duckdb.Error):
            self._cur().execute("ROLLBACK")

    def close(self) -> None:
        for cur in self._cursors:
            with contextlib.suppress(Exception):
                cur.close()
        self._cursors.clear()
        self._local = threading.local()
        self._root.close()
        if self._files_tmp is not None:
            shutil.rmtree(self._files_tmp, ignore_errors=True)
            self._files_tmp = None


_SETTINGS_GUARD = threading.Lock()
_SIZE_UNITS = {"": 1, "B": 1, "BYTES": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
_SIZE_UNITS |= {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def _size_bytes(text: str) -> int | None:
    """Bytes of a DuckDB size setting such as ``16.0 MiB`` (None when it is not one)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", text.strip())
    if match is None or match.group(2).upper() not in _SIZE_UNITS:
        return None
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])


def _arrow_array(values: Sequence[Any], type_: Any) -> Any:
    """``values`` as an Arrow array of ``type_`` when they convert exactly, else inferred."""
    import pyarrow as pa

    if type_ is not None:
        try:
            return pa.array(values, type=type_)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass  # e.g. a Decimal with more places than the column: the engine casts it
    return pa.array(values)


def _rowcount(res: Any) -> int:
    try:
        rows = res.fetchall() if res.description else []
    except Exception:
        return -1
    if rows and len(rows[0]) == 1 and isinstance(rows[0][0], int):
        return int(rows[0][0])
    return -1


def _locked_error(path: str, exc: Exception) -> WarehouseError:
    text = str(exc)
    if "lock" not in text.lower():
        return WarehouseError(f"cannot open the DuckDB file: {text}", input=path)
    pid = re.search(r"PID (\d+)", text)
    holder = f"process {pid.group(1)}" if pid else "another process"
    return WarehouseLockedError(
        f"the warehouse file is held by {holder} (often a running `revops serve`)",
        input=path,
        hint="while `revops serve` runs, read its figures from its JSON API (/api/...); or stop "
        "it (Ctrl-C or SIGTERM drains and exits cleanly), run this command and start it again; "
        "for concurrent access point REVOPS_WAREHOUSE__URL at PostgreSQL",
    )
