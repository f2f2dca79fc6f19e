"""The ads reporting API over HTTP: authentication, retries, rate limit, pagination.

``GET {base_url}/v1/reports?date=…&page=N&per_page=…&metrics=…`` with a bearer token, answered
``{"campaigns": [...], "has_next_page": bool}``.

* Auth: OAuth2 client credentials (the token is reused until ``leeway_s``
  before it expires and fetched again once when the API answers 401), or a static token.
* 429: wait ``Retry-After`` (seconds or an HTTP date; missing, 0 or unreadable means the backoff
  floor, so never a hot loop; capped at ``retry_after_max_s``), then retry; up to
  ``max_rate_limit_waits`` such waits per page.
* 5xx, timeouts and connection errors: exponential backoff with full jitter from
  ``backoff_floor_s``, ``max_retries`` retries (default 3).
* A sliding-window client-side limit of ``rate_limit_per_minute`` requests.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from revops.errors import ConfigError, TerminalSourceError, TransientSourceError

Sleep = Callable[[float], None]
Clock = Callable[[], float]
METRICS = "impressions,clicks,cost,conversions"
SECRET_HINT = "check REVOPS_ADS__CLIENT_ID and REVOPS_ADS__CLIENT_SECRET (or REVOPS_ADS__TOKEN)"


class RateLimited(TransientSourceError):
    """The API answered 429; ``retry_after`` is the wait it asked for (None: not said)."""

    def __init__(self, message: str, retry_after: float | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return seconds if seconds > 0 else None


class SlidingWindowLimiter:
    """At most ``per_minute`` calls in any 60 seconds; :meth:`wait` sleeps when needed."""

    def __init__(
        self, per_minute: int, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        self.per_minute = per_minute
        self._clock, self._sleep = clock, sleep
        self._calls: deque[float] = deque()

    def wait(self) -> None:
        """Block until one more call fits in the window, then count it."""
        if self.per_minute <= 0:
            return
        now = self._clock()
        while self._calls and now - self._calls[0] >= 60.0:
            self._calls.popleft()
        if len(self._calls) >= self.per_minute:
            self._sleep(60.0 - (now - self._calls[0]))
            now = self._clock()
            self._calls.popleft()
        self._calls.append(now)


class ClientCredentialsAuth(httpx.Auth):
    """OAuth2 client credentials: a cached token, refreshed before expiry and once on a 401."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        leeway_s: float = 60.0,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_url, self.client_id = token_url, client_id
        self._secret = client_secret
        self.leeway_s, self.timeout_s, self._clock = leeway_s, timeout_s, clock
        self._token: str | None = None
        self._expires_at: float | None = None
        self.fetched = 0

    def __repr__(self) -> str:  # never show the secret or the token
        return f"<ClientCredentialsAuth {self.token_url} client_id={self.client_id}>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._stale():
            self.fetch()
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            self.fetch()
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _stale(self) -> bool:
        if self._token is None:
            return True
        return self._expires_at is not None and self._clock() >= self._expires_at - self.leeway_s

    def fetch(self) -> None:
        """Get a new token from the token endpoint (RFC 6749 section 4.4, HTTP Basic client
        authentication)."""
        try:
            response = httpx.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self._secret),
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as exc:
            raise TransientSourceError(
                f"cannot get an ads API token ({type(exc).__name__})",
                input=self.token_url,
                where="[ads] token_url",
                hint="check that the token endpoint is reachable",
            ) from exc
        if response.status_code >= 500:
            raise TransientSourceError(
                f"the ads token endpoint failed with {response.status_code}", input=self.token_url
            )
        try:
            token = response.json()
        except ValueError:
            token = {}
        if response.status_code != 200 or not token.get("access_token"):
            error = token.get("error") or f"HTTP {response.status_code}"
            raise TerminalSourceError(
                f"the ads API token endpoint refused the client credentials ({error})",
                input=self.token_url,
                where="[ads] token_url",
                hint=SECRET_HINT,
            )
        self._token = str(token["access_token"])
        expires_in = token.get("expires_in")
        self._expires_at = self._clock() + float(expires_in) if expires_in else None
        self.fetched += 1


