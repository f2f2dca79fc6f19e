"""PostgreSQL adapter (``postgresql://user@host:5432/db``), psycopg 3.

The password comes from ``REVOPS_WAREHOUSE__PASSWORD`` (or libpq's own ``PGPASSWORD`` /
``.pgpass``), never from the URL in a config file. Bulk loads use COPY.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from revops.errors import ConfigError, ConstraintViolation, WarehouseError
from revops.warehouse.base import Capabilities, Params, Warehouse, redact_url


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database; one connection per thread, autocommit outside transactions."""

    capabilities = Capabilities(
        dialect="postgres", single_writer=False, supports_merge=True, advisory_locks=True
    )

    def __init__(self, url: str, *, password: str | None = None) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise ConfigError(
                "PostgreSQL support needs psycopg", hint="pip install 'revops[postgres]'"
            ) from exc
        super().__init__()
        self._psycopg = psycopg
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._password = password
        self._conns: list[Any] = []
        self._guard = threading.Lock()
        self._conn()  # fail early with a clear message

    def compile(self, sql: str) -> tuple[str, ...]:
        return tuple(_escape_percent(s) for s in super().compile(sql))

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            from psycopg.rows import dict_row

            kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
            if self._password:
                kwargs["password"] = self._password
            try:
                conn = self._psycopg.connect(self.url, **kwargs)
            except self._psycopg.Error as exc:
                raise WarehouseError(
                    f"cannot connect to PostgreSQL: {str(exc).strip().splitlines()[0]}",
                    input=redact_url(self.url),
                    hint="check that the server runs and the URL, user and "
                    "REVOPS_WAREHOUSE__PASSWORD are right",
                ) from exc
            conn.execute("SET TIME ZONE 'UTC'")
            # revops runs many short incremental statements whose row estimates are loose:
            # JIT compilation then costs more than it saves (1.4 s of a 1.7 s statement).
            conn.execute("SET jit = off")
            self._local.conn = conn
            with self._guard:
                self._conns.append(conn)
        return conn

    def execute(self, sql: str, params: Params = (), *, native: bool = False) -> int:
        conn = self._conn()
        statements = (sql,) if native else self.compile(sql)
        count = -1
        try:
            for stmt in statements:
                cur = conn.execute(stmt, _args(params, native))
                count = cur.rowcount
        except self._psycopg.Error as exc:
            raise WarehouseError(
                f"PostgreSQL refused a statement: {str(exc).strip()}",
                input=statements[-1][:300] if statements else sql[:300],
            ) from exc
        return count

    def query(self, sql: str, params: Params = (), *, native: bool = False) -> list[dict[str, Any]]:
        conn = self._conn()
        stmt = sql if native else self.compile(sql)[-1]
        try:
            cur = conn.execute(stmt, _args(params, native))
            return list(cur.fetchall()) if cur.description else []
        except self._psycopg.Error as exc:
            raise WarehouseError(
                f"PostgreSQL refused a query: {str(exc).strip()}", input=stmt[:300]
            ) from exc

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        conn = self._conn()
        col_list = ", ".join(f'"{c}"' for c in columns)
        n = 0
        try:
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({col_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
        except self._psycopg.Error as exc:
            raise WarehouseError(
                f"PostgreSQL refused a COPY into {table}: {str(exc).strip()}", input=table
            ) from exc
        return n

    def copy_binary(
        self, table: str, columns: Sequence[str], data: bytes | Iterable[bytes]
    ) -> None:
        """Load ``data``, the whole stream of a binary ``COPY`` (signature, rows, trailer;
        as one buffer or consecutive blocks, each sent as it comes) into ``table``'s
        ``columns``."""
        conn = self._conn()
        col_list = ", ".join(f'"{c}"' for c in columns)
        try:
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY {table} ({col_list}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                for block in (data,) if isinstance(data, bytes | bytearray) else data:
                    copy.write(block)
        except self._psycopg.IntegrityError as exc:
            raise ConstraintViolation(
                f"PostgreSQL refused a COPY into {table}: {str(exc).strip()}", input=table
            ) from exc
        except self._psycopg.Error as exc:
            raise WarehouseError(
                f"PostgreSQL refused a COPY into {table}: {str(exc).strip()}", input=table
            ) from exc

    def lock(self, name: str) -> None:
        """Take a transaction-scoped advisory lock, serialising writers across processes."""
        self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))

    def _begin(self) -> None:
        self._conn().execute("BEGIN")

    def _commit(self) -> None:
        try:
            self._conn().execute("COMMIT")
        except self._psycopg.Error as exc:
            raise WarehouseError(f"PostgreSQL could not commit: {exc}") from exc

    def _rollback(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            with contextlib.suppress(self._psycopg.Error):
                conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._guard:
            for conn in self._conns:
                with contextlib.suppress(Exception):
                    conn.close()
            self._conns.clear()
        self._local = threading.local()


def _args(params: Params, native: bool) -> tuple[Any, ...] | None:
    """Compiled statements always get a tuple (so ``%%`` is unescaped); native SQL without
    values gets None so a user's ``%`` is sent as written."""
    if native and not params:
        return None
    return tuple(params)


def _escape_percent(stmt: str) -> str:
    """Escape literal ``%`` for psycopg while keeping the ``%s`` placeholders."""
    return stmt.replace("%", "%%").replace("%%s", "%s")
