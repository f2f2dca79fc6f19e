"""``revops kpi`` end to end, on a DuckDB file and on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from kpi_fixtures import RUN_DATE, load_all

from revops.cli import main
from revops.cli.cmd_kpi import yen
from revops.transform.marketing import read_kpis


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["kpi", *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def cli_env(warehouse_url, wh, tmp_path, monkeypatch):
    """The CLI pointed at the test warehouse, loaded with the hand-computed fixtures."""
    load_all(wh)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REVOPS_CONFIG", raising=False)
    monkeypatch.setenv("REVOPS_WAREHOUSE__URL", warehouse_url)
    if wh.dialect == "duckdb":
        wh.close()  # DuckDB allows one holder of the file: the CLI's process is it
    return warehouse_url


def test_table_shows_yen_and_the_best_channel(cli_env, capsys):
    code, out, _ = run(capsys, "--date", "2026-02-11")
    assert code == 0
    assert "¥120,000" in out and "150.0%" in out and "140.00%" in out
    assert "total ad cost:   ¥145,000" in out
    assert "CAC:             ¥24,167" in out
    assert "best channel:    Google (150.0%)" in out
    assert "period 2026-01-12 .. 2026-02-10, 30 days" in out
    lines = [line for line in out.splitlines() if line.startswith("│")]
    assert lines[0].split("│")[1].strip() == "Google"  # best ROAS first


def test_json_and_csv_are_unrounded(cli_env, capsys):
    code, out, _ = run(capsys, "--date", "2026-02-11", "--window-days", "1", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["date"], data["window_days"]) == ("2026-02-10", 1)
    assert data["summary"]["overall_roas"] == pytest.approx(53000 / 70000 * 100)
    assert data["summary"]["best_channel"] == "Google"
    google = next(c for c in data["channels"] if c["channel"] == "Google")
    assert google["ad_cost"] == 50000 and google["roas"] == 100.0
    code, out, _ = run(capsys, "--date", "2026-02-11", "--window-days", "1", "--format", "csv")
    assert code == 0
    assert out.splitlines()[0].startswith("date,period_start,period_end,channel,impressions")
    assert (
        "2026-02-10,2026-02-10,2026-02-10,Facebook,8000,40,20000,70,0,0,0,,,0.0,175.0,0.5," in out
    )


def test_stored_date_is_read_not_recomputed(cli_env, capsys):
    assert run(capsys, "--date", "2026-02-11")[0] == 0
    assert run(capsys, "--date", "2026-02-11")[0] == 0
    assert run(capsys, "--date", "2026-02-11", "--recompute")[0] == 0
    from revops.warehouse import connect

    with connect(cli_env) as wh:
        n = wh.query_value(
            "SELECT COUNT(*) FROM revops.audit_events WHERE resource = 'marketing_marts'"
        )
        assert n == 2  # computed once, read once, recomputed once
        assert read_kpis(wh, RUN_DATE).window_days == 30


def test_bad_arguments_exit_2(cli_env, capsys):
    code, _, err = run(capsys, "--date", "2026-02-x")
    assert code == 2 and "is not a date" in err
    code, _, err = run(capsys, "--date", "2026-02-11", "--window-days", "0")
    assert code == 2 and "window_days must be between 1" in err
    code, _, err = run(capsys, "--date", "2026-02-11", "--format", "xml")
    assert code == 2 and "unknown --format" in err


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0, "¥0"),
        (1234567.5, "¥1,234,568"),
        (24166.666666, "¥24,167"),
        (-1500, "-¥1,500"),
    ],
)
def test_yen(value, text):
    from decimal import Decimal

    assert yen(value) == text
    if isinstance(value, int | float) and value == int(value):
        assert yen(Decimal(int(value))) == text
