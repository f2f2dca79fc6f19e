"""Severities: a failed block expectation blocks (exit 3), a failed warn one notifies."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from tests.quality.conftest import make_settings
from tests.quality.fixtures import OPPORTUNITY, load_clean

from revops.cli import main
from revops.errors import DataQualityError
from revops.quality import run_checks
from revops.warehouse import connect
from revops.warehouse.base import Warehouse

BLOCKING = """\
suite: opportunities_gate
table: fact_opportunity
severity: warn
expectations:
  - type: expect_column_values_to_be_between
    column: amount
    min_value: 0
  - type: expect_column_values_to_not_be_null
    column: stage_name
    severity: block
"""


def _suites_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "opportunities_gate.yaml").write_text(BLOCKING, encoding="utf-8")
    return folder


def test_block_expectation_blocks_and_warn_one_notifies(wh: Warehouse, tmp_path: Path):
    settings = make_settings(tmp_path, suites_dir=str(_suites_dir(tmp_path)))
    wh.insert_rows("revops.fact_opportunity", OPPORTUNITY, [("op1", None, 5), ("op2", "Won", -1)])
    report = run_checks(wh, settings, ["opportunities_gate"], run_id="r1")
    assert report.blocked
    assert [(r["column"], r["severity"], r["success"]) for r in report.results] == [
        ("amount", "warn", False),
        ("stage_name", "block", False),
    ]
    assert [r["column"] for r in report.warnings] == ["amount"]
    assert report.as_dict()["blocked"] is True
    with pytest.raises(DataQualityError) as err:
        report.raise_if_blocked()
    assert err.value.exit_code == 3 and "opportunities_gate" in str(err.value)
    assert report.summary() == ["opportunities_gate: ❌ FAIL (0/2)"]
    # The warn failure queues one notification per run id, even when checked twice.
    run_checks(wh, settings, ["opportunities_gate"], run_id="r1")
    keys = [r["key"] for r in wh.query("SELECT key FROM revops.notifications_outbox")]
    assert keys == ["r1:dq_warning"]
    assert wh.query_value("SELECT count(*) FROM revops.dq_results WHERE run_id = 'r1'") == 4


def test_clean_block_suite_does_not_block(wh: Warehouse, tmp_path: Path):
    settings = make_settings(tmp_path, suites_dir=str(_suites_dir(tmp_path)))
    wh.insert_rows("revops.fact_opportunity", OPPORTUNITY, [("op1", "Won", 5)])
    report = run_checks(wh, settings, "opportunities_gate")
    assert not report.blocked and report.success
    assert wh.query_value("SELECT count(*) FROM revops.notifications_outbox") == 0


def _config(tmp_path: Path, url: str, folder: Path) -> Path:
    path = tmp_path / "revops.toml"
    path.write_text(
        f'[warehouse]\nurl = "{url}"\n[reports]\nlocal_dir = "{tmp_path}/reports"\n'
        f'[quality]\nsuites_dir = "{folder}"\ndata_docs = false\n',
        encoding="utf-8",
    )
    return path


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return int(exit_info.value.code or 0)


def test_cli_exits_3_when_blocked(warehouse_url: str, tmp_path: Path, capsys):
    config = _config(tmp_path, warehouse_url, _suites_dir(tmp_path))
    wh = connect(warehouse_url)
    from revops.warehouse import ensure_schema

    ensure_schema(wh)
    load_clean(wh)
    wh.insert_rows("revops.fact_opportunity", OPPORTUNITY, [("op9", None, 1)])
    wh.close()  # DuckDB: one opener of the file at a time
    assert _run(["--config", str(config), "check", "ads", "crm", "--date", "2026-11-30"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == ["ads: ✅ PASS (9/9)", "crm: ✅ PASS (5/5)"]
    assert _run(["--config", str(config), "check", "opportunities_gate"]) == 3
    captured = capsys.readouterr()
    assert "opportunities_gate: ❌ FAIL (1/2)" in captured.out
    assert "stage_name" in captured.out
    assert "error: a blocking data-quality check failed: opportunities_gate" in captured.err
    assert _run(["--config", str(config), "check", "--format", "json", "fact_opportunity"]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["blocked"] is False and data["suites"] == [
        {
            "suite": "fact_opportunity",
            "success": False,
            "passed": 1,
            "total": 2,
            "rows_checked": 3,
            "rows_total": 3,
            "sampled": False,
        }
    ]
    assert _run(["--config", str(config), "check", "adds"]) == 2
    assert "did you mean: ads?" in capsys.readouterr().err
