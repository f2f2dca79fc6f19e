"""Cleaning sales rows per KPI.md, one vectorised pass per block.

A row is rejected, with the first reason that applies, when it has no ``customer_id``, no
revenue, a revenue that cannot be read, a negative revenue, no ``order_id`` or an order date that
cannot be read (such a row would count in no KPI period, so it is shown rather than hidden).
Duplicate ``order_id`` values are handled after the whole file is read
(:mod:`revops.sources.sales_dedupe`).

Revenue may be written ``1234``, ``1,234``, ``¥1,234``, ``￥1,234``, ``\\1,234`` (the yen sign
of Shift_JIS), ``1,234円``, ``JPY 1234`` or with full-width digits; ``-``, ``−``, ``▲``, ``△``
or parentheses mark a negative amount. Dates: ``2024-01-05``, ``2024/1/5``, ``2024.01.05``,
``2024年1月5日``, ``20240105``, each optionally followed by a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REVENUE_TYPE = pa.decimal128(38, 6)
_CURRENCY = r"[¥\\$,円\s]|JPY|YEN|yen"
_NEGATIVE = r"^(?:-|−|▲|△)"
_NUMBER = r"^\d{1,26}(?:\.\d{1,6})?$"
_DATE = (
    r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
    r"(?:[ T].*)?$"
)
_DATE_COMPACT = r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"

_NO_REJECTS = pa.table(
    {
        "line_no": pa.array([], pa.int64()),
        "raw_line": pa.array([], pa.string()),
        "reason": pa.array([], pa.string()),
    }
)
REASONS = (
    "missing_customer_id",
    "missing_revenue",
    "unreadable_revenue",
    "negative_revenue",
    "missing_order_id",
    "unreadable_order_date",
)
_REASON_NAMES = pa.array(REASONS, pa.string())


@dataclass
class CleanRows:
    """Good rows (typed, with line_no) and rejected rows (line_no, raw_line, reason) of one
    block."""

    good: pa.Table
    rejected: pa.Table


def _text(arr: pa.Array) -> pa.Array:
    """Trimmed text; empty becomes null."""
    trimmed = (
        pc.ascii_trim_whitespace(arr)
        if pc.all(pc.string_is_ascii(arr)).as_py() is not False
        else pc.utf8_trim_whitespace(arr)
    )
    if trimmed.null_count == 0 and trimmed.offset == 0:
        # Null where empty, by a new validity bitmap over the same buffers (no string copy).
        valid = np.packbits(
            pc.greater(pc.binary_length(trimmed), 0).to_numpy(zero_copy_only=False),
            bitorder="little",
        )
        _, offsets, data = trimmed.buffers()
        return pa.StringArray.from_buffers(len(trimmed), offsets, data, pa.py_buffer(valid))
    return pc.if_else(pc.equal(trimmed, ""), pa.nulls(len(arr), pa.string()), trimmed)


def parse_revenue(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(decimal revenue or null, readable mask) of a column of revenue text (nulls allowed)."""
    n = len(arr)
    # Plain digits (null where the text is null); at most 18 of them go through int64.
    plain = pc.fill_null(
        pc.and_(pc.ascii_is_decimal(arr), pc.less_equal(pc.binary_length(arr), 26)), False
    )
    messy = pc.and_(pc.invert(plain), pc.is_valid(arr))
    if not pc.any(messy).as_py():
        return _plain_revenue(arr), pc.is_valid(arr)
    # Only the rows that are not plain digits take the slow, regex-based path.
    value, readable = _parse_messy_revenue(arr.filter(messy))
    values = pc.replace_with_mask(
        pa.nulls(n, REVENUE_TYPE), plain, _plain_revenue(arr.filter(plain))
    )
    values = pc.replace_with_mask(
        values, messy, pc.if_else(readable, value, pa.nulls(len(value), REVENUE_TYPE))
    )
    return values, pc.replace_with_mask(plain, messy, readable)


def _plain_revenue(digits: pa.Array) -> pa.Array:
    """Decimal of plain digit strings (nulls allowed)."""
    longest = pc.max(pc.binary_length(digits)).as_py()
    if longest is not None and longest <= 18:
        return pc.cast(pc.cast(digits, pa.int64()), REVENUE_TYPE)
    return pc.cast(digits, REVENUE_TYPE)


