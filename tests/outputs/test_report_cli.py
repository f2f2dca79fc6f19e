"""``revops report``: exit code 0 when delivered, 1 when a destination did not get it."""

from __future__ import annotations

import json
import socket

import pytest
import report_marts as marts

from revops.cli import main
from revops.warehouse import connect, ensure_schema


def _config(tmp_path, warehouse_url: str, destinations: list[str]) -> str:
    lines = [
        "[warehouse]",
        f'url = "{warehouse_url}"',
        "[reports]",
        f'local_dir = "{tmp_path / "out"}"',
        f"destinations = {json.dumps(destinations)}",
        "retries = 1",
        "retry_base_seconds = 0.01",
        f's3_endpoint_url = "http://127.0.0.1:{_closed_port()}"',
        "[reports.storage_options.config_kwargs]",
        "connect_timeout = 2",
        "retries = { max_attempts = 1 }",
    ]
    path = tmp_path / "revops.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def filled_url(tmp_path):
    warehouse_url = f"duckdb:///{tmp_path}/cli.duckdb"
    wh = connect(warehouse_url)
    ensure_schema(wh)
    marts.insert_all(wh)
    wh.close()
    return warehouse_url


def _run(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_report_delivered_exits_0(filled_url, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("REVOPS_SLACK__WEBHOOK_URL", raising=False)
    config = _config(tmp_path, filled_url, [str(tmp_path / "share")])
    code, out, _ = _run(
        ["--config", config, "report", "--date", "2026-11-16", "--notify", "--format", "json"],
        capsys,
    )
    assert code == 0
    result = json.loads(out)
    assert result["delivery"]["ok"] is True
    assert result["report"]["text"].endswith("marketing_report_2026-11-16.txt")
    assert (tmp_path / "share/reports/daily/2026/11/marketing_report_2026-11-16.txt").exists()
    wh = connect(filled_url)
    queued = wh.query("SELECT key, status FROM revops.notifications_outbox")
    wh.close()
    assert queued == [{"key": "report-2026-11-16:completion", "status": "pending"}]


def test_undelivered_report_exits_1_and_stays_local(filled_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    config = _config(tmp_path, filled_url, ["s3://lake/marketing"])
    code, out, err = _run(["--config", config, "report", "--date", "2026-11-16"], capsys)
    assert code == 1
    assert "FAILED s3://lake/marketing after 2 attempts" in out
    assert "was not delivered to s3://lake/marketing" in err
    assert (tmp_path / "out/data/kpi/2026/11/channel_kpi_2026-11-16.csv").exists()


def test_bad_date_is_a_usage_error(tmp_path, capsys):
    code, _, err = _run(["report", "--date", "16/11/2026"], capsys)
    assert code == 2 and "YYYY-MM-DD" in err
