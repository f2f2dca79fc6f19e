"""A local ads reporting API: the same endpoints as the real one, seeded data, injected faults.

Endpoints:

* ``POST /oauth/token`` — OAuth2 client credentials (HTTP Basic or form fields); answers
  ``{"access_token", "token_type": "Bearer", "expires_in"}``, 401 ``invalid_client`` on a wrong
  secret.
* ``GET /v1/reports?date=YYYY-MM-DD&page=N&per_page=M`` — bearer token required;
  ``{"campaigns": [...], "has_next_page": bool}`` from :mod:`revops.dev.demo_data`.
* ``POST /_dev/faults`` (JSON list of faults), ``GET /_dev/stats`` — scripting from outside.

Faults (:class:`Fault`): ``429`` (with a ``Retry-After`` value or none), ``status`` (e.g. 503),
``delay`` (answer late, to hit a client timeout), ``expire_tokens`` (every issued token stops
working, as at expiry) and ``garbage`` (a 200 that is not JSON); each for a given page or any,
a number of times. Random faults (``rate_429``, ``rate_5xx``) use a seeded generator.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from revops.dev.demo_data import campaigns, report_row

DEMO_CLIENT_ID = "revops-demo"
DEMO_CLIENT_SECRET = "revops-demo-secret"
DEMO_TOKEN = "revops-demo-token"


@dataclass
class Fault:
    """One injected failure: ``kind`` is 429, status, delay, expire_tokens or garbage."""

    kind: str
    page: int | None = None
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    delay_s: float = 0.0


@dataclass
class AdsApiState:
    """What the server serves and what it has seen (shared by its handler threads)."""

    seed: int = 0
    campaign_count: int = 120
    end: date | None = None
    days: int | None = None
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    static_tokens: tuple[str, ...] = (DEMO_TOKEN,)
    token_ttl_s: int = 3600
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def add_fault(self, kind: str, **kwargs: Any) -> Fault:
        """Inject a fault (see :class:`Fault`); returns it."""
        fault = Fault(kind=kind, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, page: int) -> Fault | None:
        """The first pending fault for ``page``, counted as used."""
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and (fault.page is None or fault.page == page):
                    fault.times -= 1
                    return fault
        return None

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.time() + self.token_ttl_s
            self.token_requests += 1
        return token

    def token_ok(self, token: str) -> bool:
        if token in self.static_tokens:
            return True
        with self.lock:
            expires = self.tokens.get(token)
        return expires is not None and time.time() < expires

    def expire_tokens(self) -> None:
        """Every token issued so far stops working."""
        with self.lock:
            self.tokens.clear()

    def records(self, day: date) -> list[dict[str, object]]:
        """The campaigns of ``day`` (none outside the served window)."""
        if (
            self.end is not None
            and self.days is not None
            and not (self.end - timedelta(days=self.days - 1) <= day <= self.end)
        ):
            return []
        return [report_row(self.seed, day, c) for c in campaigns(self.seed, self.campaign_count)]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": len(self.log),
                "token_requests": self.token_requests,
                "statuses": [e["status"] for e in self.log],
                "pending_faults": [asdict(f) for f in self.faults if f.times > 0],
            }


class _Handler(BaseHTTPRequestHandler):
    server_version = "revops-dev-ads/1"
    state: AdsApiState

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the state keeps a log
        pass

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/oauth/token":
            self._token(body)
        elif path == "/_dev/faults":
            for item in json.loads(body or b"[]"):
                self.state.add_fault(**item)
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": "not_found"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/v1/reports":
            self._report(parse_qs(parts.query))
        elif parts.path == "/_dev/stats":
            self._json(200, self.state.stats())
        elif parts.path == "/healthz":
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": "not_found"})

    def _token(self, body: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:]).decode("utf-8", "replace")
            client_id, _, secret = decoded.partition(":")
            from urllib.parse import unquote_plus

            client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        if form.get("grant_type") != "client_credentials":
            self._json(400, {"error": "unsupported_grant_type"})
        elif client_id != self.state.client_id or secret != self.state.client_secret:
            self._json(
                401,
                {"error": "invalid_client", "error_description": "unknown client or wrong secret"},
            )
        else:
            self._json(
                200,
                {
                    "access_token": self.state.issue_token(),
                    "token_type": "Bearer",
                    "expires_in": self.state.token_ttl_s,
                },
            )

    def _report(self, query: dict[str, list[str]]) -> None:
        page = _int(query, "page", 1)
        per_page = _int(query, "per_page", 50)
        fault = self.state.take_fault(page)
        if fault is not None and fault.kind == "expire_tokens":
            self.state.expire_tokens()
            fault = None
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay_s)
            fault = None
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not self.state.token_ok(auth[7:]):
            return self._logged(page, 401, {"error": "invalid_token"})
        if fault is None:
            fault = self._random_fault()
        if fault is not None:
            return self._fail(page, fault)
        try:
            day = date.fromisoformat(query["date"][0])
        except (KeyError, ValueError):
            return self._logged(page, 400, {"error": "date=YYYY-MM-DD is required"})
        if page < 1 or not 1 <= per_page <= 1000:
            return self._logged(page, 400, {"error": "page >= 1, 1 <= per_page <= 1000"})
        rows = self.state.records(day)
        chunk = rows[(page - 1) * per_page : page * per_page]
        self._logged(page, 200, {"campaigns": chunk, "has_next_page": page * per_page < len(rows)})

    def _random_fault(self) -> Fault | None:
        roll = self.state.rng.random()
        if roll < self.state.rate_429:
            return Fault("429", retry_after="1")
        if roll < self.state.rate_429 + self.state.rate_5xx:
            return Fault("status", status=503)
        return None

    def _fail(self, page: int, fault: Fault) -> None:
        if fault.kind == "429":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return self._logged(page, 429, {"error": "rate_limited"}, headers)
        if fault.kind == "garbage":
            return self._logged(page, 200, None, raw=b"<html>maintenance</html>")
        return self._logged(page, fault.status, {"error": "server_error"})

    def _logged(
        self,
        page: int,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        with self.state.lock:
            self.state.log.append({"page": page, "status": status})
        self._json(status, body, headers, raw)

    def _json(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        data = raw if raw is not None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if raw is None else "text/html")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query.get(name, [default])[0])
    except ValueError:
        return -1


class AdsApiServer:
    """The server on ``host:port`` (0 picks a free port) running in a background thread."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, state: AdsApiState | None = None
    ) -> None:
        self.state = state or AdsApiState()
        handler = type("AdsApiHandler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint."""
        return self.base_url + "/oauth/token"

    def start(self) -> AdsApiServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="revops-dev-ads-api", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI)."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> AdsApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_ads_api(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 0,
    days: int | None = None,
    end: date | None = None,
    campaign_count: int = 120,
    token_ttl_s: int = 3600,
) -> tuple[str, Callable[[], None]]:
    """Start the local ads API in a background thread: (base_url, stop).

    With ``end`` and ``days`` it serves campaigns only for [end − days + 1, end]; otherwise for
    every date. Credentials: :data:`DEMO_CLIENT_ID` / :data:`DEMO_CLIENT_SECRET` at
    ``{base_url}/oauth/token``, or the static :data:`DEMO_TOKEN`.
    """
    state = AdsApiState(
        seed=seed, campaign_count=campaign_count, end=end, days=days, token_ttl_s=token_ttl_s
    )
    server = AdsApiServer(host, port, state).start()
    return server.base_url, server.stop


def demo_ads_settings(base_url: str) -> tuple[dict[str, Any], dict[str, str]]:
    """([ads] settings, environment) that make the extractor read the local server."""
    from revops.dev.demo_data import CHANNEL_MAP

    section = {
        "base_url": base_url,
        "token_url": base_url.rstrip("/") + "/oauth/token",
        "client_id": DEMO_CLIENT_ID,
        "channel_map": dict(CHANNEL_MAP),
        "rate_limit_per_minute": 0,
    }
    return section, {"REVOPS_ADS__CLIENT_SECRET": DEMO_CLIENT_SECRET}