def _parse_messy_revenue(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    text = pc.utf8_normalize(text, "NFKC")
    core = pc.replace_substring_regex(text, _CURRENCY, "")
    wrapped = pc.match_substring_regex(core, r"^\(.*\)$")
    core = pc.if_else(wrapped, pc.utf8_slice_codeunits(core, 1, -1), core)
    negative = pc.or_(wrapped, pc.match_substring_regex(core, _NEGATIVE))
    core = pc.replace_substring_regex(core, _NEGATIVE, "", max_replacements=1)
    readable = pc.match_substring_regex(core, _NUMBER)
    signed = pc.if_else(negative, pc.binary_join_element_wise("-", core, ""), core)
    return pc.cast(pc.if_else(readable, signed, "0"), REVENUE_TYPE), readable


def parse_order_date(arr: pa.Array) -> pa.Array:
    """date32 of a column of date text; null where it cannot be read."""
    try:  # a block of plain, valid ISO dates (the usual case) takes one strict pass
        return pc.cast(arr, pa.date32())
    except pa.ArrowInvalid:
        pass
    # Else the ISO-shaped dates (YYYY-MM-DD) still take one strict pass, the rest the forms of
    # _parse_messy_dates; a block with an invalid ISO-shaped date goes the careful way.
    iso = pc.fill_null(
        pc.and_(
            pc.equal(pc.binary_length(arr), 10),
            pc.and_(
                pc.equal(pc.find_substring(arr, "-"), 4), pc.equal(pc.count_substring(arr, "-"), 2)
            ),
        ),
        False,
    )
    if pc.any(iso).as_py():
        try:
            iso_dates = pc.cast(arr.filter(iso), pa.date32())
        except pa.ArrowInvalid:
            return _parse_dates_carefully(arr)
        out = pc.replace_with_mask(pa.nulls(len(arr), pa.date32()), iso, iso_dates)
        rest = pc.invert(iso)
        if pc.any(rest).as_py():
            messy = _parse_messy_dates(pc.fill_null(arr.filter(rest), ""))
            out = pc.replace_with_mask(out, rest, messy)
        return out
    return _parse_dates_carefully(arr)


def _parse_dates_carefully(arr: pa.Array) -> pa.Array:
    text = pc.fill_null(arr, "")
    iso = pc.and_(pc.equal(pc.utf8_length(text), 10), pc.string_is_ascii(text))
    stamp = pc.strptime(pc.if_else(iso, text, ""), format="%Y-%m-%d", unit="s", error_is_null=True)
    fast = _same_day(stamp, text)
    if pc.all(fast).as_py():
        return pc.cast(stamp, pa.date32())
    slow = pc.invert(fast)
    parsed = _parse_messy_dates(text.filter(slow))
    out = pc.replace_with_mask(
        pc.cast(pc.if_else(fast, stamp, pa.scalar(0, stamp.type)), pa.date32()), slow, parsed
    )
    return out


def _same_day(stamp: pa.Array, iso: pa.Array) -> pa.Array:
    """True where ``stamp`` is the date ``iso`` names (strptime rolls 2024-02-30 over to
    March)."""
    day = pc.cast(
        pc.utf8_slice_codeunits(pc.if_else(pc.is_valid(stamp), iso, "0000-00-00"), 8, 10),
        pa.int64(),
    )
    return pc.fill_null(pc.equal(pc.day(stamp), day), False)


def _parse_messy_dates(arr: pa.Array) -> pa.Array:
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(arr, "NFKC"))
    parts = pc.extract_regex(text, _DATE)
    compact = pc.extract_regex(text, _DATE_COMPACT)
    iso = pc.fill_null(pc.coalesce(_iso(parts), _iso(compact)), "")
    stamp = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
    good = _same_day(stamp, iso)
    return pc.if_else(good, pc.cast(stamp, pa.date32()), pa.nulls(len(arr), pa.date32()))


def _iso(parts: pa.StructArray) -> pa.Array:
    y = pc.struct_field(parts, "y")
    m = pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0")
    d = pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0")
    return pc.binary_join_element_wise(y, m, d, "-")


def clean_rows(
    rows: pa.Table, raw_lines: Callable[[np.ndarray], pa.Array] | None = None
) -> CleanRows:
    """Split one block's rows into typed good rows and rejected rows with their reason.

    ``raw_lines(positions)`` gives the raw text of rejected rows when ``rows`` has no
    ``raw_line`` column."""
    n = rows.num_rows
    customer = _text(rows["customer_id"].combine_chunks())
    order = _text(rows["order_id"].combine_chunks())
    revenue_text = _text(rows["revenue"].combine_chunks())
    revenue, readable = parse_revenue(revenue_text)
    order_date = parse_order_date(rows["order_date"].combine_chunks())
    checks = (
        pc.is_null(customer),
        pc.is_null(revenue_text),
        pc.invert(readable),
        pc.less(revenue, 0),
        pc.is_null(order),
        pc.is_null(order_date),
    )
    # Reason codes in numpy (1-based index into REASONS; 0 = good): the first reason wins.
    code = np.zeros(n, dtype=np.int8)
    for i in range(len(checks), 0, -1):
        code[pc.fill_null(checks[i - 1], False).to_numpy(zero_copy_only=False)] = i
    category = _text(rows["product_category"].combine_chunks())
    good = pa.table(
        {
            "order_id": order,
            "customer_id": customer,
            "order_date": order_date,
            "revenue": revenue,
            "product_category": category,
            "line_no": rows["line_no"],
        }
    )
    bad = np.flatnonzero(code)
    if not len(bad):
        return CleanRows(good, _NO_REJECTS)
    good = good.filter(pa.array(code == 0))
    picked = pa.array(bad)
    reason = pa.DictionaryArray.from_arrays(pa.array(code[bad] - 1), _REASON_NAMES)
    rejected = pa.table(
        {
            "line_no": rows["line_no"].take(picked),
            "raw_line": raw_lines(bad) if raw_lines else rows["raw_line"].take(picked),
            "reason": reason.cast(pa.string()),
        }
    )
    return CleanRows(good, rejected)
