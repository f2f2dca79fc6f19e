"""The warehouse interface every engine implements.

Engine differences are data (:class:`Capabilities`), not ``if name == …`` branches in callers.
Every adapter is safe to share between threads: each thread gets its own connection or cursor.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from revops.errors import ConfigError
from revops.warehouse.sql import compile_sql

Params = Sequence[Any]
_NAMED_GUARD = threading.Lock()


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do; callers branch on these, never on the engine name."""

    dialect: str
    single_writer: bool  # only one process may open the warehouse read-write
    supports_merge: bool
    advisory_locks: bool


class Warehouse(ABC):
    """A SQL warehouse holding the ``revops`` schema.

    ``execute`` and ``query`` take DuckDB-dialect SQL with ``?`` placeholders; the adapter
    compiles it for its engine. Inside :meth:`transaction` all statements of the calling thread
    commit or roll back together; outside, each statement commits on its own.
    """

    capabilities: ClassVar[Capabilities]
    url: str

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def dialect(self) -> str:
        """The sqlglot dialect name of this engine."""
        return self.capabilities.dialect

    def compile(self, sql: str) -> tuple[str, ...]:
        """``sql`` compiled for this engine (cached)."""
        return compile_sql(sql, self.dialect)

    @abstractmethod
    def execute(self, sql: str, params: Params = (), *, native: bool = False) -> int:
        """Run one or more statements; returns the row count of the last when known."""

    @abstractmethod
    def query(self, sql: str, params: Params = (), *, native: bool = False) -> list[dict[str, Any]]:
        """Run one SELECT and return its rows as dicts (column name → value)."""

    @abstractmethod
    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Bulk-insert ``rows`` (tuples in ``columns`` order) into ``table``; returns the count."""

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Close every connection this adapter opened."""

    def lock(self, name: str) -> None:  # noqa: B027 - a no-op is the right default
        """Serialise writers on ``name`` until the current transaction ends (no-op when the
        engine has a single writer anyway)."""

    def checkpoint_by_log_size(self) -> None:  # noqa: B027 - a no-op is the right default
        """Ask that the current transaction's commit checkpoint only when the write-ahead log
        has really grown past the engine's threshold, not on the engine's own estimate of the
        transaction (DuckDB; no-op elsewhere). For transactions that write little to many
        indexed tables: DuckDB counts each index's allocated memory in its estimate."""

    def query_value(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        rows = self.query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def query_df(self, sql: str, params: Params = ()) -> Any:
        """The result as a pandas DataFrame (pandas imported on first use)."""
        import pandas as pd

        return pd.DataFrame(self.query(sql, params))

    @property
    def in_transaction(self) -> bool:
        """True while the calling thread is inside :meth:`transaction`."""
        return getattr(self._local, "depth", 0) > 0

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[None]:
        """All statements of this thread inside the block commit together or not at all.

        ``lock`` names a writer lock held for the whole transaction: across processes on
        engines with advisory locks, across this process's threads everywhere (taken before the
        transaction starts, so a waiting writer never works on a stale snapshot). Nested blocks
        join the outer transaction.
        """
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                if lock:
                    self.lock(lock)
                yield
            finally:
                self._local.depth -= 1
            return
        local_lock = self._named_lock(lock) if lock else None
        if local_lock is not None:
            local_lock.acquire()
        try:
            self._begin()
            self._local.depth = 1
            try:
                if lock:
                    self.lock(lock)
                yield
            except BaseException:
                self._local.depth = 0
                self._rollback()
                raise
            self._local.depth = 0
            self._commit()
        finally:
            if local_lock is not None:
                local_lock.release()

    def _named_lock(self, name: str) -> threading.Lock:
        with _NAMED_GUARD:
            return self.__dict__.setdefault("_named_locks", {}).setdefault(name, threading.Lock())

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {redact_url(self.url)}>"


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def connect(
    url: str,
    *,
    password: str | None = None,
    read_only: bool = False,
    memory_limit: str | None = None,
) -> Warehouse:
    """Open the warehouse named by ``url``; drivers are imported only here.

    ``memory_limit`` caps an embedded engine's memory (DuckDB's ``memory_limit``, e.g.
    ``"512MB"``); server engines manage their own. Raises :class:`ConfigError` for an unknown
    scheme or a missing driver.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme == "duckdb":
        from revops.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(url, read_only=read_only, memory_limit=memory_limit)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from revops.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(url, password=password)
    raise ConfigError(
        f"unknown warehouse URL scheme {scheme!r}",
        input=redact_url(url),
        where="[warehouse] url / REVOPS_WAREHOUSE__URL",
        hint="use duckdb:///path/file.duckdb or postgresql://user@host:5432/db",
    )


def open_warehouse(settings: Any, *, read_only: bool = False, ensure: bool = True) -> Warehouse:
    """Connect to the configured warehouse and make sure the schema exists."""
    from revops.warehouse.schema import ensure_schema

    password = settings.secret("warehouse", "password")
    memory_limit = settings.get("warehouse", "memory_limit") or None
    wh = connect(
        settings.warehouse_url,
        password=password,
        read_only=read_only,
        memory_limit=str(memory_limit) if memory_limit else None,
    )
    if ensure and not read_only:
        ensure_schema(wh)
    return wh
