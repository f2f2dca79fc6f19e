"""``revops transform`` on a DuckDB file: prints what it did; --full; --format json."""

from __future__ import annotations

import orjson
import pytest

from revops.cli import main
from revops.config import Settings
from revops.errors import ConfigError
from revops.transform.settings import revenue_settings

from .conftest import golden_lines


def run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0), capsys.readouterr().out


def test_transform_command_incremental_then_full(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REVOPS_WAREHOUSE__URL", f"duckdb:///{tmp_path}/w.duckdb")
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"\n".join(golden_lines()) + b"\n")
    assert run(capsys, "ingest", str(events))[0] == 0
    code, out = run(capsys, "transform")
    assert code == 0
    assert "read 43 raw events" in out and "mart_won_to_paid" in out
    code, out = run(capsys, "transform", "--format", "json")
    (report,) = orjson.loads(out)
    assert (report["mode"], report["events"], report["facts_changed"]) == ("incremental", 0, 0)
    code, out = run(capsys, "transform", "--full", "--format", "json")
    (report,) = orjson.loads(out)
    assert (report["mode"], report["events"], report["watermark"]) == ("full", 43, 43)


def test_unknown_format_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REVOPS_WAREHOUSE__URL", f"duckdb:///{tmp_path}/w.duckdb")
    assert run(capsys, "transform", "--format", "xml")[0] == 2


def test_revenue_settings_reject_unknown_keys():
    assert (
        revenue_settings(Settings(data={"revenue": {"account_key": "acct"}})).account_key == "acct"
    )
    with pytest.raises(ConfigError, match="revenue"):
        revenue_settings(Settings(data={"revenue": {"opportunity_kee": "x"}}))
