"""Queue the run's Slack messages in ``notifications_outbox`` and try to send them.

Keys are ``<run_id>:completion``, ``<run_id>:failure`` and ``<run_id>:dq_warning``: at most
one message of each kind per run, however often the pipeline (or a retry of it) calls these.
When ``REVOPS_SLACK__WEBHOOK_URL`` is set the outbox is drained once at once; what fails stays
queued and is retried with backoff by later drains (``revops serve``, the next run, or
``revops notify resend``). None of these raise for a Slack failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from revops.outputs.outbox import deliver_pending, enqueue, slack_sender
from revops.outputs.reports.data import DqStatus, load_dq_status, period_end_for
from revops.outputs.reports.queries import DAILY_SUMMARY
from revops.outputs.slack_messages import completion_message, dq_warning_message, failure_message

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.outputs.delivery import DeliveryResult
    from revops.outputs.reports.bundle import ReportBundle
    from revops.warehouse.base import Warehouse

CHANNEL = "slack"


@dataclass(frozen=True)
class Notification:
    """The outbox state of one message after queueing (and a send attempt when configured)."""

    key: str
    queued: bool  # False when the key was already in the outbox
    status: str  # pending, retrying, sent or failed
    last_error: str | None = None

    @property
    def sent(self) -> bool:
        """True once the message has been delivered."""
        return self.status == "sent"


def _send(
    wh: Warehouse, settings: Settings, key: str, kind: str, payload: dict[str, Any]
) -> Notification:
    queued = enqueue(wh, key, CHANNEL, kind, payload)
    url = settings.secret("slack", "webhook_url")
    if url:
        deliver_pending(wh, {CHANNEL: slack_sender(url)})
    rows = wh.query(
        "SELECT status, last_error FROM revops.notifications_outbox WHERE key = ?", (key,)
    )
    row = rows[0] if rows else {"status": "pending", "last_error": None}
    return Notification(key, queued, str(row["status"]), row["last_error"])


def coerce_dq(wh: Warehouse, run_id: str, dq_status: Any) -> DqStatus:
    """A :class:`DqStatus` from what the caller has: one already, a bool, the seed's
    ``{source: {"passed", "expectations", "failed"}}`` mapping, or None (read dq_results)."""
    if isinstance(dq_status, DqStatus):
        return dq_status
    if dq_status is None:
        return load_dq_status(wh, run_id=run_id, before=datetime.now(UTC))
    if isinstance(dq_status, bool):
        return DqStatus(
            run_id,
            [
                {
                    "suite": "all",
                    "expectations": 1,
                    "failed": 0 if dq_status else 1,
                    "failed_block": 0,
                }
            ],
        )
    if isinstance(dq_status, Mapping):
        suites = []
        for name, result in dq_status.items():
            total = int(result.get("expectations", 1))
            failed = int(result.get("failed", 0 if result.get("passed", True) else 1))
            suites.append(
                {
                    "suite": name,
                    "expectations": total,
                    "failed": failed,
                    "failed_block": int(result.get("failed_block", 0)),
                }
            )
        return DqStatus(run_id, suites)
    raise TypeError(f"unsupported dq_status {type(dq_status).__name__}")


def notify_completion(
    wh: Warehouse,
    settings: Settings,
    run_id: str,
    day: date,
    bundle: ReportBundle | None,
    delivery: DeliveryResult | None,
    dq_status: Any = None,
) -> Notification:
    """Queue (once per run) the seed's completion message: KPIs, ROAS tier, quality status
    and the files delivered; send it when the Slack webhook is configured."""
    if bundle is not None and bundle.data is not None:
        summary = bundle.data.summary
    else:
        rows = wh.query(DAILY_SUMMARY, (period_end_for(day),))
        summary = rows[0] if rows else {}
    dq = coerce_dq(wh, run_id, dq_status)
    failed_suites = [str(s["suite"]) for s in dq.suites if int(s["failed"])]
    files = delivery.delivered_files if delivery is not None else []
    if delivery is not None and not delivery.outcomes:
        files = list(delivery.local)
    undelivered = (
        [f"{o.destination}: {o.reason}" for o in delivery.failed] if delivery is not None else []
    )
    payload = completion_message(
        day,
        summary,
        dq_passed=dq.passed if dq.checked else None,
        failed_suites=failed_suites,
        files=files,
        undelivered=undelivered,
        run_id=run_id,
    )
    return _send(wh, settings, f"{run_id}:completion", "completion", payload)


def notify_failure(
    wh: Warehouse,
    settings: Settings,
    run_id: str,
    task: str,
    error: Any,
    *,
    day: date | None = None,
) -> Notification:
    """Queue (once per run) an alert naming the failed task and its error; send it when the
    Slack webhook is configured."""
    payload = failure_message(run_id, task, error, day=day)
    return _send(wh, settings, f"{run_id}:failure", "failure", payload)


def notify_dq_warning(
    wh: Warehouse,
    settings: Settings,
    run_id: str,
    dq_status: Any = None,
    *,
    day: date | None = None,
) -> Notification | None:
    """Queue (once per run) a data-quality warning when a check failed; None when all passed."""
    dq = coerce_dq(wh, run_id, dq_status)
    if not dq.checked or dq.passed:
        return None
    payload = dq_warning_message(run_id, dq.suites, dq.failures, day=day)
    return _send(wh, settings, f"{run_id}:dq_warning", "dq_warning", payload)
