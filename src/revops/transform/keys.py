"""Key filters for incremental statements: a bound array, or everything on a full rebuild."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

KeySet = Collection[str] | None  # None = every key (full rebuild)


def in_keys(column: str, keys: KeySet) -> tuple[str, tuple[Any, ...]]:
    """A ``column IN (…)`` condition over ``keys`` with its parameters (TRUE when None)."""
    if keys is None:
        return "TRUE", ()
    return f"{column} IN (SELECT unnest(CAST(? AS VARCHAR[])))", (sorted(keys),)


def chunks(keys: KeySet, size: int = 50_000) -> list[KeySet]:
    """``keys`` in bounded chunks (one chunk of None on a full rebuild)."""
    if keys is None:
        return [None]
    ordered = sorted(keys)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)] or []