class StaticTokenAuth(httpx.Auth):
    """A fixed bearer token (``REVOPS_ADS__TOKEN``)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "<StaticTokenAuth>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class AdsClient:
    """Reads report pages of one date; every call obeys the limiter and the retry policy."""

    def __init__(
        self,
        cfg: Any,
        auth: httpx.Auth,
        *,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not cfg.base_url:
            raise ConfigError(
                "the ads extractor needs the API's address",
                where="[ads] base_url / REVOPS_ADS__BASE_URL",
                hint="set base_url, e.g. http://127.0.0.1:8765 for `revops dev ads-api`",
            )
        self.cfg = cfg
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._limiter = SlidingWindowLimiter(cfg.rate_limit_per_minute, clock, sleep)
        self._http = httpx.Client(
            base_url=cfg.base_url.rstrip("/"), auth=auth, timeout=cfg.timeout_s
        )
        self.requests = 0
        self.waits: list[float] = []

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> AdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pages(self, day: date) -> Iterator[tuple[int, list[Any]]]:
        """(page number, campaigns) for every page of ``day``'s report."""
        page = 1
        while True:
            body = self.page(day, page)
            campaigns = body.get("campaigns")
            if not isinstance(campaigns, list):
                raise TerminalSourceError(
                    "the ads API answer has no campaigns list",
                    input=self._url(day, page),
                    hint="check [ads] base_url points at the reporting API",
                )
            yield page, campaigns
            if not body.get("has_next_page"):
                return
            page += 1
            if page > self.cfg.max_pages:
                raise TerminalSourceError(
                    f"the ads API still says has_next_page after {self.cfg.max_pages} pages",
                    input=self._url(day, page),
                    hint="raise [ads] max_pages if this is real",
                )

    def page(self, day: date, page: int) -> dict[str, Any]:
        """One page, retried per the policy; raises a clear error when retries run out."""
        failures = rate_waits = 0
        while True:
            try:
                return self._get(day, page)
            except RateLimited as exc:
                rate_waits += 1
                if rate_waits > self.cfg.max_rate_limit_waits:
                    raise self._gave_up(exc, day, page, rate_waits) from exc
                self._wait(self._rate_limit_delay(exc.retry_after))
            except TransientSourceError as exc:
                failures += 1
                if failures > self.cfg.max_retries:
                    raise self._gave_up(exc, day, page, failures) from exc
                self._wait(self._backoff(failures))

    def _get(self, day: date, page: int) -> dict[str, Any]:
        self._limiter.wait()
        self.requests += 1
        params = {
            "date": day.isoformat(),
            "page": page,
            "per_page": self.cfg.per_page,
            "metrics": METRICS,
        }
        url = self._url(day, page)
        try:
            response = self._http.get("/v1/reports", params=params)
        except httpx.TimeoutException as exc:
            raise TransientSourceError("the ads API timed out", input=url) from exc
        except httpx.TransportError as exc:
            raise TransientSourceError(
                f"cannot reach the ads API ({type(exc).__name__})", input=url
            ) from exc
        status = response.status_code
        if status == 429:
            raise RateLimited(
                "the ads API rate-limited the request (429)",
                parse_retry_after(response.headers.get("Retry-After")),
                input=url,
            )
        if status >= 500:
            raise TransientSourceError(f"the ads API failed with {status}", input=url)
        if status == 401:
            raise TerminalSourceError(
                "the ads API refused the token (401), also after getting a new one",
                input=url,
                hint=SECRET_HINT,
            )
        if status >= 400:
            raise TerminalSourceError(
                f"the ads API refused the request ({status}): {response.text[:200]}",
                input=url,
                hint="check [ads] base_url and the date",
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise TerminalSourceError(
                "the ads API answered with something that is not JSON", input=url
            ) from exc
        if not isinstance(body, dict):
            raise TerminalSourceError("the ads API answer is not a JSON object", input=url)
        return body

    def _url(self, day: date, page: int) -> str:
        return f"{self.cfg.base_url.rstrip('/')}/v1/reports?date={day}&page={page}"

    def _rate_limit_delay(self, retry_after: float | None) -> float:
        floor = self.cfg.backoff_floor_s
        return min(max(retry_after or floor, floor), self.cfg.retry_after_max_s)

    def _backoff(self, failures: int) -> float:
        floor = self.cfg.backoff_floor_s
        ceiling = min(self.cfg.backoff_max_s, floor * 2 ** (failures - 1))
        return self._rng.uniform(floor, max(floor, ceiling))

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._sleep(seconds)

    def _gave_up(self, exc: Exception, day: date, page: int, tries: int) -> TerminalSourceError:
        unreachable = "cannot reach" in str(exc) or "timed out" in str(exc)
        hint = (
            "check [ads] base_url / REVOPS_ADS__BASE_URL and that the API is up"
            if unreachable
            else "try again later; raise [ads] max_retries if it is flaky"
        )
        return TerminalSourceError(
            f"ads API: giving up on page {page} of {day} after {tries} attempts: "
            f"{getattr(exc, 'message', exc)}",
            input=self._url(day, page),
            where="[ads] base_url",
            hint=hint,
        )
