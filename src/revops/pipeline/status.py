"""``revops status``: is the pipeline healthy, and are the seed's withdrawal criteria met?

Sections: freshness per source and type (the seed's delay query over the last day), failures
in the audit table, the last runs and the tasks of the latest one, dead letters, the
notification backlog, and the criteria — Won→Paid visible within 15 minutes on average,
duplicate and missing rates below 0.1 % — each met / not met with its figure. A criterion with
nothing to measure (no events in the last day) is "no data" and does not fail the status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from revops.outputs.outbox import backlog
from revops.pipeline import history
from revops.pipeline import status_sql as sql

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

WINDOW = timedelta(days=1)
WON_TO_PAID_TARGET_S = 15 * 60
RATE_TARGET = 0.001
REVENUE_WATERMARK = "revenue.raw_seq"


@dataclass(frozen=True)
class Criterion:
    """One withdrawal criterion: its figure against its target; ``met`` None means no data."""

    name: str
    target: str
    figure: float | None
    display: str
    met: bool | None
    basis: str

    def row(self) -> dict[str, Any]:
        """A row for rendering."""
        state = {True: "met", False: "NOT MET", None: "no data"}[self.met]
        return {
            "criterion": self.name,
            "target": self.target,
            "figure": self.display,
            "status": state,
            "basis": self.basis,
        }


@dataclass
class StatusReport:
    """Every section of the status; ``exit_code`` is 1 when a criterion is not met."""

    generated_at: datetime
    freshness: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    last_run_tasks: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    notifications: dict[str, int] = field(default_factory=dict)
    criteria: list[Criterion] = field(default_factory=list)
    redeliveries: int = 0

    @property
    def exit_code(self) -> int:
        """1 when any criterion is not met, else 0."""
        return 1 if any(c.met is False for c in self.criteria) else 0

    def sections(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Titled row lists, in display order."""
        return [
            ("withdrawal criteria", [c.row() for c in self.criteria]),
            ("freshness (events landed in the last day)", self.freshness),
            ("failures in the audit (last day)", self.failures),
            ("last runs", self.runs),
            ("tasks of the last run", self.last_run_tasks),
            ("dead letters (not replayed)", self.dead_letters),
            (
                "notification backlog",
                [{"status": k, "messages": v} for k, v in self.notifications.items()],
            ),
        ]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready document."""
        return {
            "generated_at": self.generated_at,
            "exit_code": self.exit_code,
            "criteria": [{**c.row(), "value": c.figure, "met": c.met} for c in self.criteria],
            "freshness": self.freshness,
            "failures": self.failures,
            "runs": self.runs,
            "last_run_tasks": self.last_run_tasks,
            "dead_letters": self.dead_letters,
            "notifications": self.notifications,
            "redeliveries_absorbed": self.redeliveries,
        }


def collect_status(
    wh: Warehouse, settings: Settings | None = None, *, now: datetime | None = None, runs: int = 10
) -> StatusReport:
    """Read every status section from the warehouse (read-only)."""
    now = now or datetime.now(UTC)
    since = now - WINDOW
    report = StatusReport(generated_at=now)
    report.freshness = [_freshness_row(r) for r in wh.query(sql.FRESHNESS, (since,))]
    report.failures = wh.query(sql.FAILURES, (since,))
    report.runs = history.last_runs(wh, runs)
    if report.runs:
        report.last_run_tasks = history.run_tasks(wh, report.runs[0]["run_id"])
    report.dead_letters = wh.query(sql.DEAD_LETTERS)
    report.notifications = backlog(wh)
    report.redeliveries = _redeliveries(wh, since)
    report.criteria = [_won_to_paid(wh, since, now), _duplicates(wh, since), _missing(wh, since)]
    return report


def _freshness_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "avg_delay_s": _round(row["avg_delay_s"]),
        "max_delay_s": _round(row["max_delay_s"]),
    }


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _won_to_paid(wh: Warehouse, since: datetime, now: datetime) -> Criterion:
    row = wh.query(sql.WON_TO_PAID_VISIBILITY, (REVENUE_WATERMARK, since, now))[0]
    n = int(row["n"] or 0)
    name, target = "Won→Paid visible (average delay)", "≤ 15 min"
    if n == 0:
        return Criterion(
            name,
            target,
            None,
            "no events",
            None,
            "opportunity and invoice-paid events landed in the last day",
        )
    avg = float(row["avg_s"])
    return Criterion(
        name,
        target,
        avg,
        f"{avg / 60:.1f} min",
        avg <= WON_TO_PAID_TARGET_S,
        f"{n} opportunity / invoice-paid events of the last day, receipt (inserted_at) to "
        "the first revenue transform after landing",
    )


def _rate(name: str, bad: int, total: int, basis: str) -> Criterion:
    target = "< 0.1 %"
    if total == 0:
        return Criterion(name, target, None, "no events", None, basis)
    rate = bad / total
    return Criterion(
        name, target, rate, f"{rate * 100:.3f} % ({bad} of {total})", rate < RATE_TARGET, basis
    )


def _duplicates(wh: Warehouse, since: datetime) -> Criterion:
    row = wh.query(sql.DUPLICATES, (since,))[0]
    total = int(row["n"] or 0)
    return _rate(
        "duplicate rate",
        total - int(row["distinct_n"] or 0),
        total,
        "rows landed in the last day repeating another row's source, type and "
        "payload under a different event_id",
    )


def _missing(wh: Warehouse, since: datetime) -> Criterion:
    row = wh.query(sql.MISSING, (since, since))[0]
    landed, dead = int(row["landed"] or 0), int(row["dead"] or 0)
    return _rate(
        "missing rate",
        dead,
        landed + dead,
        "received in the last day but not in raw (dead letters not replayed)",
    )


def _redeliveries(wh: Warehouse, since: datetime) -> int:
    total = 0
    for r in wh.query(sql.REDELIVERIES, (since,)):
        try:
            detail = orjson.loads(r["detail"] or "{}")
        except orjson.JSONDecodeError:
            continue
        value = detail.get("duplicates", 0) if isinstance(detail, dict) else 0
        total += int(value) if isinstance(value, int | float | Decimal) else 0
    return total
