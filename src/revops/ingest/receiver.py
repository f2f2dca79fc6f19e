"""The receiver's logic, free of any web framework: authenticate a body, turn it into bus
messages, or reject it with a status and a reason.

Three endpoints share it: Stripe (``Stripe-Signature``, verified by the official ``stripe``
library, several secrets accepted during rotation), Salesforce Change Data Capture and neutral
envelopes (``X-Revops-Signature: sha256=<hex HMAC-SHA256 of the body>`` or a bearer token).
Every rejection is a :class:`Rejection` naming its HTTP status and a short reason code.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from revops.envelope import Envelope
from revops.errors import EventError
from revops.ingest.bus import BusMessage
from revops.sources.detect import normalize_envelope, normalize_record

JSON_TYPES = ("application/json",)
NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
)
SIGNATURE_HEADER = "x-revops-signature"


@dataclass
class Rejection(Exception):
    """A request the receiver refuses: ``status`` is the HTTP answer, ``reason`` a code.

    ``dead_letter`` is True when the body was authenticated but could not be understood, so
    its bytes are kept in ``dead_letters``.
    """

    status: int
    reason: str
    message: str
    dead_letter: bool = False

    def body(self) -> dict[str, str]:
        """The JSON error answered to the sender."""
        return {"error": self.message, "reason": self.reason}


@dataclass(frozen=True)
class Credentials:
    """Secrets of one endpoint (never printed: the repr hides them)."""

    secrets: tuple[str, ...] = ()
    token: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(secrets={len(self.secrets)}, token={'set' if self.token else None})"

    @property
    def configured(self) -> bool:
        """True when at least one way to authenticate is set."""
        return bool(self.secrets or self.token)


def split_secrets(value: str | None) -> tuple[str, ...]:
    """A comma-separated secret list (rotation: old and new both verify)."""
    return tuple(s.strip() for s in (value or "").split(",") if s.strip())


# -- content type -------------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    """The media type without parameters, lower case (``''`` when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None, allowed: Sequence[str]) -> str:
    """The media type when it is one of ``allowed`` (or ``*/*+json``), else a 415."""
    kind = media_type(content_type)
    if kind in allowed or (kind.endswith("+json") and "application/json" in allowed):
        return kind
    raise Rejection(
        415,
        "unsupported_media_type",
        f"content type {kind or 'missing'!r} is not accepted here; send " + " or ".join(allowed),
    )


# -- authentication -----------------------------------------------------------------------


def verify_stripe(body: bytes, header: str | None, creds: Credentials, tolerance: int) -> None:
    """Verify ``Stripe-Signature`` over the raw body with the ``stripe`` library.

    Any of the configured secrets may match (rotation). Raises a 400 :class:`Rejection` with
    reason ``missing_signature``, ``expired_signature`` or ``bad_signature``.
    """
    from stripe import SignatureVerificationError, WebhookSignature

    if not header:
        raise Rejection(400, "missing_signature", "the Stripe-Signature header is missing")
    expired = False
    for secret in creds.secrets:
        try:
            WebhookSignature.verify_header(body, header, secret, tolerance)
            return
        except SignatureVerificationError as exc:
            expired = expired or "tolerance" in str(exc).lower()
        except UnicodeDecodeError:
            break
    if expired:
        raise Rejection(
            400, "expired_signature", f"the Stripe-Signature timestamp is older than {tolerance} s"
        )
    raise Rejection(400, "bad_signature", "the Stripe-Signature does not match the body")


def verify_hmac(body: bytes, headers: Mapping[str, str], creds: Credentials) -> None:
    """Accept ``X-Revops-Signature: sha256=<hex>`` over the body or ``Authorization: Bearer``.

    Comparisons take constant time. Raises a 401 :class:`Rejection` otherwise.
    """
    signature = headers.get(SIGNATURE_HEADER)
    if signature and creds.secrets:
        given = signature.strip()
        given = given[len("sha256=") :] if given.lower().startswith("sha256=") else given
        for secret in creds.secrets:
            expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, given.lower()):
                return
        raise Rejection(401, "bad_signature", "X-Revops-Signature does not match the body")
    auth = headers.get("authorization")
    if auth and creds.token:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), creds.token.encode()
        ):
            return
        raise Rejection(401, "bad_token", "the bearer token is not valid")
    raise Rejection(
        401,
        "missing_credentials",
        "send X-Revops-Signature: sha256=<hex HMAC-SHA256 of the body> or "
        "Authorization: Bearer <token>",
    )


# -- bodies → messages --------------------------------------------------------------------


@dataclass
class Parsed:
    """The events of one request: messages to publish (with their envelopes, in the same
    order) and how many were filtered out by type."""

    messages: list[BusMessage]
    ignored: int = 0
    envelopes: list[Envelope] = field(default_factory=list)


