"""Results of a check run: rows of ``dq_results`` and the report the CLI and pipeline read."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from revops.quality.suite_spec import ExpectationSpec
    from revops.quality.validation import SuiteOutcome
    from revops.warehouse.base import Warehouse

DQ_COLUMNS = (
    "run_id",
    "suite",
    "expectation",
    "column",
    "severity",
    "success",
    "observed_value",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_sample",
    "checked_at",
    "kwargs",
    "rows_checked",
    "rows_total",
    "error",
)
PASS, FAIL = "✅ PASS", "❌ FAIL"
_MAX_TEXT = 2000


def _json(value: Any) -> str | None:
    if value is None:
        return None
    text = orjson.dumps(
        _finite(value), option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str
    ).decode()
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _finite(value: Any) -> Any:
    """NaN (pandas' missing value) as None, decimals as numbers, tuples as lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def result_row(
    run_id: str, outcome: SuiteOutcome, spec: ExpectationSpec, checked_at: datetime
) -> dict[str, Any]:
    """One ``dq_results`` row for one expectation of one run."""
    gx_result = outcome.results.get(spec.index)
    result: dict[str, Any] = dict(gx_result.result or {}) if gx_result is not None else {}
    error = None
    if gx_result is None:
        error = "Great Expectations returned no result for this expectation"
    else:
        error = _exception_message(gx_result.exception_info)
    count = result.get("unexpected_count")
    percent = result.get("unexpected_percent")
    return {
        "run_id": run_id,
        "suite": outcome.suite.name,
        "expectation": spec.type,
        "column": spec.column_label,
        "severity": spec.severity,
        "success": bool(gx_result is not None and gx_result.success),
        "observed_value": _json(result.get("observed_value")),
        "unexpected_count": None if count is None else int(count),
        "unexpected_percent": None if percent is None else float(percent),
        "unexpected_sample": _json(result.get("partial_unexpected_list")),
        "checked_at": checked_at,
        "kwargs": _json(spec.kwargs),
        "rows_checked": outcome.rows_checked,
        "rows_total": outcome.rows_total,
        "error": error,
    }


def _exception_message(info: Any) -> str | None:
    """GX's error text: ``exception_info`` is one record, or one per failed metric."""
    if not isinstance(info, dict) or not info:
        return None
    records = (
        [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    )
    messages = [str(r.get("exception_message") or "") for r in records if r.get("raised_exception")]
    text = "; ".join(dict.fromkeys(m for m in messages if m))
    return text[:_MAX_TEXT] if text else None


def store_rows(wh: Warehouse, rows: Sequence[dict[str, Any]]) -> None:
    """Append the rows to ``dq_results`` (one bulk insert)."""
    if rows:
        wh.insert_rows(
            "revops.dq_results", DQ_COLUMNS, [tuple(r[c] for c in DQ_COLUMNS) for r in rows]
        )


@dataclass(frozen=True)
class SuiteSummary:
    """Pass/fail counts of one suite in one run."""

    suite: str
    passed: int
    total: int
    rows_checked: int
    rows_total: int

    @property
    def success(self) -> bool:
        """True when every expectation passed."""
        return self.passed == self.total

    def line(self) -> str:
        """``ads: ✅ PASS (9/9)``, the seed's summary line (plus the sample when sampled)."""
        text = f"{self.suite}: {PASS if self.success else FAIL} ({self.passed}/{self.total})"
        if self.rows_checked < self.rows_total:
            text += f" · sampled {self.rows_checked:,} of {self.rows_total:,} rows"
        return text


@dataclass
class CheckReport:
    """What one check run found. ``results`` are the rows as stored in ``dq_results``."""

    run_id: str
    results: list[dict[str, Any]] = field(default_factory=list)
    data_docs: Path | None = None

    @property
    def suites(self) -> list[SuiteSummary]:
        """One summary per suite, in run order."""
        order: dict[str, list[dict[str, Any]]] = {}
        for row in self.results:
            order.setdefault(row["suite"], []).append(row)
        return [
            SuiteSummary(
                name,
                sum(r["success"] for r in rows),
                len(rows),
                rows[0]["rows_checked"],
                rows[0]["rows_total"],
            )
            for name, rows in order.items()
        ]

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Rows of the expectations that failed."""
        return [r for r in self.results if not r["success"]]

    @property
    def blocked(self) -> bool:
        """True when an expectation of severity ``block`` failed."""
        return any(r["severity"] == "block" for r in self.failures)

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """Rows of failed expectations of severity ``warn``."""
        return [r for r in self.failures if r["severity"] == "warn"]

    @property
    def success(self) -> bool:
        """True when every expectation passed."""
        return not self.failures

    def raise_if_blocked(self) -> None:
        """Raise :class:`~revops.errors.DataQualityError` (exit code 3) when :attr:`blocked`."""
        if not self.blocked:
            return
        from revops.errors import DataQualityError

        failed = sorted({r["suite"] for r in self.failures if r["severity"] == "block"})
        raise DataQualityError(
            "a blocking data-quality check failed: " + ", ".join(failed),
            input=self.run_id,
            where="dq_results",
            hint=f"see SELECT * FROM revops.dq_results WHERE run_id = '{self.run_id}' "
            "AND NOT success; fix the data and run again",
        )

    def summary(self) -> list[str]:
        """The seed's summary, one line per suite (``ads: ✅ PASS (9/9)``)."""
        return [s.line() for s in self.suites]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view: run id, blocked, per-suite counts, every result row."""
        return {
            "run_id": self.run_id,
            "blocked": self.blocked,
            "success": self.success,
            "data_docs": str(self.data_docs) if self.data_docs else None,
            "suites": [
                {
                    "suite": s.suite,
                    "success": s.success,
                    "passed": s.passed,
                    "total": s.total,
                    "rows_checked": s.rows_checked,
                    "rows_total": s.rows_total,
                    "sampled": s.rows_checked < s.rows_total,
                }
                for s in self.suites
            ],
            "results": [
                {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
                for r in self.results
            ],
        }
