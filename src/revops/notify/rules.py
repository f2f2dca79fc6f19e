"""Notification rules for important events (``[notify]``): which events, which fields.

A rule matches envelope types (glob patterns) and, optionally, field values; a match becomes
one outbox message keyed ``<rule>:<event_id>`` (so at most one per rule and event, whatever the
redeliveries). The message carries only the fields the rule names: no other part of the event
(no e-mail addresses, no names the rule did not ask for) ever leaves the warehouse.

Field paths are dotted (``status_transitions.paid_at``) and read from the event's *record*:
``data.object`` of a Stripe event, the change payload of a Salesforce CDC event, the payload of
a neutral envelope. ``a|b`` tries ``a`` then ``b``; ``$record_id``, ``$event_id`` and ``$type``
name the envelope itself.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from revops.envelope import Envelope
from revops.sources.salesforce import record_id_of

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.ingest.land import LandItem
    from revops.warehouse.base import Warehouse

log = logging.getLogger(__name__)
OutboxEntry = tuple[str, str, str, str]  # key, channel, kind, payload JSON


class NotifyRule(BaseModel):
    """One rule: events of ``types`` whose fields equal ``where`` produce a message."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    types: list[str]
    where: dict[str, Any] = Field(default_factory=dict)  # path → value or list of values
    fields: dict[str, str] = Field(default_factory=dict)  # label → path
    text: str = "{rule}: {event_id}"
    channel: str = "slack"


def default_rules() -> list[NotifyRule]:
    """The seed's important events: opportunity Closed Won / Closed Lost, invoice paid."""
    opportunity_fields = {
        "opportunity": "$record_id|opportunity_id",
        "name": "Name|opportunity_name",
        "amount": "Amount|amount",
        "stage": "StageName|stage_name",
    }
    return [
        NotifyRule(
            name="opportunity_closed_won",
            types=["salesforce.opportunity.*"],
            where={"StageName|stage_name": "Closed Won"},
            fields=opportunity_fields,
            text=":trophy: {name} ({opportunity}) → Closed Won ({amount})",
        ),
        NotifyRule(
            name="opportunity_closed_lost",
            types=["salesforce.opportunity.*"],
            where={"StageName|stage_name": "Closed Lost"},
            fields=opportunity_fields,
            text=":x: {name} ({opportunity}) → Closed Lost ({amount})",
        ),
        NotifyRule(
            name="invoice_paid",
            types=["stripe.invoice.paid"],
            fields={
                "invoice": "id|invoice_id",
                "amount": "amount_paid|amount_due",
                "currency": "currency",
                "customer": "customer|customer_id",
            },
            text=":money_with_wings: invoice {invoice} paid: {amount} {currency}",
        ),
    ]


