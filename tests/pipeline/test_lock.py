"""At most one active run, across processes, on DuckDB and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from revops.config import Settings
from revops.pipeline.lock import RunActiveError, pipeline_lock
from revops.warehouse import connect

ROOT = Path(__file__).resolve().parents[2]


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVOPS_")}
    env["REVOPS_WAREHOUSE__URL"] = url
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return env


def _wait_for(path: Path, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8"):
            return path.read_text(encoding="utf-8")
        if proc.poll() is not None:
            pytest.fail(f"the holding run ended early ({proc.returncode}): {log.read_text()}")
        time.sleep(0.02)  # polling a file another process writes, with a deadline
    pytest.fail("the holding run never started")


def test_two_concurrent_runs_one_runs_one_is_refused(warehouse_url: str, tmp_path: Path) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    env = _env(warehouse_url)
    log = tmp_path / "holder.log"
    with log.open("wb") as out:
        holder = subprocess.Popen(
            [sys.executable, "-m", "tests.pipeline.hold_run", str(started), str(release)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        run_id = _wait_for(started, holder, log)
        second = subprocess.run(
            [sys.executable, "-m", "revops", "run", "daily", "--date", "2024-01-15"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2, second.stderr
        assert f"run {run_id} (daily for 2024-01-15" in second.stderr
        assert "is active" in second.stderr
    finally:
        release.write_text("go", encoding="utf-8")
        holder.wait(timeout=120)
    assert holder.returncode == 0, log.read_text()
    wh = connect(warehouse_url)
    try:
        rows = wh.query("SELECT run_id, status FROM revops.pipeline_runs")
    finally:
        wh.close()
    assert rows == [{"run_id": run_id, "status": "success"}]


def test_lock_is_free_again_after_a_run(warehouse_url: str) -> None:
    settings = Settings(data={"warehouse": {"url": warehouse_url}}, env={})
    with pipeline_lock(settings, "first", "daily"):
        with pytest.raises(RunActiveError) as err, pipeline_lock(settings, "second", "daily"):
            pass
        assert err.value.exit_code == 2
    with pipeline_lock(settings, "third", "daily"):
        pass


def test_in_memory_duckdb_locks_within_the_process() -> None:
    settings = Settings(data={"warehouse": {"url": "duckdb:///:memory:"}}, env={})
    with (
        pipeline_lock(settings, "a", "daily"),
        pytest.raises(RunActiveError),
        pipeline_lock(settings, "b", "daily"),
    ):
        pass


def test_refusal_names_the_active_run_on_duckdb(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/w.duckdb"
    settings = Settings(data={"warehouse": {"url": url}}, env={})
    with (
        pipeline_lock(settings, "daily-2024-01-15-abc", "daily", None),
        pytest.raises(RunActiveError) as err,
        pipeline_lock(settings, "x", "daily"),
    ):
        pass
    text = str(err.value)
    assert "run daily-2024-01-15-abc (daily, pid " in text
    assert str(tmp_path / "w.duckdb.run.lock") in text
