"""Stripe minor units → major units.

Stripe sends amounts as integers in the currency's smallest unit. Zero-decimal currencies are
not divided; Stripe's three-decimal currencies are divided by 1000; every other by 100.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

ZERO_DECIMAL = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def minor_unit_divisor(currency: str | None) -> int:
    """How many minor units make one major unit of ``currency`` (100 when unknown)."""
    code = (currency or "").lower()
    if code in ZERO_DECIMAL:
        return 1
    if code in THREE_DECIMAL:
        return 1000
    return 100


def to_major(amount: Any, currency: str | None) -> Decimal | None:
    """``amount`` in minor units as an exact Decimal in major units (None stays None)."""
    value = as_decimal(amount)
    if value is None:
        return None
    divisor = minor_unit_divisor(currency)
    return value if divisor == 1 else value / divisor


def as_decimal(value: Any) -> Decimal | None:
    """A number (int, float, numeric string) as a Decimal; None or junk gives None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() else None
