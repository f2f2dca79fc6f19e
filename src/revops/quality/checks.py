"""``run_checks``: load the suites, check them against the warehouse, validate, store, notify."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from revops.audit import audit
from revops.errors import UsageError
from revops.outputs.outbox import enqueue
from revops.quality.batches import data_columns
from revops.quality.results import CheckReport, result_row, store_rows
from revops.quality.settings import quality_settings, reports_dir
from revops.quality.suite_spec import Suite, check_columns, load_suites

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.quality.validation import SuiteOutcome
    from revops.warehouse.base import Warehouse

NOTIFY_KIND = "dq_warning"
_SLACK_TEXT_LIMIT = 2900  # a Slack section holds 3,000 characters


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id: ``dq-<UTC time>-<random>``."""
    now = now or datetime.now(UTC)
    return f"dq-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_checks(
    wh: Warehouse,
    settings: Settings,
    suites: Iterable[str] | str | None = None,
    *,
    day: date | str | None = None,
    run_id: str | None = None,
) -> CheckReport:
    """Validate the named suites (all when None) and record what was found.

    Every suite file and every column it names is checked before any data is read (a
    :class:`~revops.errors.ConfigError` names the file, line and alternatives). Then each
    suite runs with Great Expectations; the rows go to ``dq_results`` and an audit row per
    suite is written, in one transaction; Data Docs are rendered into
    ``<reports>/quality/<run_id>/``; and when a ``warn`` expectation failed one Slack
    notification is queued under the key ``<run_id>:dq_warning`` (at most once per run id).
    The caller decides what a block means: see :attr:`CheckReport.blocked`.
    """
    cfg = quality_settings(settings)
    run_id = run_id or new_run_id()
    day = _as_date(day)
    names = [suites] if isinstance(suites, str) else (list(suites) if suites else None)
    try:
        loaded = load_suites(names, suites_dir=cfg.suites_dir)
        for suite in loaded:
            check_columns(suite, data_columns(wh, suite))
        outcomes, docs = _validate(wh, settings, loaded, day, run_id)
    except Exception as exc:
        audit(
            wh,
            "quality",
            "check",
            "error",
            request_id=run_id,
            detail={"suites": names, "error": str(exc)[:500]},
        )
        raise
    checked_at = datetime.now(UTC)
    report = CheckReport(
        run_id,
        [
            result_row(run_id, o, spec, checked_at)
            for o in outcomes
            for spec in o.suite.expectations
        ],
        docs,
    )
    with wh.transaction():
        store_rows(wh, report.results)
        for summary in report.suites:
            failed = [
                r["expectation"] + (f"({r['column']})" if r["column"] else "")
                for r in report.failures
                if r["suite"] == summary.suite
            ]
            audit(
                wh,
                f"quality:{summary.suite}",
                "check",
                "passed" if summary.success else "failed",
                request_id=run_id,
                detail={
                    "passed": summary.passed,
                    "total": summary.total,
                    "failed": failed,
                    "rows_checked": summary.rows_checked,
                    "rows_total": summary.rows_total,
                    "day": day.isoformat() if day else None,
                },
            )
        if report.warnings:
            enqueue(
                wh,
                key=f"{run_id}:{NOTIFY_KIND}",
                channel="slack",
                kind=NOTIFY_KIND,
                payload=warning_message(report, day),
            )
    return report


def _validate(
    wh: Warehouse, settings: Settings, loaded: list[Suite], day: date | None, run_id: str
) -> tuple[list[SuiteOutcome], Any]:
    from revops.quality.validation import GxSession

    cfg = quality_settings(settings)
    docs_dir = reports_dir(settings) / "quality" / run_id if cfg.data_docs else None
    session = GxSession(
        wh,
        password=settings.secret("warehouse", "password"),
        docs_dir=docs_dir,
        sample_rows=cfg.sample_rows,
        unexpected_sample=cfg.unexpected_sample,
    )
    try:
        for suite in loaded:
            session.check_supported(suite)
        outcomes = [session.validate(s, day=day, run_name=run_id) for s in loaded]
        return outcomes, session.build_docs()
    finally:
        session.close()


def warning_message(report: CheckReport, day: date | None = None) -> dict[str, Any]:
    """The Slack payload (``text`` + ``blocks``) telling the team what failed."""
    title = f":warning: Data-quality checks found problems (run {report.run_id}"
    title += f", {day.isoformat()})" if day else ")"
    lines = [*report.summary()]
    for row in report.failures:
        where = f"({row['column']})" if row["column"] else ""
        detail = row["error"] or (
            f"{row['unexpected_count']} unexpected"
            if row["unexpected_count"] is not None
            else f"observed {row['observed_value']}"
        )
        lines.append(f"• [{row['severity']}] {row['suite']}: {row['expectation']}{where}: {detail}")
    body = "\n".join(lines)
    if len(body) > _SLACK_TEXT_LIMIT:
        body = body[: _SLACK_TEXT_LIMIT - 1] + "…"
    text = f"{title}\n{body}"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body}},
        ],
    }


def _as_date(day: date | str | None) -> date | None:
    if day is None or isinstance(day, date):
        return day
    try:
        return date.fromisoformat(day)
    except ValueError as exc:
        raise UsageError(f"not a date: {day!r}", input=day, hint="use YYYY-MM-DD") from exc
