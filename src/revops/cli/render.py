"""Rendering rows for the terminal: table, csv or json."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

FORMATS = ("table", "csv", "json")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value


def to_json(rows: Sequence[dict[str, Any]] | dict[str, Any]) -> str:
    """JSON text of rows (a list of objects) or of one object."""
    if isinstance(rows, dict):
        data: Any = {k: _plain(v) for k, v in rows.items()}
    else:
        data = [{k: _plain(v) for k, v in r.items()} for r in rows]
    return orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode()


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV text with a header row."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _plain(v) for k, v in r.items()})
    return buf.getvalue()


def to_table(rows: Sequence[dict[str, Any]], title: str | None = None) -> str:
    """A plain text table (no colour codes when not on a terminal)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    names = list(rows[0]) if rows else []
    for name in names:
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(*("" if r[n] is None else str(_plain(r[n])) for n in names))
    console = Console(file=io.StringIO(), width=200, force_terminal=False, color_system=None)
    console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return text if rows else (f"{title}: no rows\n" if title else "no rows\n")


def render(rows: Sequence[dict[str, Any]], fmt: str, title: str | None = None) -> str:
    """Rows rendered as ``fmt`` (table, csv or json)."""
    if fmt == "json":
        return to_json(rows) + "\n"
    if fmt == "csv":
        return to_csv(rows)
    return to_table(rows, title)


def echo(text: str) -> None:
    """Write text to stdout as is."""
    sys.stdout.write(text)
    sys.stdout.flush()
