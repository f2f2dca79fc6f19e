"""Deliver a rendered report: copy it to stores by URL (fsspec) and email it over SMTP.

A destination is a URL: a folder (``/srv/reports``, ``file:///srv/reports``), ``s3://bucket/
prefix`` (s3fs; endpoint from ``[reports] s3_endpoint_url`` for S3-compatible servers,
credentials from the usual ``AWS_*`` environment) or ``gs://bucket/prefix`` (gcsfs). Every
file keeps the seed's key under the destination, so re-delivering a day overwrites the same
objects. Transient failures (connection refused, timeouts, 5xx, SMTP 4xx) are retried with
exponential backoff; every attempt that fails and every outcome is written to
``audit_events``. Delivery never raises for a failing channel: the result says which
destinations failed and why, and the local files stay where :func:`render_report` put them.
"""

from __future__ import annotations

import base64
import hashlib
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from revops.audit import audit
from revops.errors import ConfigError, DeliveryError
from revops.outputs.reports.settings import EmailSettings, ReportsSettings

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.outputs.reports.bundle import ReportBundle
    from revops.warehouse.base import Warehouse

CONTENT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
_URL_CREDENTIALS = re.compile(r"(://)[^/\s:@]+:[^/\s@]+@")
_DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
TERMINAL_ERRORS: tuple[type[BaseException], ...] = (
    PermissionError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    ValueError,
    TypeError,
    ConfigError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
    ssl.SSLCertVerificationError,
)


