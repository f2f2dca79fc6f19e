"""Real-format events, their signatures, and a ``revops serve`` subprocess for the tests."""

from __future__ import annotations

import copy
import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import httpx
import orjson
import stripe

FIXTURES = Path(__file__).parent / "fixtures"
SRC = Path(__file__).resolve().parents[2] / "src"
STRIPE_SECRET = "whsec_test_serve_0123456789abcdef"
SF_SECRET = "sf-hmac-secret-for-tests"
SF_TOKEN = "sf-bearer-token-for-tests"
EVENTS_SECRET = "events-hmac-secret-for-tests"


@cache
def _fixture(name: str) -> dict:
    return orjson.loads((FIXTURES / name).read_bytes())


def stripe_event(
    n: int,
    *,
    type_: str = "invoice.paid",
    created: int = 1759914301,
    status: str = "paid",
    amount: int = 1200000,
    opportunity: str | None = None,
) -> bytes:
    """A real-format Stripe event (about 3 KB) with ids ``evt_<n>`` / ``in_<n>``."""
    event = copy.deepcopy(_fixture("stripe_invoice_paid.json"))
    event["id"] = f"evt_test_{n:06d}"
    event["type"] = type_
    event["created"] = created
    invoice = event["data"]["object"]
    invoice["id"] = f"in_test_{n:06d}"
    invoice["status"] = status
    invoice["amount_paid"] = amount if status == "paid" else 0
    invoice["amount_due"] = amount
    invoice["metadata"] = {"opportunity_id": opportunity} if opportunity else {}
    return orjson.dumps(event)


def stripe_headers(
    body: bytes, *, secret: str = STRIPE_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Headers as Stripe sends them, signed by the stripe library's own code."""
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


def cdc_event(
    record_id: str,
    *,
    stage: str = "Closed Won",
    commit: int = 10732465012345678901,
    commit_ts: int = 1759914000000,
    change: str = "UPDATE",
) -> bytes:
    """A Salesforce Opportunity CDC event changing ``StageName``."""
    event = copy.deepcopy(_fixture("salesforce_opportunity_cdc.json"))
    header = event["ChangeEventHeader"]
    header["recordIds"] = [record_id]
    header["commitNumber"] = commit
    header["commitTimestamp"] = commit_ts
    header["changeType"] = change
    event["StageName"] = stage
    return orjson.dumps(event)


def hmac_headers(body: bytes, secret: str = SF_SECRET) -> dict[str, str]:
    """``X-Revops-Signature: sha256=<hex>`` over the body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Revops-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(warehouse_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a test server: secrets, warehouse and fast loader settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVOPS_")}
    env.update(
        {
            "PYTHONPATH": str(SRC) + os.pathsep + env.get("PYTHONPATH", ""),
            "REVOPS_WAREHOUSE__URL": warehouse_url,
            "REVOPS_STRIPE__WEBHOOK_SECRET": f"whsec_old_rotated_out,{STRIPE_SECRET}",
            "REVOPS_SALESFORCE__WEBHOOK_SECRET": SF_SECRET,
            "REVOPS_SALESFORCE__WEBHOOK_TOKEN": SF_TOKEN,
            "REVOPS_EVENTS__WEBHOOK_SECRET": EVENTS_SECRET,
            "REVOPS_LOADER__MAX_WAIT_MS": "20",
            "REVOPS_SERVE__MAX_BODY_BYTES": "65536",
        }
    )
    env.update(extra or {})
    return env


class ServeProcess:
    """``python -m revops serve`` on 127.0.0.1 in ``cwd``; stopped or killed by the test."""

    def __init__(self, cwd: Path, env: dict[str, str], port: int | None = None) -> None:
        self.cwd = cwd
        self.env = env
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServeProcess:
        """Start the server and wait until ``/healthz`` answers."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "revops",
                    "serve",
                    "--port",
                    str(self.port),
                    "--no-schedule",
                    "--log-level",
                    "warning",
                ],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"revops serve exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"revops serve did not start:\n{self.log.read_text()}")

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def close(self) -> None:
        """Kill the process if the test left it running."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(interval)
