"""At most one active pipeline run per warehouse, across processes.

PostgreSQL: a session-level advisory lock held on a connection of its own for the run's whole
duration (the server frees it if the process dies). DuckDB: an exclusive ``flock`` on
``<warehouse file>.run.lock`` next to the warehouse, holding the active run's id (the kernel
frees it if the process dies); it is taken *before* the warehouse is opened, so a second
``revops run daily`` can say which run is active instead of failing on DuckDB's own file lock.
An in-memory DuckDB gets a lock within the process only.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from revops.errors import RevopsError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from revops.config import Settings
    from revops.warehouse.base import Warehouse

LOCK_KEY = "revops.pipeline.run"
_memory_locks: dict[str, threading.Lock] = {}
_memory_guard = threading.Lock()


class RunActiveError(RevopsError):
    """Another pipeline run holds the lock; the message says which (exit code 2)."""

    exit_code = 2


def _holder_text(info: dict[str, Any] | None) -> str:
    if not info:
        return "another pipeline run is active"
    day = f" for {info['run_date']}" if info.get("run_date") else ""
    pid = f", pid {info['pid']}" if info.get("pid") else ""
    since = f", started {info['started_at']}" if info.get("started_at") else ""
    return f"run {info.get('run_id')} ({info.get('pipeline')}{day}{pid}{since}) is active"


def _refuse(info: dict[str, Any] | None, where: str) -> RunActiveError:
    return RunActiveError(
        _holder_text(info) + "; only one pipeline run may be active at a time",
        where=where,
        hint="wait for it to finish (see `revops status`), then start again",
    )


@contextmanager
def pipeline_lock(
    settings: Settings, run_id: str, pipeline: str, day: date | None = None
) -> Iterator[None]:
    """Hold the pipeline lock of the configured warehouse, or raise :class:`RunActiveError`.

    ``run_id`` names the holder to anyone refused meanwhile.
    """
    info = {
        "run_id": run_id,
        "pipeline": pipeline,
        "run_date": day and day.isoformat(),
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    url = settings.warehouse_url
    scheme = url.split(":", 1)[0].lower()
    if scheme == "duckdb":
        from revops.warehouse.duckdb import duckdb_path

        path = duckdb_path(url)
        if path == ":memory:":
            with _memory_lock(url, info):
                yield
        else:
            with _file_lock(Path(path + ".run.lock"), info):
                yield
    else:
        with _advisory_lock(settings, info):
            yield


@contextmanager
def _memory_lock(key: str, info: dict[str, Any]) -> Iterator[None]:
    with _memory_guard:
        lock = _memory_locks.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=False):
        raise _refuse(None, "this process")
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _file_lock(path: Path, info: dict[str, Any]) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refuse(_read_holder(path), str(path)) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, orjson.dumps(info) + b"\n")
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(path: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads(path.read_bytes() or b"null")
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def _advisory_lock(settings: Settings, info: dict[str, Any]) -> Iterator[None]:
    from revops.warehouse import connect

    holder: Warehouse = connect(
        settings.warehouse_url, password=settings.secret("warehouse", "password")
    )
    try:
        got = holder.query_value("SELECT pg_try_advisory_lock(hashtext(?)) AS ok", (LOCK_KEY,))
        if not got:
            raise _refuse(_active_from_history(holder), "PostgreSQL advisory lock " + LOCK_KEY)
        try:
            yield
        finally:
            holder.query_value("SELECT pg_advisory_unlock(hashtext(?)) AS ok", (LOCK_KEY,))
    finally:
        holder.close()


def _active_from_history(wh: Warehouse) -> dict[str, Any] | None:
    from revops.pipeline.history import active_run

    try:
        row = active_run(wh)
    except RevopsError:  # the schema may not exist yet
        return None
    if row is None:
        return None
    return {**row, "started_at": str(row["started_at"]), "run_date": row["run_date"]}