class TypeFilter:
    """Which envelope types are accepted: glob patterns, ``*`` for all."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns) or ("*",)
        self.everything = "*" in self.patterns
        self._cache: dict[str, bool] = {}

    def __call__(self, type_: str) -> bool:
        if self.everything:
            return True
        hit = self._cache.get(type_)
        if hit is None:
            hit = any(fnmatch.fnmatchcase(type_, p) for p in self.patterns)
            if len(self._cache) < 10_000:
                self._cache[type_] = hit
        return hit


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Rejection(
            400, "malformed_json", f"the body is not valid JSON: {exc}", dead_letter=True
        ) from exc


def _bad_event(exc: EventError, where: str = "") -> Rejection:
    return Rejection(400, exc.reason, f"{where}{exc.message}", dead_letter=True)


def message_of(
    env: Envelope, body: bytes, request_id: str | None, received_at: float
) -> BusMessage:
    """The bus message carrying ``env`` whose payload JSON is ``body``."""
    return BusMessage(
        source=env.source,
        body=body,
        event_id=env.event_id,
        type=env.type,
        event_ts=env.event_ts.isoformat(),
        correlation_id=env.correlation_id,
        request_id=request_id,
        received_at=received_at,
    )


def _keep(
    envs: list[tuple[Envelope, bytes]],
    accept: TypeFilter,
    request_id: str | None,
    received_at: float,
) -> Parsed:
    out = Parsed([])
    for env, body in envs:
        if accept(env.type):
            out.messages.append(message_of(env, body, request_id, received_at))
            out.envelopes.append(env)
        else:
            out.ignored += 1
    return out


def parse_stripe(
    body: bytes, accept: TypeFilter, request_id: str | None = None, received_at: float | None = None
) -> Parsed:
    """One Stripe event object; its payload is the body exactly as received."""
    obj = _loads(body)
    try:
        envs = normalize_record(obj, "stripe")
    except EventError as exc:
        raise _bad_event(exc) from exc
    return _keep([(e, body) for e in envs], accept, request_id, received_at or time.time())


def parse_salesforce(
    body: bytes, accept: TypeFilter, request_id: str | None = None, received_at: float | None = None
) -> Parsed:
    """One CDC event or a JSON array of them; one message per record id."""
    obj = _loads(body)
    records = obj if isinstance(obj, list) else [obj]
    if not records:
        raise Rejection(400, "empty_batch", "the array holds no events", dead_letter=True)
    envs: list[tuple[Envelope, bytes]] = []
    for n, record in enumerate(records):
        try:
            found = normalize_record(record, "salesforce")
        except EventError as exc:
            raise _bad_event(exc, f"event {n}: " if len(records) > 1 else "") from exc
        text = body if not isinstance(obj, list) else orjson.dumps(record)
        envs.extend((e, text) for e in found)
    return _keep(envs, accept, request_id, received_at or time.time())


def parse_events(
    body: bytes,
    kind: str,
    accept: TypeFilter,
    request_id: str | None = None,
    received_at: float | None = None,
) -> Parsed:
    """Neutral envelopes: one JSON object, or NDJSON (one per line) when ``kind`` says so."""
    if kind in NDJSON_TYPES:
        lines = [line for line in body.splitlines() if line.strip()]
        if not lines:
            raise Rejection(400, "empty_batch", "the NDJSON body holds no events", dead_letter=True)
    else:
        lines = [body]
    envs: list[tuple[Envelope, bytes]] = []
    for n, line in enumerate(lines, start=1):
        where = f"line {n}: " if len(lines) > 1 else ""
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise Rejection(
                400, "malformed_json", f"{where}not valid JSON: {exc}", dead_letter=True
            ) from exc
        if not isinstance(obj, dict) or not {"source", "type", "payload"} <= obj.keys():
            raise Rejection(
                400,
                "invalid_envelope",
                f"{where}expected an envelope {{source, type, event_ts, event_id, payload}}",
                dead_letter=True,
            )
        try:
            env = normalize_envelope(obj)
        except EventError as exc:
            raise _bad_event(exc, where) from exc
        envs.append((env, orjson.dumps(env.payload)))
    return _keep(envs, accept, request_id, received_at or time.time())


def dead_letter_message(
    source: str, reason: str, body: bytes, detail: dict[str, Any], request_id: str | None
) -> BusMessage:
    """A bus message carrying a rejected, authenticated body to ``dead_letters``."""
    return BusMessage(
        source=source,
        body=body,
        reason=reason,
        request_id=request_id,
        detail=orjson.dumps(detail, default=str).decode(),
        received_at=time.time(),
    )
