"""Rollback: rebuild facts and marts as they were at a past moment, from the raw rows
inserted up to then — no warehouse time travel needed, so it works on every engine.

The rebuild (the transform's ``run_transform(full=True, as_of=…)``) runs inside one
transaction; the tables are compared before and after, so ``--dry-run`` shows exactly what
would change and then rolls everything back. The audit records who did it and what changed.
The comparison holds each table in memory: fine for facts and marts of millions of rows,
not for billions.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from revops.audit import audit, default_actor
from revops.pipeline import history
from revops.pipeline.lock import pipeline_lock
from revops.pipeline.runner import summarize

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

PIPELINE = "rollback"
#: What a rollback rebuilds and compares: revenue staging, facts and marts derived from raw.
ROLLBACK_TABLES: tuple[str, ...] = (
    "stg_opportunity",
    "stg_invoice",
    "fact_opportunity",
    "fact_billing",
    "fact_customer",
    "fact_price",
    "id_mappings",
    "cdc_refetch",
    "won_invoice_link",
    "mart_won_to_paid",
    "mart_collections",
    "mart_nrr_monthly",
)
SAMPLE = 5
Transform = Callable[..., Any]


@dataclass
class TableChange:
    """Rows of one table before and after, and how many were added or removed (a changed
    row counts once in each)."""

    table: str
    rows_before: int
    rows_after: int
    added: int
    removed: int
    sample_added: list[dict[str, Any]] = field(default_factory=list)
    sample_removed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the table differs."""
        return bool(self.added or self.removed)


@dataclass
class RollbackResult:
    """What the rollback changed (or would change, for a dry run)."""

    run_id: str
    as_of: datetime
    dry_run: bool
    actor: str
    changes: list[TableChange]
    transform: Any = None

    @property
    def applied(self) -> bool:
        """True when the rebuilt tables were committed."""
        return not self.dry_run

    def rows(self) -> list[dict[str, Any]]:
        """One row per table, for a table rendering."""
        return [
            {
                "table": c.table,
                "rows_before": c.rows_before,
                "rows_after": c.rows_after,
                "added": c.added,
                "removed": c.removed,
            }
            for c in self.changes
        ]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary with a few sample rows per changed table."""
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "applied": self.applied,
            "actor": self.actor,
            "tables": [
                {**r, "sample_added": c.sample_added, "sample_removed": c.sample_removed}
                for r, c in zip(self.rows(), self.changes, strict=True)
            ],
        }


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def rollback(
    settings: Settings,
    *,
    as_of: datetime,
    dry_run: bool = False,
    wh: Warehouse | None = None,
    actor: str | None = None,
    transform: Transform | None = None,
    tables: Sequence[str] = ROLLBACK_TABLES,
) -> RollbackResult:
    """Rebuild ``tables`` as of ``as_of`` (timezone-aware) in one transaction and report the
    difference; a dry run rolls back. Holds the pipeline lock; audited with ``actor``.

    Raw rows inserted after ``as_of`` stay in raw: the next incremental transform applies them
    again unless the cause is fixed first.
    """
    actor = actor or default_actor()
    run_id = f"{PIPELINE}-{as_of:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    with pipeline_lock(settings, run_id, PIPELINE):
        own = wh is None
        if own:
            from revops.warehouse import open_warehouse

            wh = open_warehouse(settings)
        assert wh is not None
        try:
            history.abandon_stale_runs(wh)
            return _rollback(
                settings,
                wh,
                run_id,
                as_of,
                dry_run,
                actor,
                transform or _default_transform(),
                tables,
            )
        finally:
            if own:
                wh.close()


def _default_transform() -> Transform:
    from revops.transform import run_transform

    return run_transform


def _rollback(
    settings: Settings,
    wh: Warehouse,
    run_id: str,
    as_of: datetime,
    dry_run: bool,
    actor: str,
    transform: Transform,
    tables: Sequence[str],
) -> RollbackResult:
    history.start_run(
        wh,
        run_id,
        PIPELINE,
        None,
        trigger="cli",
        actor=actor,
        detail={"as_of": as_of, "dry_run": dry_run},
    )
    present = _existing_tables(wh, tables)
    changes: list[TableChange] = []
    report: Any = None
    try:
        with wh.transaction():
            before = {t: _snapshot(wh, t) for t in present}
            report = transform(wh, settings, full=True, as_of=as_of)
            changes = [_diff(t, before[t], _snapshot(wh, t)) for t in present]
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        history.finish_run(wh, run_id, "failed", error)
        audit(
            wh,
            "pipeline:rollback",
            "rollback",
            "failed",
            actor=actor,
            request_id=run_id,
            detail={"as_of": as_of, "dry_run": dry_run, "error": error},
        )
        raise
    result = RollbackResult(run_id, as_of, dry_run, actor, changes, report)
    summary = {
        "as_of": as_of,
        "dry_run": dry_run,
        "tables": result.rows(),
        "transform": summarize(report),
    }
    history.finish_run(wh, run_id, "success", detail=summary)
    audit(
        wh,
        "pipeline:rollback",
        "rollback",
        "dry_run" if dry_run else "ok",
        actor=actor,
        request_id=run_id,
        detail=summary,
    )
    return result


def _existing_tables(wh: Warehouse, tables: Sequence[str]) -> list[str]:
    rows = wh.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'revops'"
    )
    names = {r["table_name"] for r in rows}
    return [t for t in tables if t in names]


def _snapshot(wh: Warehouse, table: str) -> Counter[tuple[tuple[str, Any], ...]]:
    rows = wh.query(f"SELECT * FROM revops.{table}")  # table names come from ROLLBACK_TABLES
    return Counter(tuple(r.items()) for r in rows)


def _diff(table: str, before: Counter[Any], after: Counter[Any]) -> TableChange:
    added = after - before
    removed = before - after
    return TableChange(
        table,
        sum(before.values()),
        sum(after.values()),
        sum(added.values()),
        sum(removed.values()),
        [_plain(dict(r)) for r in list(added)[:SAMPLE]],
        [_plain(dict(r)) for r in list(removed)[:SAMPLE]],
    )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | type(None)) else str(v)
        for k, v in row.items()
    }
