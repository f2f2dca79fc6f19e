"""The built-in runner: executes a pipeline graph with retries, timeouts and history.

Each attempt runs in its own daemon worker thread while the calling thread schedules, enforces
deadlines and writes ``pipeline_runs`` / ``task_runs`` (so history writes never race the tasks).

Timeouts, honestly: Python cannot kill a thread, and a process per task is not an option while
DuckDB lets only one process open the warehouse file. So a timed-out attempt is *cancelled*:
its :class:`~revops.pipeline.graph.TaskContext` is flagged (cooperative tasks stop at their next
``ctx.check()``) and the SQL statement it is running is interrupted (DuckDB ``interrupt()``,
PostgreSQL cancel). An attempt that stops within ``cancel_grace_s`` is recorded ``timed_out`` and
retried like any failure; one that does not is recorded ``timed_out``, left behind (its thread
is a daemon, so a CLI run still exits) and not retried, so two copies of a task never run at
once, and the run fails. Tasks write their slices in one transaction each, so a straggler
commits all of its slice or none of it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from revops import signals
from revops.audit import audit, default_actor
from revops.errors import (
    ConfigError,
    DataQualityError,
    TerminalSourceError,
    UsageError,
)
from revops.pipeline import history
from revops.pipeline.graph import Task, TaskContext, topological_order

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

log = logging.getLogger(__name__)

#: Failures that retrying cannot fix: they end the task at once.
NOT_RETRIED: tuple[type[BaseException], ...] = (
    DataQualityError,
    ConfigError,
    UsageError,
    TerminalSourceError,
    ImportError,  # a component that is not installed will not appear on retry
)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry delays (``backoff_s`` doubling per retry, capped), parallelism, cancel grace."""

    backoff_s: float = 300.0
    backoff_max_s: float = 3600.0
    max_parallel: int = 3
    cancel_grace_s: float = 30.0

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failed try."""
        return min(self.backoff_max_s, self.backoff_s * 2 ** max(0, failed_attempts - 1))


@dataclass
class TaskOutcome:
    """How one task of a run ended: status, attempts made, value returned, last error."""

    task_id: str
    status: str = "pending"
    attempts: int = 0
    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class RunFailure:
    """What the failure alert is told: the run, the day, the task that failed and why."""

    run_id: str
    pipeline: str
    day: date | None
    task_id: str
    error: BaseException
    attempts: int


@dataclass
class RunResult:
    """The outcome of one run; ``exit_code`` is 0 ok, 3 blocked by a check, 1 failed."""

    run_id: str
    pipeline: str
    day: date | None
    status: str
    tasks: dict[str, TaskOutcome] = field(default_factory=dict)
    failed_task: str | None = None
    error: str | None = None
    exception: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when every task succeeded."""
        return self.status == "success"

    @property
    def exit_code(self) -> int:
        """The CLI exit code this run stands for."""
        return {"success": 0, "blocked": 3}.get(self.status, 1)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "date": self.day.isoformat() if self.day else None,
            "status": self.status,
            "failed_task": self.failed_task,
            "error": self.error,
            "tasks": {
                t.task_id: {"status": t.status, "attempts": t.attempts, "error": t.error}
                for t in self.tasks.values()
            },
        }


FailureCallback = Callable[[RunFailure], None]


def new_run_id(pipeline: str, day: date | None) -> str:
    """A unique, sortable-enough run id such as ``daily-2024-01-15-1a2b3c4d``."""
    stamp = day.isoformat() if day else time.strftime("%Y%m%dT%H%M%S")
    return f"{pipeline}-{stamp}-{uuid.uuid4().hex[:8]}"


