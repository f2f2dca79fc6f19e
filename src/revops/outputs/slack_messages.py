"""Slack messages (Block Kit) for the daily run: completion, data-quality warning, failure.

Each builder returns ``{"text": fallback, "blocks": [...]}``, the payload the outbox's Slack
sender posts. ``text`` is the seed's message in plain text (shown in notifications and by
clients without blocks). Nothing here sends: messages go through ``notifications_outbox``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from revops.outputs.reports.formatting import count, pct, roas_tier, yen

RULE = "━━━━━━━━━━━━━━━━━━━━━━━━"
MAX_ERROR_CHARS = 1500
_URL_CREDENTIALS = re.compile(r"(://)[^/\s:@]+:[^/\s@]+@")


def _redact(text: str) -> str:
    # Errors may quote a URL with user:password in it; never forward that to Slack.
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def _section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown[:2900]}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:2900]}]}


def quality_line(dq_passed: bool | None, failed_suites: Sequence[str] = ()) -> str:
    """The seed's quality status line (plus the failing suites when known)."""
    if dq_passed is None:
        return "❔ 品質チェック結果なし"
    if dq_passed:
        return "✅ 全データ品質OK"
    suffix = f" ({', '.join(failed_suites)})" if failed_suites else ""
    return "⚠️ 一部のデータに品質問題あり" + suffix


def completion_message(
    day: date,
    summary: Mapping[str, Any],
    *,
    dq_passed: bool | None,
    failed_suites: Sequence[str] = (),
    files: Sequence[str] = (),
    undelivered: Sequence[str] = (),
    run_id: str | None = None,
) -> dict[str, Any]:
    """The seed's completion message: KPIs, ROAS tier, data-quality status, files delivered.

    ``summary`` is a ``mart_daily_summary`` row; ``files`` the URLs delivered and
    ``undelivered`` the destinations that failed (with their reason).
    """
    roas = summary.get("overall_roas")
    tier = roas_tier(roas)
    best = summary.get("best_channel")
    best_text = f"*{best}* ({pct(summary.get('best_channel_roas'))})" if best else "—"
    kpis = "\n".join(
        [
            f"• 総広告費: {yen(summary.get('total_ad_cost'))}",
            f"• 総売上: {yen(summary.get('total_revenue'))}",
            f"• ROAS: {pct(roas)} {tier.emoji} {tier.comment}",
            f"• CAC: {yen(summary.get('overall_cac'))}",
            f"• 新規顧客: {count(summary.get('total_customers'), '人')}",
            f"• 最高ROASチャネル: {best_text}",
        ]
    )
    quality = quality_line(dq_passed, failed_suites)
    files_text = f"{len(files)}ファイルを配信済み" + "".join(f"\n• `{f}`" for f in files[:10])
    if undelivered:
        files_text += "\n⚠️ 未配信:" + "".join(f"\n• {u}" for u in undelivered[:10])
    title = "📊 マーケティングデータ統合パイプライン完了"
    run = f" ・ 実行ID: `{run_id}`" if run_id else ""
    text = "\n".join(
        [
            f"{title}",
            f"実行日: {day.isoformat()}",
            RULE,
            "📊 マーケティングKPI",
            kpis,
            "",
            "✅ データ品質",
            quality,
            "",
            "📁 レポート",
            files_text,
            RULE,
        ]
    )
    blocks = [
        _header(title),
        _context(f"*実行日:* {day.isoformat()}{run}"),
        {"type": "divider"},
        _section("*📊 マーケティングKPI*\n" + kpis),
        _section("*✅ データ品質*\n" + quality),
        _section("*📁 レポート*\n" + files_text),
        {"type": "divider"},
    ]
    return {"text": text, "blocks": blocks}


def failure_message(
    run_id: str, task: str, error: Any, *, day: date | None = None
) -> dict[str, Any]:
    """The seed's failure alert: the failed task and the error (credentials redacted)."""
    detail = _redact(str(error))[:MAX_ERROR_CHARS]
    title = "🚨 マーケティングパイプラインエラー"
    when = f"*実行日:* {day.isoformat()}\n" if day else ""
    body = f"{when}*実行ID:* `{run_id}`\n*失敗タスク:* `{task}`\n*エラー内容:*\n```{detail}```"
    text = (
        f"{title}\n"
        + (f"実行日: {day.isoformat()}\n" if day else "")
        + f"実行ID: {run_id}\n失敗タスク: {task}\nエラー内容: {detail}\n"
        "<!channel> 対応をお願いします。"
    )
    blocks = [_header(title), _section(body), _section("<!channel> 対応をお願いします。")]
    return {"text": text, "blocks": blocks}


def dq_warning_message(
    run_id: str,
    suites: Sequence[Mapping[str, Any]],
    failures: Sequence[Mapping[str, Any]] = (),
    *,
    day: date | None = None,
) -> dict[str, Any]:
    """Data-quality warning: each suite as ``name: ✅ PASS (9/9)`` and the failed checks.

    ``suites`` rows have ``suite``, ``expectations``, ``failed`` (and ``failed_block``);
    ``failures`` rows have ``suite``, ``expectation``, ``column``, ``severity``.
    """
    lines = []
    for s in suites:
        total, failed = int(s["expectations"]), int(s["failed"])
        mark = "✅ PASS" if failed == 0 else ("⛔ BLOCK" if s.get("failed_block") else "❌ FAIL")
        lines.append(f"{s['suite']}: {mark} ({total - failed}/{total})")
    failed_lines = [
        f"• {f['suite']}: {f['expectation']}"
        + (f" ({f['column']})" if f.get("column") else "")
        + f" [{f.get('severity', 'warn')}]"
        for f in failures[:15]
    ]
    title = "⚠️ データ品質チェックで問題が検出されました"
    when = f"実行日: {day.isoformat()} ・ " if day else ""
    summary = "```" + "\n".join(lines) + "```" if lines else "(結果なし)"
    text = "\n".join([title, f"{when}実行ID: {run_id}", *lines, *failed_lines])
    blocks = [_header(title), _context(f"{when}*実行ID:* `{run_id}`"), _section(summary)]
    if failed_lines:
        blocks.append(_section("*失敗したチェック*\n" + "\n".join(failed_lines)))
    return {"text": text, "blocks": blocks}
