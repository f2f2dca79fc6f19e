"""Reading the CRM database: one small adapter per engine, rows streamed as Arrow batches.

URL schemes: ``postgresql://user@host:5432/db`` (psycopg; ``COPY (query) TO STDOUT`` parsed by
Arrow's CSV reader, so rows never become Python objects), ``sqlite:///relative.db`` /
``sqlite:////absolute.db`` (standard library) and ``cloudsql://user@project:region:instance/db``
(Cloud SQL for PostgreSQL with IAM database authentication through the Cloud SQL Python
Connector, ``pip install 'revops[cloudsql]'``). Every adapter reads in a read-only transaction.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from revops.errors import ConfigError, SourceError, TerminalSourceError
from revops.warehouse.base import redact_url

ArrowSchema = dict[str, pa.DataType]
URL_HINT = "check [crm] url / REVOPS_CRM__URL and REVOPS_CRM__PASSWORD"


class CrmDatabase:
    """A read-only connection that streams a query's rows as Arrow tables."""

    url: str
    casts_dates = True  # SQLite has no DATE type: CAST(x AS DATE) would make a number

    def stream(self, query: str, schema: ArrowSchema, chunk_size: int) -> Iterator[pa.Table]:
        """Batches of about ``chunk_size`` rows with the columns and types of ``schema``."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""

    def __enter__(self) -> CrmDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_crm(url: str, *, password: str | None = None, timeout_s: float = 10.0) -> CrmDatabase:
    """Connect to the CRM named by ``url`` (drivers are imported only here)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return PostgresCrm(url, password, timeout_s)
    if scheme == "sqlite":
        return SqliteCrm(url)
    if scheme == "cloudsql":
        return CloudSqlCrm(url, password)
    raise ConfigError(
        f"unknown CRM URL scheme {scheme!r}",
        input=redact_url(url),
        where="[crm] url / REVOPS_CRM__URL",
        hint="use postgresql://user@host/db, sqlite:///path/crm.db or "
        "cloudsql://user@project:region:instance/db",
    )


def _source_error(what: str, url: str, exc: Exception, hint: str = URL_HINT) -> SourceError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return TerminalSourceError(f"CRM: {what}: {first}", input=redact_url(url), hint=hint)


class PostgresCrm(CrmDatabase):
    """PostgreSQL through psycopg 3; COPY streams the rows into Arrow's CSV reader."""

    def __init__(self, url: str, password: str | None, timeout_s: float) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise ConfigError(
                "reading a PostgreSQL CRM needs psycopg", hint="pip install 'revops[postgres]'"
            ) from exc
        self._psycopg = psycopg
        self.url = url
        kwargs: dict[str, Any] = {"connect_timeout": max(1, int(timeout_s))}
        if password:
            kwargs["password"] = password
        try:
            self._conn = psycopg.connect(url, **kwargs)
            # One read-only REPEATABLE READ transaction for every query of the extraction:
            # customers and orders come from the same snapshot.
            self._conn.read_only = True
            self._conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        except psycopg.Error as exc:
            raise _source_error("cannot connect to the database", url, exc) from exc

    def stream(self, query: str, schema: ArrowSchema, chunk_size: int) -> Iterator[pa.Table]:
        options = pcsv.ConvertOptions(
            column_types=schema,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            timestamp_parsers=["%Y-%m-%d"],
        )
        read = pcsv.ReadOptions(column_names=list(schema), block_size=1 << 22)
        try:
            with (
                self._conn.cursor() as cur,
                cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy,
            ):
                reader = pcsv.open_csv(
                    _CopyStream(copy),
                    read_options=read,
                    parse_options=pcsv.ParseOptions(newlines_in_values=True),
                    convert_options=options,
                )
                pending: list[pa.RecordBatch] = []
                rows = 0
                for batch in reader:
                    pending.append(batch)
                    rows += batch.num_rows
                    if rows >= chunk_size:
                        yield pa.Table.from_batches(pending)
                        pending, rows = [], 0
                if pending:
                    yield pa.Table.from_batches(pending)
        except self._psycopg.Error as exc:
            self._conn.rollback()
            raise _source_error(
                "the query failed", self.url, exc, "check the table names or [crm] *_query"
            ) from exc
        except pa.ArrowInvalid as exc:
            self._conn.rollback()
            raise _source_error(
                "a value has an unexpected type",
                self.url,
                exc,
                "make the query return the documented columns and types",
            ) from exc

    def close(self) -> None:
        if not self._conn.closed:
            self._conn.rollback()  # read-only: nothing to keep
        self._conn.close()


