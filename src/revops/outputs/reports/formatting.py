"""How figures are shown: yen with separators, percentages, ratios; NULL as a dash.

Values are stored unrounded (KPI.md); rounding happens here only, half up, so the text, HTML
and Slack outputs agree to the last digit.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

DASH = "—"
CURRENCY_SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}
ZERO_DECIMAL = {"JPY", "KRW", "VND", "CLP"}


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        # Drop binary noise first (298 / 8000 * 100 is 3.7249999999999996) so that half-up
        # rounding gives what a person computing the ratio expects.
        return Decimal(repr(value)).quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def fixed(value: Any, places: int = 0, *, sep: bool = True) -> str:
    """``value`` rounded half up to ``places`` decimals, with thousands separators."""
    if value is None:
        return DASH
    quantum = Decimal(1).scaleb(-places)
    rounded = _decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0"
    return f"{rounded:,.{places}f}" if sep else f"{rounded:.{places}f}"


def yen(value: Any) -> str:
    """``¥2,450,000`` (whole yen, half up); NULL is a dash."""
    if value is None:
        return DASH
    text = fixed(value, 0)
    return "-¥" + text[1:] if text.startswith("-") else "¥" + text


def money(value: Any, currency: str | None) -> str:
    """An amount in its currency: ``¥12,000``, ``$1,234.50``, ``1,234.50 SEK``."""
    if value is None:
        return DASH
    code = (currency or "JPY").upper()
    places = 0 if code in ZERO_DECIMAL else 2
    symbol = CURRENCY_SYMBOLS.get(code)
    text = fixed(value, places)
    if symbol is None:
        return f"{text} {code}"
    return "-" + symbol + text[1:] if text.startswith("-") else symbol + text


def pct(value: Any, places: int = 1) -> str:
    """A stored percentage (ROAS 336.0 means 336.0 %) as ``336.0%``."""
    return DASH if value is None else fixed(value, places) + "%"


def ratio_pct(value: Any, places: int = 1) -> str:
    """A stored ratio (NRR 1.05 means 105 %) as ``105.0%``."""
    return DASH if value is None else fixed(_decimal(value) * 100, places) + "%"


def count(value: Any, unit: str = "") -> str:
    """A count with separators and an optional unit (``1,234人``)."""
    return DASH if value is None else fixed(value, 0) + unit


def ratio(value: Any, places: int = 2) -> str:
    """A plain ratio such as LTV/CAC, ``3.25``."""
    return fixed(value, places)


def raw(value: Any) -> str:
    """The unrounded value for ``data-value`` attributes and CSV cells (NULL is empty)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text if text not in ("-0",) else "0"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


FILTERS = {
    "yen": yen,
    "money": money,
    "pct": pct,
    "ratio_pct": ratio_pct,
    "count": count,
    "ratio": ratio,
    "raw": raw,
    "fixed": fixed,
}


class RoasTier(tuple[str, str, str]):
    """``(emoji, comment, css class)`` of an overall ROAS, as the seed grades it."""

    @property
    def emoji(self) -> str:
        return self[0]

    @property
    def comment(self) -> str:
        return self[1]

    @property
    def css(self) -> str:
        return self[2]


def roas_tier(roas: Any) -> RoasTier:
    """The seed's grading: ≥300 % 🚀 素晴らしい, ≥200 % 📈 好調, ≥100 % 👌 採算ライン,
    below ⚠️ 要改善; no ad cost (NULL ROAS) is ➖ 広告費なし."""
    if roas is None:
        return RoasTier(("➖", "広告費なし", "warn"))
    value = _decimal(roas)
    if value >= 300:
        return RoasTier(("🚀", "素晴らしい!", "ok"))
    if value >= 200:
        return RoasTier(("📈", "好調です", "ok"))
    if value >= 100:
        return RoasTier(("👌", "採算ライン", "warn"))
    return RoasTier(("⚠️", "要改善", "bad"))
