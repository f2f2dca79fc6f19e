"""DuckDB commits that checkpoint by the write-ahead log's real size, not DuckDB's estimate."""

from __future__ import annotations

from pathlib import Path

from revops.warehouse import connect


def _wal(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return wal.stat().st_size if wal.exists() else 0


def _write_indexed_tables(wh, tables: range) -> None:
    for i in tables:
        wh.execute(f"INSERT INTO t{i} SELECT 'k' || CAST(range AS VARCHAR), range FROM range(50)")


def _warehouse(tmp_path: Path, tables: int):
    path = tmp_path / "w.duckdb"
    wh = connect(f"duckdb:///{path}")
    for i in range(tables):
        wh.execute(f"CREATE TABLE t{i} (k VARCHAR PRIMARY KEY, v BIGINT)")
    wh.execute("CHECKPOINT", native=True)
    # A small threshold: DuckDB's estimate of a transaction appending to indexed tables (their
    # indexes' allocated memory) passes it, while the rows written stay far below it.
    wh.execute("SET checkpoint_threshold = '1MB'", native=True)
    return wh, path


def test_a_small_commit_to_many_indexed_tables_keeps_its_log(tmp_path):
    wh, path = _warehouse(tmp_path, 12)
    with wh.transaction():
        _write_indexed_tables(wh, range(6))
    assert _wal(path) == 0  # DuckDB's own decision: checkpointed on its estimate
    threshold = wh.query_value("SELECT current_setting('checkpoint_threshold')")
    with wh.transaction():
        _write_indexed_tables(wh, range(6, 12))
        wh.checkpoint_by_log_size()
    assert 0 < _wal(path) < 1_000_000  # kept: the log itself is small
    assert wh.query_value("SELECT current_setting('checkpoint_threshold')") == threshold
    assert wh.query_value("SELECT count(*) FROM t11") == 50
    wh.close()


def test_a_commit_whose_log_passes_the_threshold_checkpoints(tmp_path):
    wh, path = _warehouse(tmp_path, 1)
    with wh.transaction():
        wh.execute(
            "INSERT INTO t0 SELECT 'k' || CAST(range AS VARCHAR) || repeat('x', 200), range "
            "FROM range(20000)"
        )
        wh.checkpoint_by_log_size()
    assert _wal(path) == 0
    assert wh.query_value("SELECT count(*) FROM t0") == 20000
    wh.close()
