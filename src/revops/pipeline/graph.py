"""A pipeline graph is data: task id → callable, upstream ids, retries, timeout.

The runner (:mod:`revops.pipeline.runner`) executes any such graph; the daily DAG
(:mod:`revops.pipeline.daily`) and the Airflow module build theirs from the same list, and tests
inject their own callables.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from revops.errors import ConfigError, RevopsError

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse


class TaskCancelled(RevopsError):
    """Raised by :meth:`TaskContext.check` once the runner has cancelled the attempt."""


@dataclass
class TaskContext:
    """What one task attempt gets: the run, the warehouse, upstream results, cancellation.

    Python cannot stop a thread from outside, so a long task should call :meth:`check` (or
    read :attr:`cancelled`) between steps; the runner also interrupts the attempt's running SQL
    statement when it times out.
    """

    run_id: str
    task_id: str
    attempt: int
    day: date | None
    wh: Warehouse | None
    settings: Settings | None
    params: Mapping[str, Any] = field(default_factory=dict)
    results: Mapping[str, Any] = field(default_factory=dict)
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        """True once the runner has cancelled this attempt (timeout or shutdown)."""
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise :class:`TaskCancelled` when the attempt was cancelled."""
        if self.cancel_event.is_set():
            raise TaskCancelled(f"task {self.task_id} was cancelled", where=self.run_id)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; returns True (early) when cancelled."""
        return self.cancel_event.wait(seconds)

    @property
    def warehouse(self) -> Warehouse:
        """The run's warehouse (a task of a run without one gets a clear error)."""
        if self.wh is None:
            raise RevopsError(f"task {self.task_id} needs a warehouse", where=self.run_id)
        return self.wh

    def upstream(self, task_id: str) -> Any:
        """The value an upstream task returned in this run (None when absent)."""
        return self.results.get(task_id)


TaskFn = Callable[[TaskContext], Any]


@dataclass(frozen=True)
class Task:
    """One node: ``fn(ctx)`` runs after every ``upstream`` task succeeded.

    ``retries`` counts retries after the first try (Airflow's meaning); ``timeout_s`` bounds one
    attempt (None: no bound).
    """

    task_id: str
    fn: TaskFn
    upstream: tuple[str, ...] = ()
    retries: int = 3
    timeout_s: float | None = None


def topological_order(tasks: Sequence[Task]) -> list[Task]:
    """The tasks in an order where every task follows its upstreams (stable by input order).

    Raises :class:`ConfigError` for a duplicate id, an unknown upstream or a cycle.
    """
    by_id: dict[str, Task] = {}
    for t in tasks:
        if t.task_id in by_id:
            raise ConfigError(f"task id {t.task_id!r} appears twice in the pipeline graph")
        by_id[t.task_id] = t
    for t in tasks:
        for up in t.upstream:
            if up not in by_id:
                raise ConfigError(
                    f"task {t.task_id!r} names an unknown upstream {up!r}",
                    hint="known tasks: " + ", ".join(by_id),
                )
    done: list[Task] = []
    placed: set[str] = set()
    while len(done) < len(tasks):
        ready = [t for t in tasks if t.task_id not in placed and set(t.upstream) <= placed]
        if not ready:
            left = sorted(set(by_id) - placed)
            raise ConfigError("the pipeline graph has a cycle", input=", ".join(left))
        for t in ready:
            done.append(t)
            placed.add(t.task_id)
    return done


def downstream_of(tasks: Sequence[Task], task_id: str) -> set[str]:
    """Every task that depends, directly or not, on ``task_id``."""
    found: set[str] = set()
    frontier = {task_id}
    while frontier:
        nxt = {t.task_id for t in tasks if set(t.upstream) & frontier} - found
        found |= nxt
        frontier = nxt
    return found