@dataclass(frozen=True)
class DestinationOutcome:
    """What happened at one destination (a store URL or the email recipients)."""

    destination: str
    kind: str  # "store" or "email"
    ok: bool
    attempts: int
    files: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """Every destination's outcome; ``ok`` only when all of them delivered."""

    local: tuple[str, ...]
    outcomes: tuple[DestinationOutcome, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every destination delivered (no destination configured is ok)."""
        return all(o.ok for o in self.outcomes)

    @property
    def failed(self) -> list[DestinationOutcome]:
        """The destinations that did not deliver."""
        return [o for o in self.outcomes if not o.ok]

    @property
    def delivered_files(self) -> list[str]:
        """URLs of every file delivered to a store (email recipients not included)."""
        return [f for o in self.outcomes if o.ok and o.kind == "store" for f in o.files]

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON output, the run's status and audit details."""
        return {
            "ok": self.ok,
            "local": list(self.local),
            "destinations": [
                {
                    "destination": o.destination,
                    "kind": o.kind,
                    "ok": o.ok,
                    "attempts": o.attempts,
                    "files": list(o.files),
                    "reason": o.reason,
                }
                for o in self.outcomes
            ],
        }


def redact(text: str) -> str:
    """``text`` with any ``user:password@`` of a URL masked."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def describe(exc: BaseException) -> str:
    """A short, secret-free reason for a failed attempt."""
    return redact(f"{type(exc).__name__}: {exc}")[:500]


def is_transient(exc: BaseException) -> bool:
    """True when retrying may help: connection trouble, timeouts, 5xx, SMTP 4xx."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= int(code) < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, DeliveryError):
        return False
    return not isinstance(exc, TERMINAL_ERRORS)


# ---- retries ---------------------------------------------------------------------------------


def _attempt(
    action: Callable[[], Any], cfg: ReportsSettings, on_retry: Callable[[int, BaseException], None]
) -> tuple[int, BaseException | None]:
    """Run ``action`` with retries; returns (attempts made, the final error or None)."""
    from tenacity import (
        RetryCallState,
        Retrying,
        retry_if_exception,
        stop_after_attempt,
        wait_exponential,
    )

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if error is not None:
            on_retry(state.attempt_number, error)

    retrying = Retrying(
        stop=stop_after_attempt(cfg.retries + 1),
        wait=wait_exponential(multiplier=cfg.retry_base_seconds, max=60),
        retry=retry_if_exception(is_transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    attempts = 0
    try:
        for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                action()
    except Exception as exc:
        return attempts, exc
    return attempts, None


# ---- stores ----------------------------------------------------------------------------------


def open_store(url: str, cfg: ReportsSettings) -> tuple[Any, str]:
    """The fsspec filesystem and root path of a destination URL (driver imported lazily)."""
    import fsspec
    from fsspec.core import split_protocol

    protocol = split_protocol(url)[0] or "file"
    options: dict[str, Any] = dict(cfg.storage_options)
    if protocol in ("file", "local"):
        options.setdefault("auto_mkdir", True)
    if protocol in ("s3", "s3a") and cfg.s3_endpoint_url:
        options.setdefault("endpoint_url", cfg.s3_endpoint_url)
    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise ConfigError(
            f"no driver for the report destination {redact(url)}: {exc}",
            where="[reports] destinations",
            hint="install revops[reports] (s3://) or gcsfs (gs://)",
        ) from exc
    return fs, root.rstrip("/")


def _put_kwargs(protocol: str, kind: str) -> dict[str, Any]:
    if protocol in ("s3", "s3a"):
        return {"ContentType": CONTENT_TYPES[kind]}
    if protocol in ("gs", "gcs"):
        return {"content_type": CONTENT_TYPES[kind]}
    return {}


def _deliver_to_store(
    url: str,
    bundle: ReportBundle,
    cfg: ReportsSettings,
    on_retry: Callable[[int, BaseException], None],
) -> DestinationOutcome:
    from fsspec.core import split_protocol

    protocol = split_protocol(url)[0] or "file"
    delivered: list[str] = []

    def upload() -> None:
        fs, root = open_store(url, cfg)
        for kind, key, path in bundle.files():
            target = f"{root}/{key}"
            if target in delivered:
                continue
            fs.pipe_file(target, path.read_bytes(), **_put_kwargs(protocol, kind))
            delivered.append(target)

    attempts, error = _attempt(upload, cfg, on_retry)
    shown = [f"{url.rstrip('/')}/{key}" for _, key, _ in bundle.files()][: len(delivered)]
    if error is not None:
        return DestinationOutcome(
            redact(url), "store", False, attempts, tuple(shown), describe(error)
        )
    return DestinationOutcome(redact(url), "store", True, attempts, tuple(shown))


# ---- email -----------------------------------------------------------------------------------


def html_for_email(html: str) -> tuple[str, dict[str, bytes]]:
    """The HTML with its data: URI images replaced by ``cid:`` references, and the images."""
    images: dict[str, bytes] = {}

    def to_cid(match: re.Match[str]) -> str:
        png = base64.b64decode(match.group(1))
        cid = f"chart-{hashlib.sha256(png).hexdigest()[:16]}@revops"
        images[cid] = png
        return f'src="cid:{cid}"'

    return _DATA_URI.sub(to_cid, html), images


def build_email(cfg: EmailSettings, bundle: ReportBundle) -> EmailMessage:
    """The report email: HTML body with inline (CID) charts, a plain-text alternative, and the
    text report and KPI CSV attached."""
    text = bundle.text_path.read_text(encoding="utf-8")
    html, images = html_for_email(bundle.html_path.read_text(encoding="utf-8"))
    msg = EmailMessage()
    msg["Subject"] = cfg.subject.format(day=bundle.day.isoformat())
    msg["From"] = cfg.from_
    msg["To"] = ", ".join(cfg.to)
    if cfg.cc:
        msg["Cc"] = ", ".join(cfg.cc)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="revops")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    html_part: EmailMessage = msg.get_payload()[1]  # type: ignore[index, assignment]
    for cid, png in images.items():
        html_part.add_related(
            png,
            "image",
            "png",
            cid=f"<{cid}>",
            filename=cid.split("@")[0] + ".png",
            disposition="inline",
        )
    msg.add_attachment(text, subtype="plain", charset="utf-8", filename=bundle.text_path.name)
    msg.add_attachment(
        bundle.csv_path.read_text(encoding="utf-8"),
        subtype="csv",
        charset="utf-8",
        filename=bundle.csv_path.name,
    )
    return msg


def _tls_context(cfg: EmailSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cfg.ca_file)


def send_email(cfg: EmailSettings, msg: EmailMessage, password: str | None) -> None:
    """Send ``msg`` over SMTP with the configured security; raises smtplib / OS errors."""
    assert cfg.host is not None
    if cfg.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            cfg.host, cfg.effective_port, timeout=cfg.timeout_seconds, context=_tls_context(cfg)
        )
    else:
        client = smtplib.SMTP(cfg.host, cfg.effective_port, timeout=cfg.timeout_seconds)
    with client:
        if cfg.security == "starttls":
            client.starttls(context=_tls_context(cfg))
        if cfg.user:
            client.login(cfg.user, password or "")
        client.send_message(msg, to_addrs=[*cfg.to, *cfg.cc])


def _email_password(settings: Settings, cfg: EmailSettings) -> str | None:
    if not cfg.user:
        return None
    return settings.require_secret("email", "password", f"SMTP login as {cfg.user}")


def _deliver_email(
    settings: Settings,
    cfg: EmailSettings,
    bundle: ReportBundle,
    rcfg: ReportsSettings,
    on_retry: Callable[[int, BaseException], None],
) -> DestinationOutcome:
    name = f"email:{','.join(cfg.to)}"
    try:
        password = _email_password(settings, cfg)
        msg = build_email(cfg, bundle)
    except Exception as exc:
        return DestinationOutcome(name, "email", False, 0, (), describe(exc))
    attempts, error = _attempt(lambda: send_email(cfg, msg, password), rcfg, on_retry)
    if error is not None:
        return DestinationOutcome(name, "email", False, attempts, (), describe(error))
    return DestinationOutcome(name, "email", True, attempts, tuple(cfg.to))


# ---- all destinations ------------------------------------------------------------------------


def deliver_report(
    settings: Settings, bundle: ReportBundle, wh: Warehouse | None = None
) -> DeliveryResult:
    """Copy the bundle to every ``[reports] destinations`` URL and email it when ``[email]``
    is configured. Never raises for a failing destination; with ``wh`` every failed attempt
    and every outcome is audited (resource ``report:<day>``, action ``deliver:<destination>``).
    """
    rcfg = settings.model("reports", ReportsSettings)
    ecfg = settings.model("email", EmailSettings)
    resource = f"report:{bundle.day.isoformat()}"

    def auditor(destination: str) -> Callable[[int, BaseException], None]:
        def on_retry(attempt: int, exc: BaseException) -> None:
            if wh is not None:
                audit(
                    wh,
                    resource,
                    f"deliver:{destination}",
                    "retrying",
                    request_id=bundle.run_id,
                    detail={"attempt": attempt, "error": describe(exc)},
                )

        return on_retry

    outcomes = [
        _deliver_to_store(url, bundle, rcfg, auditor(redact(url))) for url in rcfg.destinations
    ]
    if ecfg.enabled:
        outcomes.append(
            _deliver_email(settings, ecfg, bundle, rcfg, auditor(f"email:{','.join(ecfg.to)}"))
        )
    if wh is not None:
        for o in outcomes:
            audit(
                wh,
                resource,
                f"deliver:{o.destination}",
                "ok" if o.ok else "failed",
                request_id=bundle.run_id,
                detail={"attempts": o.attempts, "files": list(o.files), "reason": o.reason},
            )
    return DeliveryResult(tuple(str(p) for _, _, p in bundle.files()), tuple(outcomes))