class _CopyStream(io.RawIOBase):
    """A readable file over psycopg's COPY chunks (what Arrow's reader wants).

    COPY sends about one chunk per row, so every read gathers chunks until the caller's buffer
    is full: a read must not return one small row into a large buffer."""

    def __init__(self, copy: Any) -> None:
        self._chunks = iter(copy)
        self._buffer = bytearray()
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        while len(self._buffer) < want and not self._done:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
            else:
                self._buffer += chunk
        n = min(want, len(self._buffer))
        buffer[:n] = self._buffer[:n]
        del self._buffer[:n]
        return n


class DbApiCrm(CrmDatabase):
    """Any DB-API connection: ``fetchmany`` in chunks, converted to Arrow per column."""

    _conn: Any

    def stream(self, query: str, schema: ArrowSchema, chunk_size: int) -> Iterator[pa.Table]:
        cur = self._conn.cursor()
        try:
            cur.execute(query)
            names = [d[0].lower() for d in cur.description]
            missing = [c for c in schema if c not in names]
            if missing:
                raise TerminalSourceError(
                    f"CRM: the query returns no column(s) {', '.join(missing)}",
                    input=query[:200],
                    hint="return the documented columns (alias them)",
                )
            positions = [names.index(c) for c in schema]
            while True:
                rows = cur.fetchmany(chunk_size)
                if not rows:
                    return
                yield _arrow_rows(rows, positions, schema)
        except self._errors as exc:
            raise _source_error(
                "the query failed", self.url, exc, "check the table names or [crm] *_query"
            ) from exc
        except (pa.ArrowInvalid, ValueError) as exc:
            raise _source_error(
                "a value has an unexpected type",
                self.url,
                exc,
                "make the query return the documented columns and types",
            ) from exc
        finally:
            cur.close()

    _errors: tuple[type[Exception], ...] = (Exception,)


def _arrow_rows(rows: list[Any], positions: list[int], schema: ArrowSchema) -> pa.Table:
    columns = {}
    for (name, kind), pos in zip(schema.items(), positions, strict=True):
        values = [r[pos] for r in rows]
        columns[name] = _arrow_column(values, kind)
    return pa.table(columns)


def _arrow_column(values: list[Any], kind: pa.DataType) -> pa.Array:
    if pa.types.is_string(kind):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    if pa.types.is_date(kind):
        text = pa.array([None if v is None else str(v)[:10] for v in values], pa.string())
        return pc.cast(text, kind)
    if pa.types.is_decimal(kind):
        text = pa.array(
            [
                None if v is None else (f"{v:.6f}" if isinstance(v, float) else str(v))
                for v in values
            ],
            pa.string(),
        )
        return pc.cast(text, kind)
    return pa.array(values, kind)


class SqliteCrm(DbApiCrm):
    """A SQLite file opened read-only (the demo's CRM)."""

    casts_dates = False

    def __init__(self, url: str) -> None:
        path = url.split(":///", 1)[1] if ":///" in url else ""
        self.url = url
        if not path:
            raise ConfigError(
                "a SQLite CRM URL reads sqlite:///relative.db or sqlite:////absolute.db",
                input=url,
                where="[crm] url",
            )
        try:
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise _source_error(
                "cannot open the SQLite file", url, exc, "check that the file exists ([crm] url)"
            ) from exc
        self._errors = (sqlite3.Error,)

    def close(self) -> None:
        self._conn.close()


class CloudSqlCrm(DbApiCrm):
    """Cloud SQL for PostgreSQL with IAM database authentication (no password, no IP
    allow-list): ``cloudsql://iam-user@project:region:instance/database``."""

    def __init__(self, url: str, password: str | None) -> None:
        parts = urlsplit(url)
        self.url = url
        instance = unquote(parts.netloc.rsplit("@", 1)[-1])
        database = parts.path.lstrip("/")
        if not parts.username or instance.count(":") != 2 or not database:
            raise ConfigError(
                "a Cloud SQL CRM URL reads cloudsql://iam-user@project:region:instance/database",
                input=redact_url(url),
                where="[crm] url",
            )
        try:
            from google.cloud.sql.connector import Connector
        except ImportError as exc:
            raise ConfigError(
                "Cloud SQL IAM authentication needs the Cloud SQL connector",
                input=redact_url(url),
                hint="pip install 'revops[cloudsql]'",
            ) from exc
        self._connector = Connector()
        try:
            self._conn = self._connector.connect(
                instance,
                "pg8000",
                user=unquote(parts.username),
                db=database,
                enable_iam_auth=password is None,
                **({"password": password} if password else {}),
            )
            cur = self._conn.cursor()
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cur.close()
        except Exception as exc:
            self._connector.close()
            raise _source_error(
                "cannot connect to Cloud SQL",
                url,
                exc,
                "check the instance name, the IAM user and that it has the Cloud SQL Client role",
            ) from exc

    def close(self) -> None:
        try:
            self._conn.close()
        finally:
            self._connector.close()
