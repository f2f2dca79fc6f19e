"""The main process's side of the receiver processes: the shared socket, start, restart, stop.

:class:`ReceiverPool` binds the public port once and hands its listening socket to
``[serve] receiver_processes`` receiver processes (:mod:`revops.serve.receivers`), restarts one
that dies unexpectedly, gathers their metrics for ``GET /metrics``, and at shutdown stops them
first (each finishes and acknowledges what it has received) so the main process drains
everything they published.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from revops.errors import ConfigError

if TYPE_CHECKING:
    from revops.config import Settings

log = logging.getLogger(__name__)
BIND_RETRY_S = 5.0  # a killed server's receivers may hold the port for a moment
RESTART_DELAY_S = 1.0


def bind_public(
    host: str, port: int, backlog: int = 2048, reuse_port: bool = False
) -> socket.socket:
    """A listening TCP socket of the public port, inheritable by the receivers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + BIND_RETRY_S
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
            break
        except OSError as exc:
            sock.close()
            if time.monotonic() >= deadline:
                raise ConfigError(
                    f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                    input=f"{host}:{port}",
                    where="--host / --port, [serve] host / port",
                    hint="stop what holds the port or choose another one",
                ) from exc
            time.sleep(0.1)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class ReceiverPool:
    """``count`` receiver processes sharing one listening socket."""

    def __init__(
        self, settings: Settings, host: str, port: int, count: int, log_level: str = "info"
    ) -> None:
        self.settings = settings
        self.count = count
        self.log_level = log_level
        # One listening socket per receiver on the same port (SO_REUSEPORT): the kernel spreads
        # new connections evenly over them, where one shared socket lets whichever process
        # wakes first take most. The sockets stay open here, so connections arriving while a
        # receiver restarts wait in its backlog. Without SO_REUSEPORT all share one socket.
        reuse = hasattr(socket, "SO_REUSEPORT")
        if reuse:
            # SO_REUSEPORT would let a second server share a port that is already taken:
            # bind it plainly first, so that case fails as "address in use".
            probe = bind_public(host, port)
            port = int(probe.getsockname()[1])
            probe.close()
        first = bind_public(host, port, reuse_port=reuse)
        self.port = int(first.getsockname()[1])
        self.publics = [first] + [
            bind_public(host, self.port, reuse_port=True) if reuse else first
            for _ in range(count - 1)
        ]
        self.folder = Path(tempfile.mkdtemp(prefix="revops-serve-"))
        self.main_socket = str(self.folder / "main.sock")
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._monitor: threading.Thread | None = None

    def own_socket(self, n: int) -> str:
        """The private Unix socket of receiver ``n`` (its metrics are read there)."""
        return str(self.folder / f"receiver-{n}.sock")

    def bind_main(self) -> socket.socket:
        """The main process's private Unix socket, where receivers relay what is not a webhook."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.main_socket)
        sock.listen(256)
        return sock

    def _spawn(self, n: int) -> subprocess.Popen[bytes]:
        cmd = [
            sys.executable,
            "-m",
            "revops.serve.receivers",
            "--fd",
            str(self.publics[n].fileno()),
            "--main-socket",
            self.main_socket,
            "--own-socket",
            self.own_socket(n),
            "--parent",
            str(os.getpid()),
            "--log-level",
            self.log_level,
        ]
        if self.settings.path is not None:
            cmd += ["--config", str(self.settings.path)]
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return subprocess.Popen(cmd, pass_fds=(self.publics[n].fileno(),), env=env)

    def start(self) -> None:
        """Start the receivers and a thread that restarts any that dies unexpectedly.

        The thread that starts a receiver must outlive it (``PR_SET_PDEATHSIG`` follows the
        thread), so the monitor thread starts them all."""
        started = threading.Event()
        self._monitor = threading.Thread(
            target=self._watch, args=(started,), name="revops-receivers", daemon=True
        )
        self._monitor.start()
        started.wait(30)

    def _watch(self, started: threading.Event) -> None:
        with self._lock:
            for n in range(self.count):
                self._procs[n] = self._spawn(n)
        started.set()
        while not self._stopping.wait(0.2):
            for n, proc in enumerate(self._procs):
                if proc is None or proc.poll() is None:
                    continue
                with self._lock:
                    if self._stopping.is_set():
                        break
                    log.warning(
                        "receiver process %d exited with %s; starting it again",
                        proc.pid,
                        proc.returncode,
                    )
                    time.sleep(RESTART_DELAY_S)
                    self._procs[n] = self._spawn(n)
        # Leaving this thread would kill the receivers (their death signal follows it):
        # stay until stop() has let them finish.
        self._stopped.wait()

    def alive(self) -> int:
        """How many receiver processes run."""
        return sum(1 for p in self._procs if p is not None and p.poll() is None)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every receiver and wait: each stops accepting, finishes the requests it has
        (answering once durable) and exits; one still running after ``timeout`` is killed."""
        with self._lock:
            self._stopping.set()
            procs = [p for p in self._procs if p is not None]
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("receiver process %d did not stop; killing it", proc.pid)
                proc.kill()
                proc.wait(10)
        self._stopped.set()

    def close(self) -> None:
        """Release the public socket and the private sockets' folder."""
        for sock in {id(s): s for s in self.publics}.values():
            sock.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def metrics_blocking(self) -> list[bytes]:
        """:meth:`metrics` for a caller off the event loop (the dashboard's figures)."""
        import httpx

        from revops.serve.receivers import WORKER_METRICS_PATH

        out = []
        for n in range(self.count):
            transport = httpx.HTTPTransport(uds=self.own_socket(n))
            with httpx.Client(transport=transport, timeout=5.0) as client:
                try:
                    answer = client.get(f"http://receiver{WORKER_METRICS_PATH}")
                except httpx.TransportError:
                    continue
                if answer.status_code == 200:
                    out.append(answer.content)
        return out

    async def metrics(self) -> list[bytes]:
        """The metrics expositions of the running receivers (one may be missing while it
        restarts)."""
        import httpx

        from revops.serve.receivers import WORKER_METRICS_PATH

        out = []
        for n in range(self.count):
            transport = httpx.AsyncHTTPTransport(uds=self.own_socket(n))
            async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
                try:
                    answer = await client.get(f"http://receiver{WORKER_METRICS_PATH}")
                except httpx.TransportError:
                    continue
                if answer.status_code == 200:
                    out.append(answer.content)
        return out
