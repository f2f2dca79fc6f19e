"""The text report, the KPI CSV and the HTML file, on DuckDB and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
import report_marts as marts

from revops.errors import RevopsError
from revops.outputs.reports import render_report

EXPECTED_TEXT = """\
====================================================
マーケティング効果分析レポート
日付: 2026-11-16
期間: 2026-10-17 〜 2026-11-15
====================================================

【全体サマリー】
・総広告費: ¥2,450,000
・総売上: ¥8,230,000
・ROAS: 335.9%
・CAC: ¥4,083
・新規顧客数: 600人
・平均CVR: 3.73%
・最高ROASチャネル: Google (425.3%)

【チャネル別パフォーマンス】

Google:
  広告費: ¥1,200,000
  売上: ¥5,103,600
  ROAS: 425.3%
  CAC: ¥5,000
  CVR: 5.00%
  LTV/CAC: 3.00

Facebook:
  広告費: ¥900,000
  売上: ¥2,126,700
  ROAS: 236.3%
  CAC: ¥5,000
  CVR: 3.00%
  LTV/CAC: 2.00

Instagram:
  広告費: ¥350,000
  売上: ¥299,700
  ROAS: 85.6%
  CAC: ¥4,375
  CVR: 2.00%
  LTV/CAC: 1.60

Organic:
  広告費: ¥0
  売上: ¥700,000
  ROAS: —
  CAC: ¥0
  CVR: —
  LTV/CAC: —

====================================================
このレポートは自動生成されました。
====================================================
"""


def test_text_report_is_the_seeds_layout(filled, tmp_path):
    bundle = render_report(filled, marts.make_settings(tmp_path), marts.DAY, run_id=marts.RUN_ID)
    assert bundle.text_path == (
        tmp_path / "reports/reports/daily/2026/11/marketing_report_2026-11-16.txt"
    )
    assert bundle.text_path.read_text(encoding="utf-8") == EXPECTED_TEXT


def test_csv_has_one_unrounded_row_per_channel_sorted_by_roas(filled, tmp_path):
    bundle = render_report(filled, marts.make_settings(tmp_path), marts.DAY)
    assert bundle.csv_path == tmp_path / "reports/data/kpi/2026/11/channel_kpi_2026-11-16.csv"
    rows = list(csv.DictReader(io.StringIO(bundle.csv_path.read_text(encoding="utf-8"))))
    assert [r["channel"] for r in rows] == ["Google", "Facebook", "Instagram", "Organic"]
    instagram = rows[2]
    assert instagram["date"] == "2026-11-15"
    assert instagram["period_start"] == "2026-10-17"
    assert instagram["ad_cost"] == "350000"
    assert float(instagram["roas"]) == pytest.approx(299_700 / 350_000 * 100, rel=1e-12)
    organic = rows[3]
    assert (organic["roas"], organic["cvr"], organic["ltv_cac_ratio"]) == ("", "", "")
    assert organic["cac"] in ("0.0", "0")


def test_html_is_self_contained(filled, tmp_path):
    bundle = render_report(filled, marts.make_settings(tmp_path), marts.DAY, run_id=marts.RUN_ID)
    html = bundle.html_path.read_text(encoding="utf-8")
    assert bundle.html_path.parent == bundle.text_path.parent
    assert "<script" not in html.lower()
    assert "@font-face" not in html and "@import" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "external reference"
    images = re.findall(r'<img [^>]*data-chart="(\w+)"[^>]*src="data:image/png;base64,', html)
    assert sorted(images) == ["cac", "collections", "latency", "nrr", "roas", "spend"]


def test_rerender_overwrites_with_identical_bytes(filled, tmp_path):
    settings = marts.make_settings(tmp_path)
    first = render_report(filled, settings, marts.DAY, run_id=marts.RUN_ID)
    before = [p.read_bytes() for _, _, p in first.files()]
    second = render_report(filled, settings, marts.DAY, run_id=marts.RUN_ID)
    assert [p.read_bytes() for _, _, p in second.files()] == before
    files = sorted(
        p.relative_to(tmp_path) for p in (tmp_path / "reports").rglob("*") if p.is_file()
    )
    assert len(files) == 3


def test_missing_marts_is_a_clear_error_and_audited(wh, tmp_path):
    with pytest.raises(RevopsError) as err:
        render_report(wh, marts.make_settings(tmp_path), date(2026, 11, 16))
    assert "2026-11-15" in str(err.value) and "revops kpi --date 2026-11-16" in str(err.value)
    status = wh.query_value("SELECT status FROM revops.audit_events WHERE action = 'render'")
    assert status == "failed"


def test_empty_revenue_marts_render_with_no_data_notes(wh, tmp_path):
    marts.insert_marketing(wh)
    bundle = render_report(wh, marts.make_settings(tmp_path), marts.DAY)
    html = bundle.html_path.read_text(encoding="utf-8")
    for chart in ("latency", "collections", "nrr"):
        assert f'data-chart="{chart}">データなし' in html or f'data-chart="{chart}"' not in html
    assert "この実行の品質チェック結果はありません" in html
    assert 'data-figure="dq_status" data-value="unchecked"' in html
