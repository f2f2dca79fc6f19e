"""Block Kit builders and figure formatting (no warehouse needed)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from revops.outputs.reports.formatting import money, pct, ratio_pct, roas_tier, yen
from revops.outputs.slack_messages import completion_message, failure_message


@pytest.mark.parametrize(
    ("roas", "emoji", "comment"),
    [
        (300.0, "🚀", "素晴らしい!"),
        (425.3, "🚀", "素晴らしい!"),
        (299.99, "📈", "好調です"),
        (200, "📈", "好調です"),
        (199.9, "👌", "採算ライン"),
        (100, "👌", "採算ライン"),
        (99.99, "⚠️", "要改善"),
        (0, "⚠️", "要改善"),
        (None, "➖", "広告費なし"),
    ],
)
def test_roas_tiers_are_the_seeds(roas, emoji, comment):
    tier = roas_tier(roas)
    assert (tier.emoji, tier.comment) == (emoji, comment)
    message = completion_message(date(2026, 11, 16), {"overall_roas": roas}, dq_passed=True)
    assert f"{emoji} {comment}" in message["text"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("2450000.000000"), "¥2,450,000"),
        (4083.333, "¥4,083"),
        (0.5, "¥1"),
        (Decimal("-1500.5"), "-¥1,501"),
        (None, "—"),
        (-0.2, "¥0"),
    ],
)
def test_yen_rounds_half_up_with_separators(value, text):
    assert yen(value) == text


def test_other_figures():
    assert pct(335.918367) == "335.9%"
    assert pct(298 / 8000 * 100, 2) == "3.73%"  # 3.7249999… is 3.725 to a person
    assert ratio_pct(1.05) == "105.0%"
    assert money(Decimal("1234.5"), "USD") == "$1,234.50"
    assert money(Decimal("1200000"), "JPY") == "¥1,200,000"
    assert money(12, "SEK") == "12.00 SEK"


def test_completion_message_is_valid_block_kit():
    summary = {
        "total_ad_cost": Decimal(2_450_000),
        "total_revenue": Decimal(8_230_000),
        "overall_roas": 335.9,
        "overall_cac": 4083.3,
        "total_customers": 600,
        "best_channel": "Google",
        "best_channel_roas": 425.3,
    }
    message = completion_message(
        date(2026, 11, 16), summary, dq_passed=None, files=["a", "b"], run_id="r1"
    )
    types = [b["type"] for b in message["blocks"]]
    assert types == ["header", "context", "divider", "section", "section", "section", "divider"]
    assert message["blocks"][0]["text"]["type"] == "plain_text"
    assert "❔ 品質チェック結果なし" in message["text"]
    assert "2ファイルを配信済み" in message["text"]
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in message["blocks"])


def test_failure_message_truncates_long_errors():
    message = failure_message("r1", "render_report", "x" * 10_000)
    assert len(message["blocks"][1]["text"]["text"]) < 3000
    assert "`render_report`" in message["blocks"][1]["text"]["text"]
