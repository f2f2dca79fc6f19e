"""Charts of the HTML report as PNG bytes (matplotlib, no display, no pyplot state).

Each function returns PNG bytes, or None when there is nothing to draw, so the page can say
"no data" instead of showing an empty frame. Labels are drawn in a Japanese-capable font when
one is installed; without one matplotlib falls back to DejaVu Sans and missing glyphs are
drawn as boxes (the figures themselves stay in the HTML tables beside each chart).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from revops.outputs.reports.data import AGING_BUCKETS, as_number

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CJK_FONTS = (
    "Noto Sans CJK JP",
    "IPAexGothic",
    "IPAPGothic",
    "IPAGothic",
    "TakaoGothic",
    "VL Gothic",
    "Source Han Sans JP",
)
BLUE, ORANGE, GREEN, RED, GREY = "#2f6fb0", "#e08a2e", "#3a9a5b", "#c8473c", "#8a8f98"
DPI = 100


@cache
def _font_family() -> list[str]:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in installed] + ["DejaVu Sans"]


def _figure(width: float = 6.4, height: float = 3.2) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="tight")
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e4e6ea", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _styled(build: Any) -> bytes:
    """Build a figure inside the font context (text objects pick the font when created)."""
    from matplotlib import rc_context

    with rc_context({"font.family": _font_family(), "font.size": 9}), warnings.catch_warnings():
        # A glyph missing from the fallback font is a cosmetic matter, never an error.
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph .* missing from.*")
        warnings.filterwarnings("ignore", message=r".*findfont.*")
        fig = build()
        return _png(fig)


def channel_bars(
    channels: Sequence[dict[str, Any]],
    column: str,
    title: str,
    unit: str,
    *,
    reference: float | None = None,
) -> bytes | None:
    """Horizontal bars of ``column`` by channel (channels without a value are left out)."""
    rows: list[tuple[str, float]] = []
    for c in channels:
        number = as_number(c[column])
        if number is not None:
            rows.append((str(c["channel"]), number))
    if not rows:
        return None

    def build() -> Figure:
        fig, ax = _figure(6.4, 0.9 + 0.42 * len(rows))
        names = [n for n, _ in rows][::-1]
        values = [v for _, v in rows][::-1]
        colors = [GREEN if reference is None or v >= reference else RED for v in values]
        ax.barh(names, values, color=colors, height=0.6)
        for y, v in enumerate(values):
            ax.annotate(
                f"{v:,.1f}{unit}" if unit == "%" else f"{unit}{v:,.0f}",
                (v, y),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
            )
        if reference is not None:
            ax.axvline(reference, color=GREY, linestyle="--", linewidth=1)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", color="#e4e6ea", linewidth=0.8)
        ax.set_title(title, loc="left", fontsize=10)
        ax.margins(x=0.18)
        return fig

    return _styled(build)


def spend_vs_revenue(trend: Sequence[dict[str, Any]]) -> bytes | None:
    """Daily total ad cost against total revenue (each a period total as of that day)."""
    if not trend:
        return None

    def build() -> Figure:
        fig, ax = _figure()
        days = [r["date"].strftime("%m-%d") for r in trend]
        ax.plot(
            days,
            _series(as_number(r["total_ad_cost"]) for r in trend),
            marker="o",
            color=ORANGE,
            label="広告費 (ad cost)",
        )
        ax.plot(
            days,
            _series(as_number(r["total_revenue"]) for r in trend),
            marker="o",
            color=BLUE,
            label="売上 (revenue)",
        )
        ax.yaxis.set_major_formatter(lambda v, _pos: f"¥{v:,.0f}")
        ax.tick_params(axis="x", rotation=45)
        ax.legend(frameon=False, loc="upper left")
        ax.set_title("広告費と売上 (spend vs revenue)", loc="left", fontsize=10)
        return fig

    return _styled(build)


def latency_histogram(days: Sequence[float]) -> bytes | None:
    """Distribution of Won→Paid days (paid deals)."""
    if not days:
        return None

    def build() -> Figure:
        from matplotlib.ticker import MaxNLocator

        fig, ax = _figure()
        ax.hist(days, bins=latency_bins(days), color=BLUE, edgecolor="white")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.axvline(15, color=RED, linestyle="--", linewidth=1)
        ax.set_xlabel("Won → Paid (days)")
        ax.set_ylabel("deals")
        ax.set_title("Won→Paid 日数の分布", loc="left", fontsize=10)
        return fig

    return _styled(build)


def latency_bins(days: Sequence[float]) -> list[float]:
    """Bin edges on whole days, a 'nice' width (1, 2, 5, 7, 14 or 30 days) for ≤ 15 bins."""
    low = math.floor(min(0.0, min(days)))
    high = math.ceil(max(days)) + 1
    width = next(
        (w for w in (1, 2, 5, 7, 14, 30) if (high - low) / w <= 15),
        max(1, math.ceil((high - low) / 15)),
    )
    edges = [float(low)]
    while edges[-1] < high:
        edges.append(edges[-1] + width)
    return edges


def collections_buckets(rows: Sequence[dict[str, Any]]) -> bytes | None:
    """Receivables by aging bucket, one bar group per currency."""
    aging = [r for r in rows if r["bucket"] in AGING_BUCKETS]
    if not aging:
        return None
    currencies = sorted({str(r["currency"]) for r in aging})

    def build() -> Figure:
        fig, axes_row = _subplots(len(currencies))
        for ax, cur in zip(axes_row, currencies, strict=True):
            amounts = {
                r["bucket"]: as_number(r["amount_remaining"]) or 0.0
                for r in aging
                if str(r["currency"]) == cur
            }
            values = [amounts.get(b, 0.0) for b in AGING_BUCKETS]
            colors = [
                GREEN if b == "not_yet_due" else (ORANGE if b in ("1-30", "31-60") else RED)
                for b in AGING_BUCKETS
            ]
            ax.bar(AGING_BUCKETS, values, color=colors)
            ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:,.0f}")
            ax.set_title(f"未回収 {cur} (receivables by days past due)", loc="left", fontsize=10)
            ax.tick_params(axis="x", labelsize=8)
        return fig

    return _styled(build)


def _subplots(n: int) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.8 * n), dpi=DPI, layout="tight")
    axes = [fig.add_subplot(n, 1, i + 1) for i in range(n)]
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#e4e6ea", linewidth=0.8)
        ax.set_axisbelow(True)
    return fig, axes


def nrr_trend(rows: Sequence[dict[str, Any]]) -> bytes | None:
    """NRR and GRR by month (percent), one pair of lines per currency."""
    points = [r for r in rows if r["nrr"] is not None or r["grr"] is not None]
    if not points:
        return None

    def build() -> Figure:
        fig, ax = _figure()
        for cur in sorted({str(r["currency"]) for r in points}):
            mine = [r for r in points if str(r["currency"]) == cur]
            months = [r["month"].strftime("%Y-%m") for r in mine]
            ax.plot(
                months,
                _series(_pct(r["nrr"]) for r in mine),
                marker="o",
                color=BLUE,
                label=f"NRR {cur}",
            )
            ax.plot(
                months,
                _series(_pct(r["grr"]) for r in mine),
                marker="s",
                color=GREEN,
                linestyle="--",
                label=f"GRR {cur}",
            )
        ax.axhline(100, color=GREY, linewidth=1)
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0f}%")
        ax.tick_params(axis="x", rotation=45)
        ax.legend(frameon=False)
        ax.set_title("NRR / GRR 推移", loc="left", fontsize=10)
        return fig

    return _styled(build)


def _series(values: Iterable[float | None]) -> list[float]:
    """Values for a line; NULL becomes NaN, which matplotlib draws as a gap."""
    return [math.nan if v is None else v for v in values]


def _pct(value: Any) -> float | None:
    number = as_number(value)
    return None if number is None else number * 100
