"""Who may see the dashboard: a bearer token or basic-auth credentials from the environment.

``REVOPS_DASHBOARD__TOKEN`` enables ``Authorization: Bearer <token>`` (and ``/?token=<token>``,
which sets a session cookie so the browser's stream and API calls carry it).
``REVOPS_DASHBOARD__PASSWORD`` with ``[dashboard] user`` enables HTTP basic auth. With neither
set the dashboard is open: keep ``revops serve`` bound to 127.0.0.1 then. Secrets are compared
in constant time and never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict

from revops.config import Settings

log = logging.getLogger(__name__)

COOKIE = "revops_dashboard"


class DashboardSettings(BaseModel):
    """``[dashboard]``: the basic-auth user name, number locale, page title, and the currency
    the marketing marts are reported in (they carry no currency column)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not ignored

    user: str = "revops"
    locale: str = "ja-JP"
    title: str = "revops"
    marketing_currency: str = "JPY"


@dataclass(frozen=True)
class Access:
    """The configured credentials; :meth:`check` raises 401 for a request without them."""

    token: str | None = field(default=None, repr=False)
    user: str = "revops"
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        """Credentials from ``REVOPS_DASHBOARD__TOKEN`` / ``__PASSWORD``, ``[dashboard] user``."""
        conf = settings.model("dashboard", DashboardSettings)
        access = cls(
            token=settings.secret("dashboard", "token"),
            user=conf.user,
            password=settings.secret("dashboard", "password"),
        )
        if not access.enabled:
            log.warning(
                "dashboard: no REVOPS_DASHBOARD__TOKEN or REVOPS_DASHBOARD__PASSWORD "
                "set; the dashboard is open to anyone who can reach the server"
            )
        return access

    @property
    def enabled(self) -> bool:
        """True when some credential is required."""
        return bool(self.token or self.password)

    def cookie_value(self) -> str:
        """The session cookie for a browser that presented the token (not the token itself)."""
        assert self.token
        return hmac.new(
            self.token.encode(), b"revops-dashboard-session", hashlib.sha256
        ).hexdigest()

    def token_ok(self, value: str) -> bool:
        """True when ``value`` is the configured token."""
        return bool(self.token) and _same(value, self.token or "")

    def allows(self, request: Request) -> bool:
        """True when ``request`` carries a valid credential (or none is configured)."""
        if not self.enabled:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if self.token:
            if scheme.lower() == "bearer" and self.token_ok(value.strip()):
                return True
            cookie = request.cookies.get(COOKIE)
            if cookie and _same(cookie, self.cookie_value()):
                return True
        if self.password and scheme.lower() == "basic":
            return self._basic_ok(value.strip())
        return False

    def _basic_ok(self, value: str) -> bool:
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Evaluate both comparisons so timing does not reveal which one failed.
        ok_user = _same(user, self.user)
        ok_password = _same(password, self.password or "")
        return ok_user and ok_password

    def challenge(self) -> dict[str, str]:
        """The ``WWW-Authenticate`` header of a 401."""
        if self.password:
            return {"WWW-Authenticate": 'Basic realm="revops", charset="UTF-8"'}
        return {"WWW-Authenticate": 'Bearer realm="revops"'}

    def check(self, request: Request) -> None:
        """FastAPI dependency: raise 401 unless :meth:`allows`."""
        if not self.allows(request):
            raise HTTPException(
                status_code=401, detail="authentication required", headers=self.challenge()
            )


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