def run_graph(
    tasks: Sequence[Task],
    *,
    wh: Warehouse | None,
    settings: Settings | None = None,
    pipeline: str = "daily",
    day: date | None = None,
    run_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    policy: RetryPolicy | None = None,
    on_failure: FailureCallback | None = None,
    trigger: str = "cli",
    actor: str | None = None,
) -> RunResult:
    """Run ``tasks`` in dependency order, in parallel where the graph allows.

    A failing task is retried (``task.retries`` times, with the policy's backoff) unless its
    error is one retrying cannot fix (:data:`NOT_RETRIED`). When a task fails for good no new
    task starts, tasks already running finish, downstream tasks are recorded
    ``upstream_failed`` and ``on_failure`` is called once. Every attempt is recorded when
    ``wh`` is given. Never raises for a task failure: the result says what happened.
    """
    run = _Run(
        list(tasks),
        wh=wh,
        settings=settings,
        pipeline=pipeline,
        day=day,
        run_id=run_id or new_run_id(pipeline, day),
        params=dict(params or {}),
        policy=policy or RetryPolicy(),
        on_failure=on_failure,
        trigger=trigger,
        actor=actor or default_actor(),
    )
    return run.execute()


@dataclass(eq=False)
class _Attempt:
    task: Task
    number: int
    ctx: TaskContext
    started: float
    deadline: float | None
    handle: Any = None
    cancelling_since: float | None = None
    thread: threading.Thread | None = None


