"""The running parts of one ``revops serve`` process, and their lifecycle.

:class:`ServeRuntime` owns the shared warehouse, the bus and three worker threads: the loader
(bus → ``events_raw``), the transform loop (keeps facts and marts fresh after each landing)
and the notifier (outbox → Slack). Other components reach them through it: the dashboard and
the scheduler get the runtime and use ``.settings``, ``.warehouse`` and ``.stop_event``.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from revops import metrics, signals
from revops.audit import AuditEvent
from revops.config import Settings
from revops.ingest.bus import Bus, SqliteBus, open_bus
from revops.ingest.loader import BatchResult, Loader
from revops.ingest.receiver import Credentials, TypeFilter, split_secrets
from revops.notify.rules import notify_config
from revops.serve.config import bus_config, default_bus_url, loader_config, serve_config
from revops.serve.gather import Gatherer
from revops.warehouse.base import Warehouse

log = logging.getLogger(__name__)
MAX_REJECTION_AUDITS = 10_000


def endpoint_credentials(settings: Settings) -> dict[str, Credentials]:
    """Secrets of the three endpoints, from the environment only."""
    return {
        "stripe": Credentials(split_secrets(settings.secret("stripe", "webhook_secret"))),
        "salesforce": Credentials(
            split_secrets(settings.secret("salesforce", "webhook_secret")),
            settings.secret("salesforce", "webhook_token"),
        ),
        "events": Credentials(
            split_secrets(settings.secret("events", "webhook_secret")),
            settings.secret("events", "webhook_token"),
        ),
    }


def load_run_transform() -> Any:
    """``revops.transform.run_transform`` when the transforms are installed, else None."""
    try:
        module = importlib.import_module("revops.transform")
    except ModuleNotFoundError as exc:
        if exc.name == "revops.transform":
            return None
        raise
    return getattr(module, "run_transform", None)


class ServeRuntime:
    """Warehouse, bus and worker threads of a server; ``start`` and ``stop`` are idempotent.

    ``stop`` stops the workers after the loader has drained what is waiting (for up to
    ``[serve] shutdown_drain_s``); anything left stays durable on the bus for the next start.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        warehouse: Warehouse | None = None,
        bus: Bus | None = None,
        schedule: bool = True,
        receivers: Any = None,
    ) -> None:
        self.settings = settings
        self.config = serve_config(settings)
        self.loader_config = loader_config(settings)
        self.notify_config = notify_config(settings)
        self.schedule = schedule
        # The receiver processes publishing to this bus (a ReceiverPool), or None when this
        # process receives the webhooks itself.
        self.receivers = receivers
        bus_cfg = bus_config(settings)
        self._own_bus = bus is None
        self.bus: Any = bus or open_bus(
            bus_cfg.url or default_bus_url(settings.warehouse_url),
            synchronous=bus_cfg.synchronous,
            dedupe_window_hours=bus_cfg.dedupe_window_hours,
            max_group=bus_cfg.max_group,
            external_publishers=receivers is not None,
        )
        self._own_warehouse = warehouse is None
        if warehouse is None:
            from revops.warehouse import open_warehouse

            try:
                warehouse = open_warehouse(settings)
            except BaseException:
                self.bus.close()
                raise
        self.warehouse = warehouse
        # The webhooks' publishes, gathered across concurrent requests (see serve.gather);
        # run.serve tells it the server's connections.
        self.gather = Gatherer(self.bus)
        self.stop_event = threading.Event()
        self.credentials = endpoint_credentials(settings)
        self.accept = TypeFilter(self.config.accepted_types)
        self.rejection_audits: deque[AuditEvent] = deque(maxlen=MAX_REJECTION_AUDITS)
        self.pending_dead_letters = (
            self.bus.pending_dead_letters() if isinstance(self.bus, SqliteBus) else 0
        )
        self.transform_wake = threading.Event()
        self.notify_wake = threading.Event()
        self.transform_available: bool | None = None
        self.last_transform: Any = None
        self._awaiting_mart: deque[float] = deque(maxlen=100_000)
        self.loader = Loader(
            warehouse,
            self.bus,
            batch_size=self.loader_config.batch_size,
            max_wait_ms=self.loader_config.max_wait_ms,
            max_backoff_s=self.loader_config.max_backoff_s,
            rules=self.notify_config.rules if self.notify_config.enabled else (),
            stop_event=self.stop_event,
            audits=self.rejection_audits,
            on_landed=self._landed,
            defer_above_per_s=self.loader_config.defer_above_per_s,
            max_defer_s=self.loader_config.max_defer_s,
        )
        self._threads: list[threading.Thread] = []
        self._stop_scheduler: Any = None
        self._started = False
        self._stopped = False
        metrics.bind_gauges(self.bus.depth, self._loader_lag)
        metrics.bind_peers(receivers.metrics_blocking if receivers is not None else None)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the loader, transform and notifier threads (and the scheduler if asked)."""
        if self._started:
            return
        self._started = True
        for name, target in (
            ("loader", self.loader.run),
            ("transform", self._transform_loop),
            ("notifier", self._notify_loop),
        ):
            thread = threading.Thread(
                target=self._in_background, args=(target,), name=f"revops-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self.schedule:
            self._start_scheduler()
        self._warn_unconfigured()

    def _in_background(self, target: Any) -> None:
        """Run a worker thread at a lower CPU priority when receiver processes acknowledge
        webhooks beside it: under a burst the acknowledgements get the cores and the bus
        absorbs the backlog, which the loader and transforms land as soon as there is room."""
        nice = self.config.background_nice
        if self.receivers is not None and nice and hasattr(os, "setpriority"):
            try:  # on Linux a thread id names one thread
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            except OSError as exc:
                log.info(
                    "cannot lower the priority of %s: %s", threading.current_thread().name, exc
                )
        target()

    def stop(self) -> None:
        """Stop the workers, drain the bus into the warehouse, close what this runtime opened."""
        if self._stopped:
            return
        self._stopped = True
        self.stop_event.set()
        self.transform_wake.set()
        self.notify_wake.set()
        if self._stop_scheduler is not None:
            try:
                self._stop_scheduler()
            except Exception:  # shutting down regardless
                log.exception("the scheduler did not stop cleanly")
        for thread in self._threads:
            thread.join(timeout=60)
        drained = self.loader.drain(self.config.shutdown_drain_s)
        if drained:
            log.info("drained %d messages into the warehouse", drained)
        if self.transform_available and (drained or self._awaiting_mart):
            # Leave the marts as fresh as events_raw, as a clean run would.
            self.run_transform_once(load_run_transform())
        if self._own_bus:
            self.bus.close()
        if self._own_warehouse:
            self.warehouse.close()

    def _start_scheduler(self) -> None:
        try:
            schedule = importlib.import_module("revops.pipeline.schedule")
        except ModuleNotFoundError as exc:
            if exc.name in ("revops.pipeline", "revops.pipeline.schedule"):
                log.info("no scheduler installed (revops.pipeline.schedule)")
                return
            raise
        self._stop_scheduler = schedule.start_scheduler(self)

    def _warn_unconfigured(self) -> None:
        for name, creds in self.credentials.items():
            if not creds.configured:
                log.warning(
                    "%s endpoint has no credentials: it answers 503 until "
                    "REVOPS_%s__WEBHOOK_SECRET is set",
                    name,
                    name.upper(),
                )

    # -- receiver side -------------------------------------------------------------------

    def reject(self, source: str, reason: str, request_id: str | None, status: int) -> None:
        """Count and audit one rejected request (the audit row is written by the loader)."""
        metrics.rejected.labels(source, reason).inc()
        self.rejection_audits.append(
            AuditEvent(
                "receiver",
                f"webhook:{source}",
                "receive",
                "rejected",
                request_id,
                None,
                {"reason": reason, "status": status},
            )
        )

    # -- loader side ---------------------------------------------------------------------

    def _landed(self, result: BatchResult) -> None:
        self.pending_dead_letters = max(0, self.pending_dead_letters - result.dead_letters)
        if result.new:
            self._awaiting_mart.extend(result.received_at)
            self.transform_wake.set()
        if result.notifications:
            self.notify_wake.set()

    def _loader_lag(self) -> float:
        oldest = self.bus.oldest_received_at() if hasattr(self.bus, "oldest_received_at") else None
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

    # -- transform loop ------------------------------------------------------------------

    def _transform_loop(self) -> None:
        run_transform = load_run_transform()
        if run_transform is None:
            self.transform_available = False
            log.info(
                "no transforms installed (revops.transform.run_transform): "
                "events land in events_raw only"
            )
            return
        self.transform_available = True
        interval = self.config.transform_interval_s
        cfg = self.config
        while not self.stop_event.is_set():
            self.transform_wake.wait(interval)
            if self.stop_event.is_set():
                break
            self.transform_wake.clear()
            started = time.monotonic()
            self.run_transform_once(run_transform)
            took = time.monotonic() - started
            rest = max(cfg.transform_min_interval_s - took, took * (1 / cfg.transform_max_duty - 1))
            if rest > 0:
                self.stop_event.wait(rest)

    def run_transform_once(self, run_transform: Any) -> None:
        """One incremental transform; latencies of events landed before it are observed."""
        waiting = len(self._awaiting_mart)
        received = [self._awaiting_mart.popleft() for _ in range(waiting)]
        started = time.perf_counter()
        try:
            report = run_transform(self.warehouse, self.settings)
        except Exception as exc:  # the next landing retries
            metrics.transform_failures.inc()
            self._awaiting_mart.extendleft(reversed(received))
            log.warning("transform failed: %s", str(exc).splitlines()[0][:300])
            return
        metrics.transform_seconds.observe(time.perf_counter() - started)
        now = time.time()
        for at in received:
            metrics.receipt_to_mart.observe(max(0.0, now - at))
        self.last_transform = report
        signals.emit(
            signals.MARTS_REFRESHED,
            marts=list(getattr(report, "marts_refreshed", []) or []),
            events=getattr(report, "events", None),
            seconds=getattr(report, "seconds", None),
        )

    # -- notifier loop -------------------------------------------------------------------

    def _notify_loop(self) -> None:
        if not self.notify_config.enabled:
            return
        senders = self.notification_senders()
        while not self.stop_event.is_set():
            self.notify_wake.wait(self.notify_config.interval_s)
            self.notify_wake.clear()
            if self.stop_event.is_set() or not senders:
                continue
            self.deliver_notifications(senders)

    def notification_senders(self) -> dict[str, Any]:
        """The channels that can deliver (Slack when ``REVOPS_SLACK__WEBHOOK_URL`` is set)."""
        from revops.outputs.outbox import slack_sender

        url = self.settings.secret("slack", "webhook_url")
        if not url:
            log.warning(
                "REVOPS_SLACK__WEBHOOK_URL is not set: notifications stay queued in "
                "notifications_outbox"
            )
            return {}
        return {"slack": slack_sender(url)}

    def deliver_notifications(self, senders: dict[str, Any]) -> None:
        """One delivery pass; a failing channel or warehouse is logged, never raised."""
        from revops.outputs.outbox import deliver_pending

        try:
            report = deliver_pending(self.warehouse, senders)
        except Exception as exc:  # notifications never stop the server
            log.warning("notification delivery failed: %s", str(exc).splitlines()[0][:300])
            return
        metrics.notifications.labels("sent").inc(report.sent)
        metrics.notifications.labels("failed").inc(report.failed)

    # -- health --------------------------------------------------------------------------

    def readiness(self) -> dict[str, Any]:
        """Whether the bus and the warehouse answer, and the loader is keeping up."""
        checks: dict[str, Any] = {}
        try:
            self.bus.ping()
            checks["bus"] = "ok"
        except Exception as exc:  # reported, not raised
            checks["bus"] = str(exc).splitlines()[0]
        try:
            self.warehouse.query_value("SELECT 1")
            checks["warehouse"] = "ok"
        except Exception as exc:
            checks["warehouse"] = str(exc).splitlines()[0]
        checks["loader"] = "ok" if self.loader.healthy else "retrying"
        checks["bus_depth"] = self.bus.depth()
        if self.receivers is not None:
            alive = self.receivers.alive()
            checks["receivers"] = f"{alive}/{self.receivers.count}"
        checks["ready"] = checks["bus"] == "ok" and checks["warehouse"] == "ok"
        if self.receivers is not None:
            checks["ready"] = checks["ready"] and alive > 0
        return checks