class NotifyConfig(BaseModel):
    """``[notify]``: whether and how often to deliver, and the rules (defaults above)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    interval_s: float = Field(2.0, gt=0)
    rules: list[NotifyRule] = Field(default_factory=default_rules)


def notify_config(settings: Settings) -> NotifyConfig:
    """The validated ``[notify]`` section."""
    return settings.model("notify", NotifyConfig)


def record_of(env: Envelope) -> dict[str, Any]:
    """The part of the payload field paths are read from."""
    payload = env.payload
    if env.source == "stripe":
        obj = (
            payload.get("data", {}).get("object") if isinstance(payload.get("data"), dict) else None
        )
        return obj if isinstance(obj, dict) else payload
    if env.source == "salesforce":
        for inner in (payload, payload.get("data")):
            if isinstance(inner, dict) and isinstance(inner.get("payload"), dict):
                return inner["payload"]
    return payload


def lookup(env: Envelope, record: dict[str, Any], path: str) -> Any:
    """The value at ``path`` (alternatives ``a|b``), or None."""
    for option in path.split("|"):
        option = option.strip()
        if option == "$record_id":
            value: Any = record_id_of(env.event_id) if env.source == "salesforce" else None
        elif option == "$event_id":
            value = env.event_id
        elif option == "$type":
            value = env.type
        else:
            value = record
            for part in option.split("."):
                value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            return value
    return None


def _matches(rule: NotifyRule, env: Envelope, record: dict[str, Any]) -> bool:
    for path, wanted in rule.where.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        if lookup(env, record, path) not in options:
            return False
    return True


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def message_for(rule: NotifyRule, env: Envelope) -> dict[str, Any] | None:
    """The outbox payload of ``rule`` for ``env``, or None when it does not match."""
    if not any(fnmatch.fnmatchcase(env.type, p) for p in rule.types):
        return None
    record = record_of(env)
    if not _matches(rule, env, record):
        return None
    fields = {label: lookup(env, record, path) for label, path in rule.fields.items()}
    values = _Blank({k: "?" if v is None else v for k, v in fields.items()})
    values.update(rule=rule.name, event_id=env.event_id, type=env.type)
    try:
        text = rule.text.format_map(values)
    except (ValueError, AttributeError, IndexError, KeyError):
        text = f"{rule.name}: {env.event_id}"
    return {
        "text": text,
        "rule": rule.name,
        "event_id": env.event_id,
        "type": env.type,
        "event_ts": env.event_ts.isoformat(),
        "fields": fields,
    }


def notifications_for(
    rules: Sequence[NotifyRule], envelopes: Iterable[Envelope]
) -> list[tuple[str, NotifyRule, dict[str, Any]]]:
    """(key, rule, payload) of every rule matching each envelope."""
    out = []
    for env in envelopes:
        for rule in rules:
            try:
                payload = message_for(rule, env)
            except Exception:  # a rule that cannot read an event skips it
                log.exception("notify rule %s could not read %s", rule.name, env.event_id)
                continue
            if payload is not None:
                out.append((f"{rule.name}:{env.event_id}", rule, payload))
    return out


class RuleSet:
    """Rules compiled for the loader: a quick type test, then the outbox entries of the
    events it has just stored."""

    def __init__(self, rules: Sequence[NotifyRule]) -> None:
        self.rules = list(rules)
        self._patterns = [p for r in self.rules for p in r.types]
        self._cache: dict[str, bool] = {}

    def concerns(self, type_: str) -> bool:
        """True when some rule may match events of ``type_``."""
        hit = self._cache.get(type_)
        if hit is None:
            hit = any(fnmatch.fnmatchcase(type_, p) for p in self._patterns)
            if len(self._cache) < 10_000:
                self._cache[type_] = hit
        return hit

    def entries(self, envelopes: Iterable[Envelope]) -> list[OutboxEntry]:
        """Outbox entries of every rule matching each envelope."""
        wanted = [e for e in envelopes if self.concerns(e.type)]
        return [
            (key, rule.channel, rule.name, orjson.dumps(payload, default=str).decode())
            for key, rule, payload in notifications_for(self.rules, wanted)
        ]


def enqueue_entries(wh: Warehouse, entries: Sequence[OutboxEntry]) -> int:
    """Insert outbox entries whose key is not queued yet (one bulk insert); returns how many.

    Call it in the transaction that stored the events, so a message exists only for a stored
    event; a key already queued is skipped, so each (rule, event) is notified at most once.
    """
    from revops.outputs.outbox import OUTBOX_COLUMNS

    unique = {e[0]: e for e in entries}
    if not unique:
        return 0
    existing = {
        r["key"]
        for r in wh.query(
            "SELECT key FROM revops.notifications_outbox "
            "WHERE key IN (SELECT unnest(CAST(? AS VARCHAR[])))",
            (list(unique),),
        )
    }
    now = datetime.now(UTC)
    rows = [
        (key, channel, kind, payload, "pending", 0, now, now)
        for key, channel, kind, payload in unique.values()
        if key not in existing
    ]
    if rows:
        wh.insert_rows("revops.notifications_outbox", OUTBOX_COLUMNS, rows)
    return len(rows)


def enqueue_notifications(
    wh: Warehouse, rules: Sequence[NotifyRule], items: Iterable[LandItem]
) -> int:
    """Queue the messages of newly stored events in the outbox; returns how many were new.

    Same promise as :func:`enqueue_entries`: call it in the transaction that stored them.
    """
    return enqueue_entries(wh, RuleSet(rules).entries(i.envelope for i in items))
