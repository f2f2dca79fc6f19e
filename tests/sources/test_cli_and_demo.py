"""``revops extract …`` and the demo sources end to end (ads API + SQLite CRM + CSVs)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revops.cli import app, main
from revops.config import Settings
from revops.dev.ads_api import start_ads_api
from revops.dev.demo_sources import write_demo_sources
from revops.sources.ads import extract_ads
from revops.sources.crm import extract_crm
from revops.sources.sales import extract_sales

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sales"
END = date(2024, 3, 31)


def _run(args, env):
    return CliRunner().invoke(app, args, env=env, catch_exceptions=True)


def test_extract_sales_prints_counts(tmp_path):
    env = {
        "REVOPS_WAREHOUSE__URL": f"duckdb:///{tmp_path}/w.duckdb",
        "REVOPS_SALES__PATH": str(FIXTURES / "cp932"),
    }
    result = _run(["extract", "sales", "--month", "2024-01"], env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sales 2024-01: loaded 11  skipped 1  rejected 9 (")
    result = _run(["extract", "sales", "--month", "2024-01", "--format", "json"], env)
    assert json.loads(result.output)["reasons"]["negative_revenue"] == 2


def test_extract_errors_exit_with_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REVOPS_WAREHOUSE__URL", f"duckdb:///{tmp_path}/w.duckdb")
    monkeypatch.setenv("REVOPS_SALES__PATH", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["extract", "sales", "--month", "2024-01", "--encoding", "nope"])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("error: unknown encoding 'nope' for the sales CSV")
    with pytest.raises(SystemExit) as info:
        main(["extract", "sales", "--month", "2024-01"])
    err = capsys.readouterr().err
    assert info.value.code == 1 and "sales CSV for 2024-01 not found" in err
    with pytest.raises(SystemExit) as info:
        main(["extract", "crm"])
    assert info.value.code == 2 and "[crm] url" in capsys.readouterr().err


def test_extract_ads_and_crm_commands(tmp_path):
    base_url, stop = start_ads_api(seed=1, end=END, days=30)
    try:
        overrides = write_demo_sources(
            tmp_path / "demo", seed=1, end=END, days=30, ads_base_url=base_url
        )
        env = {
            "REVOPS_WAREHOUSE__URL": f"duckdb:///{tmp_path}/w.duckdb",
            "REVOPS_ADS__BASE_URL": base_url,
            "REVOPS_ADS__TOKEN_URL": overrides["ads"]["token_url"],
            "REVOPS_ADS__CLIENT_ID": overrides["ads"]["client_id"],
            "REVOPS_ADS__CHANNEL_MAP__IG-": "Instagram",
            "REVOPS_CRM__URL": overrides["crm"]["url"],
            **overrides["env"],
        }
        result = _run(["extract", "ads", "--date", "2024-03-30"], env)
        assert result.exit_code == 0, result.output
        assert result.output.startswith("ads 2024-03-30: loaded 120  skipped 0  rejected 0")
        result = _run(["extract", "ads", "--date", "2024-01-01"], env)
        assert result.exit_code == 1 and "no campaigns for 2024-01-01" in str(result.exception)
        assert _run(["extract", "ads", "--date", "2024-01-01", "--allow-empty"], env).exit_code == 0
        result = _run(["extract", "crm"], env)
        assert result.exit_code == 0 and "raw_crm_customers" in result.output
    finally:
        stop()


def test_demo_sources_line_up(wh, tmp_path):
    base_url, stop = start_ads_api(seed=5, end=END, days=30)
    try:
        overrides = write_demo_sources(
            tmp_path / "demo", seed=5, end=END, days=30, ads_base_url=base_url
        )
        data = {k: overrides[k] for k in ("ads", "crm", "sales")}
        settings = Settings(data=data, env=overrides["env"])
        for offset in range(3):
            extract_ads(wh, settings, END - timedelta(days=offset))
        extract_crm(wh, settings)
        report = extract_sales(wh, settings, day=END + timedelta(days=1))
        files = sorted(Path(f).name for f in overrides["files"])
        assert files == ["sales_2024-02.csv", "sales_2024-03.csv"]
        raw = (tmp_path / "demo" / "sales" / "sales_2024-02.csv").read_bytes()
        raw.decode("cp932")  # the earlier month is CP932
        assert report.slice == "2024-03" and report.inputs[0].endswith("(utf-8)")
        assert set(report.reasons) == {
            "missing_customer_id",
            "missing_revenue",
            "unreadable_revenue",
            "negative_revenue",
            "duplicate_order_id",
            "malformed_row",
            "missing_order_id",
            "unreadable_order_date",
        }
        report_feb = extract_sales(wh, settings, month="2024-02")
        assert report_feb.inputs[0].endswith("(cp932)") and report_feb.rejected == 8
        channels = {r["channel"] for r in wh.query("SELECT DISTINCT channel FROM revops.raw_ads")}
        assert channels == {"Google", "Facebook", "Instagram"}
        known = wh.query_value(
            "SELECT avg(CASE WHEN c.customer_id IS NULL THEN 0.0 ELSE 1.0 END) "
            "FROM revops.raw_sales_orders s LEFT JOIN revops.raw_crm_customers c "
            "USING (customer_id)"
        )
        assert 0.85 < float(known) < 0.99  # most sales name CRM customers, some do not
        sources = wh.query_value(
            "SELECT count(*) FROM revops.raw_crm_customers c JOIN "
            "(SELECT DISTINCT campaign_id FROM revops.raw_ads) a "
            "ON a.campaign_id = c.acquisition_source"
        )
        assert sources > 0  # paid customers name real campaigns
    finally:
        stop()


def test_dev_ads_api_command_serves_and_takes_faults_over_http():
    import os
    import subprocess
    import sys

    import httpx

    import revops

    env = {**os.environ, "PYTHONPATH": str(Path(revops.__file__).parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "revops", "dev", "ads-api", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("ads API on http://127.0.0.1:")
        base = first.split(" on ", 1)[1].strip()
        assert httpx.get(base + "/healthz", timeout=5).json() == {"ok": True}
        httpx.post(base + "/_dev/faults", json=[{"kind": "429", "retry_after": "3"}], timeout=5)
        headers = {"Authorization": "Bearer revops-demo-token"}
        answer = httpx.get(
            base + "/v1/reports", params={"date": "2024-01-01"}, headers=headers, timeout=5
        )
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "3"
        answer = httpx.get(
            base + "/v1/reports", params={"date": "2024-01-01"}, headers=headers, timeout=5
        )
        assert answer.status_code == 200 and len(answer.json()["campaigns"]) == 50
        assert httpx.get(base + "/_dev/stats", timeout=5).json()["statuses"] == [429, 200]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