class _Run:
    def __init__(
        self,
        tasks: list[Task],
        *,
        wh: Warehouse | None,
        settings: Settings | None,
        pipeline: str,
        day: date | None,
        run_id: str,
        params: dict[str, Any],
        policy: RetryPolicy,
        on_failure: FailureCallback | None,
        trigger: str,
        actor: str,
    ) -> None:
        self.order = topological_order(tasks)
        self.wh, self.settings, self.pipeline, self.day = wh, settings, pipeline, day
        self.run_id, self.params, self.policy = run_id, params, policy
        self.on_failure, self.trigger, self.actor = on_failure, trigger, actor
        self.outcomes = {t.task_id: TaskOutcome(t.task_id) for t in self.order}
        self.results: dict[str, Any] = {}
        self.running: dict[str, _Attempt] = {}
        self.next_try: dict[str, float] = {t.task_id: 0.0 for t in self.order}
        self.done: set[str] = set()
        self.failed: tuple[str, BaseException] | None = None
        self.inbox: queue.Queue[tuple[_Attempt, bool, Any]] = queue.Queue()

    # -- the loop -------------------------------------------------------------------------

    def execute(self) -> RunResult:
        self._record_start()
        try:
            while self._step():
                pass
        except BaseException as exc:  # KeyboardInterrupt, or a history write failing
            for attempt in self.running.values():
                attempt.ctx.cancel_event.set()
                _interrupt(attempt.handle)
            self._finish("failed", None, exc)
            raise
        return self._finish_normally()

    def _step(self) -> bool:
        """Launch what is ready, wait for one event, enforce deadlines; False when done."""
        now = time.monotonic()
        if self.failed is None:
            self._launch_ready(now)
        if not self.running and (self.failed is not None or not self._waiting()):
            return False
        try:
            message = self.inbox.get(timeout=self._wait_time(now))
        except queue.Empty:
            message = None
        if message is not None:
            self._complete(*message)
        self._enforce_deadlines(time.monotonic())
        return True

    def _pending(self) -> list[Task]:
        return [
            t
            for t in self.order
            if t.task_id not in self.done
            and t.task_id not in self.running
            and self.outcomes[t.task_id].status not in ("failed", "timed_out")
        ]

    def _waiting(self) -> bool:
        """True while some pending task can still start (now or after a retry delay)."""
        return any(set(t.upstream) <= self.done for t in self._pending())

    def _launch_ready(self, now: float) -> None:
        for task in self._pending():
            if len(self.running) >= self.policy.max_parallel:
                return
            if set(task.upstream) <= self.done and self.next_try[task.task_id] <= now:
                self._launch(task, now)

    def _wait_time(self, now: float) -> float | None:
        wakeups = [
            self.next_try[t.task_id]
            for t in self._pending()
            if set(t.upstream) <= self.done and self.failed is None
        ]
        for a in self.running.values():
            if a.cancelling_since is not None:
                wakeups.append(a.cancelling_since + self.policy.cancel_grace_s)
            elif a.deadline is not None:
                wakeups.append(a.deadline)
        return max(0.0, min(wakeups) - now) if wakeups else None

    # -- attempts ---------------------------------------------------------------------------

    def _launch(self, task: Task, now: float) -> None:
        outcome = self.outcomes[task.task_id]
        outcome.attempts += 1
        outcome.status = "running"
        ctx = TaskContext(
            run_id=self.run_id,
            task_id=task.task_id,
            attempt=outcome.attempts,
            day=self.day,
            wh=self.wh,
            settings=self.settings,
            params=self.params,
            results=dict(self.results),
        )
        attempt = _Attempt(
            task,
            outcome.attempts,
            ctx,
            now,
            now + task.timeout_s if task.timeout_s is not None else None,
        )
        if self.wh is not None:
            history.start_attempt(
                self.wh, self.run_id, task.task_id, attempt.number, task.timeout_s
            )
        thread = threading.Thread(
            target=self._work,
            args=(attempt,),
            daemon=True,
            name=f"revops-{task.task_id}-{attempt.number}",
        )
        attempt.thread = thread
        self.running[task.task_id] = attempt
        thread.start()

    def _work(self, attempt: _Attempt) -> None:
        try:
            if self.wh is not None:
                attempt.handle = _statement_handle(self.wh)
            value = attempt.task.fn(attempt.ctx)
        except BaseException as exc:
            self.inbox.put((attempt, False, exc))
            return
        self.inbox.put((attempt, True, value))

    def _complete(self, attempt: _Attempt, ok: bool, value: Any) -> None:
        tid = attempt.task.task_id
        if self.running.get(tid) is not attempt:
            log.warning("task %s attempt %d ended after it was given up", tid, attempt.number)
            return
        del self.running[tid]
        outcome = self.outcomes[tid]
        if attempt.cancelling_since is not None:
            exc: BaseException = TimeoutError(
                f"task {tid} exceeded its timeout of {_seconds(attempt.task.timeout_s)} "
                "and was stopped"
            )
            self._failed_attempt(attempt, exc, "timed_out", retriable=True)
        elif ok:
            outcome.status, outcome.value, outcome.error = "success", value, None
            self.results[tid] = value
            self.done.add(tid)
            if self.wh is not None:
                history.finish_attempt(
                    self.wh, self.run_id, tid, attempt.number, "success", detail=summarize(value)
                )
        else:
            self._failed_attempt(
                attempt, value, "failed", retriable=not isinstance(value, NOT_RETRIED)
            )

    def _failed_attempt(
        self, attempt: _Attempt, exc: BaseException, status: str, *, retriable: bool
    ) -> None:
        tid = attempt.task.task_id
        outcome = self.outcomes[tid]
        outcome.error = _describe(exc)
        again = retriable and attempt.number <= attempt.task.retries and self.failed is None
        recorded = "retrying" if again and status == "failed" else status
        if self.wh is not None:
            history.finish_attempt(
                self.wh, self.run_id, tid, attempt.number, recorded, outcome.error
            )
            self._audit(
                f"task:{tid}", recorded, {"attempt": attempt.number, "error": outcome.error}
            )
        if again:
            outcome.status = "up_for_retry"
            self.next_try[tid] = time.monotonic() + self.policy.delay(attempt.number)
            log.warning(
                "task %s attempt %d failed, retrying: %s", tid, attempt.number, outcome.error
            )
            return
        outcome.status = status
        self._fail(tid, exc)

    def _enforce_deadlines(self, now: float) -> None:
        for tid, attempt in list(self.running.items()):
            if attempt.cancelling_since is None:
                if attempt.deadline is not None and now >= attempt.deadline:
                    attempt.cancelling_since = now
                    attempt.ctx.cancel_event.set()
                    _interrupt(attempt.handle)
            elif now >= attempt.cancelling_since + self.policy.cancel_grace_s:
                del self.running[tid]
                exc = TimeoutError(
                    f"task {tid} exceeded its timeout of {_seconds(attempt.task.timeout_s)} "
                    f"and did not stop within {_seconds(self.policy.cancel_grace_s)}; it was "
                    "left behind and not retried"
                )
                self._failed_attempt(attempt, exc, "timed_out", retriable=False)

    def _fail(self, tid: str, exc: BaseException) -> None:
        if self.failed is not None:
            return
        self.failed = (tid, exc)
        if self.on_failure is None:
            return
        failure = RunFailure(
            self.run_id, self.pipeline, self.day, tid, exc, self.outcomes[tid].attempts
        )
        try:
            self.on_failure(failure)
        except Exception as alert_exc:
            log.exception("the failure alert for %s failed", tid)
            if self.wh is not None:
                self._audit("alert", "failed", {"task": tid, "error": _describe(alert_exc)})

    # -- start and end ----------------------------------------------------------------------

    def _record_start(self) -> None:
        if self.wh is not None:
            history.start_run(
                self.wh,
                self.run_id,
                self.pipeline,
                self.day,
                trigger=self.trigger,
                actor=self.actor,
                detail={"params": self.params} if self.params else None,
            )
            self._audit("run", "started", {"date": self.day, "trigger": self.trigger})
        signals.emit(
            signals.PIPELINE_RUN,
            run_id=self.run_id,
            pipeline=self.pipeline,
            date=self.day,
            status="running",
        )

    def _finish_normally(self) -> RunResult:
        if self.failed is None:
            return self._finish("success", None, None)
        tid, exc = self.failed
        for task in self.order:
            outcome = self.outcomes[task.task_id]
            if outcome.attempts == 0:
                outcome.status = "upstream_failed"
                if self.wh is not None:
                    history.record_not_started(
                        self.wh, self.run_id, task.task_id, "upstream_failed"
                    )
            elif outcome.status == "up_for_retry":
                outcome.status = "stopped"
        status = "blocked" if isinstance(exc, DataQualityError) else "failed"
        return self._finish(status, tid, exc)

    def _finish(self, status: str, tid: str | None, exc: BaseException | None) -> RunResult:
        error = None if exc is None else (f"{tid}: {_describe(exc)}" if tid else _describe(exc))
        result = RunResult(
            self.run_id, self.pipeline, self.day, status, self.outcomes, tid, error, exc
        )
        if self.wh is not None:
            history.finish_run(self.wh, self.run_id, status, error)
            self._audit("run", status, {"date": self.day, "failed_task": tid, "error": error})
        signals.emit(
            signals.PIPELINE_RUN,
            run_id=self.run_id,
            pipeline=self.pipeline,
            date=self.day,
            status=status,
            failed_task=tid,
        )
        return result

    def _audit(self, action: str, status: str, detail: Any) -> None:
        assert self.wh is not None
        audit(
            self.wh,
            f"pipeline:{self.pipeline}",
            action,
            status,
            actor=self.actor,
            request_id=self.run_id,
            detail=detail,
        )


# -- helpers ------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _seconds(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:g} s" if value < 120 else f"{value / 60:g} min"


def summarize(value: Any) -> Any:
    """A JSON-ready summary of what a task returned (its ``as_dict()`` when it has one)."""
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        try:
            return as_dict()
        except Exception:
            return repr(value)[:500]
    return repr(value)[:500]


def _statement_handle(wh: Warehouse) -> Any:
    """The calling thread's connection (DuckDB cursor or psycopg connection), so the runner
    can interrupt a statement that outlives its timeout. Best effort: None when unknown."""
    for name in ("_cur", "_conn"):
        opener = getattr(wh, name, None)
        if callable(opener):
            try:
                return opener()
            except Exception:
                return None
    return None


def _interrupt(handle: Any) -> None:
    """Ask the engine to stop the statement running on ``handle`` (best effort)."""
    if handle is None:
        return
    for name in ("interrupt", "cancel_safe", "cancel"):
        method = getattr(handle, name, None)
        if callable(method):
            try:
                method()
            except Exception:
                log.debug("could not interrupt a statement via %s", name, exc_info=True)
            return
