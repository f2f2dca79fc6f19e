"""Demo inputs: a SQLite CRM and monthly sales CSVs (CP932 and UTF-8) with dirty rows.

Coherent with the local ads API (:mod:`revops.dev.demo_data`): paid customers are acquired
through its campaigns (Google, Facebook, Instagram), others through Organic and Referral (no ad
spend); most sales rows name CRM customers, a few do not (they count under ``Unknown``).
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from revops.dev.demo_data import PAID_CHANNELS, UNPAID_CHANNELS, campaigns

CHANNEL_WEIGHTS = {"Google": 30, "Facebook": 22, "Instagram": 18, "Organic": 20, "Referral": 10}
CATEGORIES = ("Software", "Hardware", "サポート", "コンサルティング")
HEADER = "order_id,customer_id,order_date,revenue,product_category\n"
# One dirty row of every kind the cleaner rejects, written into every file.
DIRTY_KINDS = (
    "missing_customer_id",
    "missing_revenue",
    "unreadable_revenue",
    "negative_revenue",
    "duplicate_order_id",
    "malformed_row",
    "missing_order_id",
    "unreadable_order_date",
)


def write_demo_sources(
    workdir: Path, *, seed: int, end: date, days: int, ads_base_url: str | None = None
) -> dict[str, Any]:
    """Write ``crm.sqlite`` and ``sales/sales_YYYY-MM.csv`` under ``workdir``.

    Returns settings overrides: ``{"crm": {"url"}, "sales": {"path"}, "ads": {...}}``; with
    ``ads_base_url`` the ``ads`` section points at that local API and ``"env"`` holds the
    demo client secret to put in the environment (``REVOPS_ADS__CLIENT_SECRET``).
    """
    from revops.dev.ads_api import demo_ads_settings
    from revops.dev.demo_data import CHANNEL_MAP

    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"demo:{seed}")
    start = end - timedelta(days=days - 1)
    customers = _customers(rng, seed, start - timedelta(days=60), end)
    orders = _orders(rng, customers, end)
    crm_path = workdir / "crm.sqlite"
    _write_crm(crm_path, customers, orders)
    sales_dir = workdir / "sales"
    files = _write_sales(sales_dir, rng, customers, start, end)
    overrides: dict[str, Any] = {
        "crm": {"url": f"sqlite:///{crm_path}"},
        "sales": {"path": str(sales_dir)},
        "ads": {"channel_map": dict(CHANNEL_MAP)},
        "files": [str(f) for f in files],
    }
    if ads_base_url:
        section, env = demo_ads_settings(ads_base_url)
        overrides["ads"] = section
        overrides["env"] = env
    return overrides


def _customers(rng: random.Random, seed: int, first: date, end: date) -> list[tuple[Any, ...]]:
    by_channel: dict[str, list[str]] = {}
    for c in campaigns(seed):
        by_channel.setdefault(c.channel, []).append(c.campaign_id)
    names, weights = list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values())
    rows, day, n = [], first, 0
    while day <= end:
        for _ in range(rng.randint(6, 14)):
            n += 1
            channel = rng.choices(names, weights)[0]
            source = (
                rng.choice(by_channel[channel]) if channel in PAID_CHANNELS else channel.lower()
            )
            rows.append(
                (
                    f"C{n:05d}",
                    f"顧客 {n}",
                    f"customer{n}@example.com",
                    day.isoformat(),
                    source,
                    channel,
                )
            )
        day += timedelta(days=1)
    assert set(UNPAID_CHANNELS) <= set(names)
    return rows


def _orders(
    rng: random.Random, customers: list[tuple[Any, ...]], end: date
) -> list[tuple[Any, ...]]:
    rows, n = [], 0
    for customer_id, _, _, acquired, _, _ in customers:
        first = date.fromisoformat(acquired)
        for _ in range(rng.choice((0, 1, 1, 2, 3, 5))):
            n += 1
            when = min(end, first + timedelta(days=rng.randint(0, 45)))
            rows.append(
                (
                    f"ORD-{n:06d}",
                    customer_id,
                    when.isoformat(),
                    round(rng.uniform(3_000, 80_000), 0),
                )
            )
    return rows


def _write_crm(path: Path, customers: list[tuple[Any, ...]], orders: list[tuple[Any, ...]]) -> None:
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as con:
        con.execute(
            "CREATE TABLE customers (customer_id TEXT PRIMARY KEY, customer_name TEXT, "
            "email TEXT, acquisition_date TEXT, acquisition_source TEXT, "
            "acquisition_channel TEXT)"
        )
        con.execute(
            "CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer_id TEXT, "
            "order_date TEXT, revenue REAL)"
        )
        con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)", customers)
        con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", orders)
    con.close()


def _months(start: date, end: date) -> list[date]:
    months, cursor = [], date(start.year, start.month, 1)
    while cursor <= end:
        months.append(cursor)
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    if len(months) == 1:  # always show both encodings
        prev = months[0] - timedelta(days=1)
        months.insert(0, date(prev.year, prev.month, 1))
    return months


def _write_sales(
    folder: Path, rng: random.Random, customers: list[tuple[Any, ...]], start: date, end: date
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    ids = [c[0] for c in customers]
    files = []
    for i, month in enumerate(_months(start, end)):
        encoding = "cp932" if i % 2 == 0 else "utf-8"
        last = date(month.year + month.month // 12, month.month % 12 + 1, 1) - timedelta(days=1)
        lines = _sales_lines(rng, ids, month, min(last, end), encoding)
        path = folder / f"sales_{month:%Y-%m}.csv"
        path.write_bytes((HEADER + "".join(lines)).encode(encoding))
        files.append(path)
    return files


def _revenue_text(rng: random.Random, amount: int, encoding: str) -> str:
    yen = "￥" if encoding == "cp932" else "¥"
    forms = (
        str(amount),
        f'"{amount:,}"',
        f'"{yen}{amount:,}"',
        f"{amount}円",
        str(amount).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    )
    return rng.choice(forms)


def _sales_lines(
    rng: random.Random, ids: list[str], month: date, last: date, encoding: str
) -> list[str]:
    lines = []
    n = 0
    day = month
    while day <= last:
        for _ in range(rng.randint(4, 10)):
            n += 1
            customer = rng.choice(ids) if rng.random() < 0.93 else f"X{rng.randint(1, 999):04d}"
            amount = rng.randint(2_000, 120_000)
            lines.append(
                f"S{month:%Y%m}-{n:05d},{customer},{day:%Y/%m/%d},"
                f"{_revenue_text(rng, amount, encoding)},{rng.choice(CATEGORIES)}\n"
            )
        day += timedelta(days=1)
    tag = f"{month:%Y%m}"
    d = f"{month:%Y-%m}-10"
    dirty = [
        f"S{tag}-90001,,{d},5000,Software\n",
        f"S{tag}-90002,{ids[0]},{d},,Software\n",
        f"S{tag}-90003,{ids[1]},{d},about 5000,Software\n",
        f"S{tag}-90004,{ids[2]},{d},-1200,Software\n",
        f"S{tag}-00001,{ids[3]},{d},999,Software\n",
        f"S{tag}-90006,{ids[4]},{d},5000\n",
        f",{ids[5]},{d},5000,Software\n",
        f"S{tag}-90008,{ids[6]},not a date,5000,Software\n",
    ]
    for row in dirty:
        lines.insert(rng.randint(1, len(lines)), row)
    return lines
