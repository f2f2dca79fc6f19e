"""A seeded synthetic company: deals moving through Salesforce stages, Stripe subscriptions
with monthly and annual invoices in JPY and USD, some paid late, some overdue, some void, and the
delivery noise real webhooks bring (duplicates, out-of-order, malformed lines).

Everything is deterministic for a given (seed, days, end).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson

from revops.demo import salesforce_events as sf
from revops.demo import stripe_events as st

STAGES = ("Prospecting", "Qualification", "Proposal/Price Quote", "Negotiation/Review")
COMPANIES = (
    "Acme",
    "Sakura Foods",
    "Kaze Logistics",
    "Hikari Labs",
    "Nami Retail",
    "Tsubasa Air",
    "Mori Energy",
    "Yama Tools",
    "Sora Media",
    "Umi Fisheries",
    "Kumo Cloud",
    "Hoshi Bank",
    "Ishi Works",
    "Taki Travel",
    "Kawa Textiles",
    "Fuji Motors",
    "Aoi Health",
    "Rin Games",
)
BASIL_SINCE = datetime(2025, 3, 31, tzinfo=UTC)


@dataclass
class Timeline:
    """Events as (time, order, native object) before delivery noise is added."""

    items: list[tuple[datetime, int, dict[str, Any]]] = field(default_factory=list)

    def add(self, at: datetime, obj: dict[str, Any]) -> None:
        """Record one event happening at ``at``."""
        self.items.append((at, len(self.items), obj))

    def ordered(self) -> list[dict[str, Any]]:
        """The events in the order they happened."""
        return [obj for _, _, obj in sorted(self.items, key=lambda t: (t[0], t[1]))]


@dataclass
class Deal:
    """One opportunity of the demo company."""

    opp_id: str
    account_id: str
    name: str
    currency: str
    amount: int
    created: datetime
    won_at: datetime | None = None


class Company:
    """Generates the demo company's native events."""

    def __init__(self, *, seed: int, days: int, end: date) -> None:
        self.rng = random.Random(seed)
        self.ids = st.StripeIds(self.rng)
        self.clock = sf.CdcClock(seed)
        self.end = datetime.combine(end, time(9, 0), tzinfo=UTC)
        self.start = self.end - timedelta(days=days)
        self.timeline = Timeline()
        self.deals: list[Deal] = []

    def _sfid(self, prefix: str) -> str:
        return prefix + "".join(
            self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(15)
        )

    def _at(self, base: datetime, lo_days: float, hi_days: float) -> datetime:
        moment = base + timedelta(days=self.rng.uniform(lo_days, hi_days))
        return moment.replace(microsecond=0)

    def run(self) -> list[dict[str, Any]]:
        """Simulate the whole history; returns events in the order they happened."""
        span = (self.end - self.start).days
        for n in range(max(8, span)):
            self._deal(n)
        return self.timeline.ordered()

    def _deal(self, n: int) -> None:
        rng = self.rng
        currency = "jpy" if rng.random() < 0.7 else "usd"
        amount = (
            rng.randrange(30, 300) * 10_000
            if currency == "jpy"
            else rng.randrange(50, 500) * 10_000
        )
        company = f"{COMPANIES[n % len(COMPANIES)]} {n // len(COMPANIES) + 1}"
        created = self._at(self.start, 0, max(1.0, (self.end - self.start).days - 12))
        deal = Deal(
            self._sfid("006"),
            self._sfid("001"),
            f"{company} subscription",
            currency,
            amount,
            created,
        )
        self.deals.append(deal)
        self.timeline.add(
            created,
            sf.opportunity_event(
                self.clock, "CREATE", deal.opp_id, created, self._fields(deal, STAGES[0])
            ),
        )
        at = created
        for stage in STAGES[1:]:
            at = self._at(at, 2, 12)
            if at >= self.end:
                return
            changes: dict[str, Any] = {"StageName": stage}
            if stage == "Negotiation/Review" and rng.random() < 0.3:
                deal.amount = int(deal.amount * rng.choice((0.9, 1.1, 1.2)))
                changes["Amount"] = _major(deal.amount, currency)
            self.timeline.add(
                at, sf.opportunity_event(self.clock, "UPDATE", deal.opp_id, at, changes)
            )
        at = self._at(at, 2, 10)
        if at >= self.end:
            return
        won = rng.random() < 0.62
        stage = "Closed Won" if won else "Closed Lost"
        self.timeline.add(
            at,
            sf.opportunity_event(
                self.clock,
                "UPDATE",
                deal.opp_id,
                at,
                {"StageName": stage, "CloseDate": at.date().isoformat()},
            ),
        )
        if n % 23 == 7:  # deleted by mistake and restored
            gone = self._at(at, 0.1, 1)
            self.timeline.add(
                gone, sf.opportunity_event(self.clock, "DELETE", deal.opp_id, gone, {})
            )
            back = self._at(gone, 0.1, 1)
            self.timeline.add(
                back, sf.opportunity_event(self.clock, "UNDELETE", deal.opp_id, back, {})
            )
        if won:
            deal.won_at = at
            if n % 29 == 11:  # won, but billing has not started yet
                return
            self._billing(deal, n)

    def _fields(self, deal: Deal, stage: str) -> dict[str, Any]:
        return {
            "Name": deal.name,
            "AccountId": deal.account_id,
            "Amount": _major(deal.amount, deal.currency),
            "CurrencyIsoCode": deal.currency.upper(),
            "StageName": stage,
            "CloseDate": (deal.created + timedelta(days=45)).date().isoformat(),
        }

    def _billing(self, deal: Deal, n: int) -> None:
        rng = self.rng
        assert deal.won_at is not None
        prepaid = n % 17 == 3
        cus_id = self.ids.new("cus").replace("cus_1", "cus_")[:18]
        email = f"billing{n}@example.com"
        created = self._at(deal.won_at, -4 if prepaid else 0, -3 if prepaid else 1)
        legacy = rng.random() < 0.3 or created < BASIL_SINCE
        api = st.LEGACY if legacy else st.BASIL
        self.timeline.add(
            created,
            st.event(
                self.ids,
                "customer.created",
                st.customer(
                    cus_id,
                    email,
                    deal.name.split(" subscription")[0],
                    deal.account_id,
                    created,
                    deal.currency,
                ),
                created,
                api,
            ),
        )
        annual = rng.random() < 0.2
        interval = "year" if annual else "month"
        unit = deal.amount if annual else max(1, deal.amount // 12)
        price_id = self.ids.new("price")
        self.timeline.add(
            created,
            st.event(
                self.ids,
                "price.created",
                st.price(price_id, deal.currency, unit, interval, created),
                created,
                api,
            ),
        )
        sub_id = self.ids.new("sub")
        behaviour = rng.choices(
            ["good", "late", "churn", "overdue", "upgrade", "pause"], [50, 14, 10, 10, 10, 6]
        )[0]
        period_start = created
        months = 0
        while period_start < self.end:
            months += 1
            step = 12 if annual else 1
            period_end = _add_months(period_start, step)
            if behaviour == "churn" and months > 3:
                break
            if behaviour == "pause" and months in (3, 4):
                period_start = period_end
                continue
            if behaviour == "upgrade" and months == 4:
                unit = int(unit * 1.5)
            self._invoice(
                deal,
                cus_id,
                email,
                unit,
                (period_start, period_end),
                price_id,
                interval,
                sub_id,
                api,
                behaviour,
                months,
                prepaid and months == 1,
                partial=n % 19 == 5 and months == 1,
            )
            period_start = period_end

    def _invoice(
        self,
        deal: Deal,
        cus_id: str,
        email: str,
        amount: int,
        period: tuple[datetime, datetime],
        price_id: str,
        interval: str,
        sub_id: str,
        api: str,
        behaviour: str,
        month: int,
        prepaid: bool,
        partial: bool = False,
    ) -> None:
        rng = self.rng
        created = period[0]
        if created >= self.end:
            return
        inv_id = self.ids.new("in")
        opp = deal.opp_id if month == 1 and rng.random() < 0.7 else None
        finalized = created + timedelta(hours=1)
        due = finalized + timedelta(days=30)
        common = {
            "inv_id": inv_id,
            "cus_id": cus_id,
            "email": email,
            "currency": deal.currency,
            "amount": amount,
            "created": created,
            "period": period,
            "price_id": price_id,
            "interval": interval,
            "sub_id": sub_id,
            "due": due,
            "opportunity_id": opp,
            "api_version": api,
            "line_id": self.ids.new("il"),
        }

        def emit(type_: str, at: datetime, **state: Any) -> None:
            if at < self.end:
                self.timeline.add(
                    at, st.event(self.ids, type_, st.invoice(**common, **state), at, api)
                )

        emit("invoice.created", created, status="draft")
        emit("invoice.finalized", finalized, status="open", finalized_at=finalized)
        if partial:  # half paid by bank transfer, the rest still open
            emit(
                "invoice.updated",
                finalized + timedelta(days=5),
                status="open",
                finalized_at=finalized,
                amount_paid=amount // 2,
            )
            return
        if prepaid:
            delay = 0.2
        elif behaviour == "late":
            delay = rng.uniform(35, 75)
        elif behaviour == "overdue" and month >= 2:
            delay = None
        else:
            delay = rng.uniform(0.5, 12)
        if delay is None:
            if month >= 4:
                voided = finalized + timedelta(days=rng.uniform(50, 70))
                kind = "invoice.marked_uncollectible" if month == 4 else "invoice.voided"
                status = "uncollectible" if month == 4 else "void"
                emit(
                    kind,
                    voided,
                    status=status,
                    finalized_at=finalized,
                    voided_at=voided if status == "void" else None,
                    uncollectible_at=voided if status == "uncollectible" else None,
                )
            elif month == 3 and amount > 1:
                part = finalized + timedelta(days=10)
                emit(
                    "invoice.updated",
                    part,
                    status="open",
                    finalized_at=finalized,
                    amount_paid=amount // 2,
                )
            return
        paid = finalized + timedelta(days=delay)
        paid = paid.replace(microsecond=0)
        state = {
            "status": "paid",
            "finalized_at": finalized,
            "paid_at": paid,
            "amount_paid": amount,
        }
        emit("invoice.paid", paid, **state)
        emit("invoice.payment_succeeded", paid, **state)
        emit("invoice.updated", paid, **state)


def _major(minor: int, currency: str) -> float | int:
    return minor if currency in ("jpy", "krw") else round(minor / 100, 2)


def _add_months(dt: datetime, months: int) -> datetime:
    month = dt.month - 1 + months
    year = dt.year + month // 12
    month = month % 12 + 1
    day = min(dt.day, 28)
    return dt.replace(year=year, month=month, day=day)


@dataclass
class Deliveries:
    """What the demo sends: NDJSON lines in delivery order, and what noise was added."""

    lines: list[bytes]
    events: int
    duplicates: int
    malformed: int


def deliveries(events: list[dict[str, Any]], *, seed: int) -> Deliveries:
    """Events as a webhook consumer would see them: about 3 % delivered twice, neighbours
    swapped (same-second Stripe events arrive in any order), and a few malformed lines."""
    rng = random.Random(seed + 1)
    lines = [orjson.dumps(e) for e in events]
    for i in range(0, len(lines) - 1, 2):
        if rng.random() < 0.25:
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
    duplicates = 0
    for line in list(lines):
        if rng.random() < 0.03:
            lines.insert(min(len(lines), rng.randrange(len(lines)) + 1), line)
            duplicates += 1
    bad = [
        b'{"id": "evt_truncated", "object": "event", "type": "invoice.paid", "data": {',
        b'{"hello": "not an event"}',
        orjson.dumps(
            {
                "id": "evt_nocreated",
                "object": "event",
                "type": "invoice.paid",
                "data": {"object": {"id": "in_x", "object": "invoice"}},
            }
        ),
    ]
    for line in bad:
        lines.insert(rng.randrange(len(lines) + 1), line)
    return Deliveries(lines, len(events), duplicates, len(bad))
