"""Task overrides for the Airflow ``dag.test()`` run: every task succeeds and passes a value
downstream; the notification checks what it received through XCom."""

from __future__ import annotations

from typing import Any

from revops.pipeline.daily import DAILY_TASKS, NOTIFY, REPORT
from revops.pipeline.graph import TaskContext


def ok(ctx: TaskContext) -> dict[str, Any]:
    return {"task": ctx.task_id, "day": ctx.day.isoformat() if ctx.day else None}


def notify(ctx: TaskContext) -> dict[str, Any]:
    report = ctx.upstream(REPORT)
    if report != {"task": REPORT, "day": ctx.day.isoformat() if ctx.day else None}:
        raise AssertionError(f"the report's XCom did not arrive: {report!r}")
    return {"notified": True}


TASKS = {spec.task_id: ok for spec in DAILY_TASKS} | {NOTIFY: notify}
