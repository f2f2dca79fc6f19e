"""What a batch extraction (ads, CRM, sales) reports back to its caller.

Every extractor returns an :class:`ExtractReport`; the CLI prints it and the pipeline stores it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ExtractReport:
    """Counts of one extraction.

    ``loaded`` rows are in the raw table now; ``skipped`` were left out on purpose (duplicates
    the source sent twice, blank lines); ``rejected`` were refused and recorded with their reason
    (``sales_rejects``, ``dead_letters``); ``reasons`` counts rejections by reason.
    """

    source: str
    slice: str
    loaded: int = 0
    skipped: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def reject(self, reason: str, n: int = 1) -> None:
        """Count ``n`` rejected rows for ``reason``."""
        if n:
            self.rejected += n
            self.reasons[reason] = self.reasons.get(reason, 0) + n

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    def summary(self) -> str:
        """One line for people: what was loaded, skipped and rejected."""
        text = (
            f"{self.source} {self.slice}: loaded {self.loaded}  skipped {self.skipped}  "
            f"rejected {self.rejected}"
        )
        if self.reasons:
            text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(self.reasons.items())) + ")"
        return text


def insert_arrow(wh: Any, table: str, arrow: Any) -> int:
    """Bulk-insert a pyarrow Table (columns named as in ``table``) into the warehouse.

    Uses the engine's Arrow path when it has one (DuckDB), else ``insert_rows`` (COPY on
    PostgreSQL), converting in bounded batches.
    """
    if arrow.num_rows == 0:
        return 0
    native = getattr(wh, "insert_arrow", None)
    if native is not None:
        return int(native(table, arrow))
    return int(wh.insert_rows(table, arrow.column_names, _python_rows(arrow)))


def _python_rows(arrow: Any, batch_rows: int = 50_000) -> Any:
    for batch in arrow.to_batches(max_chunksize=batch_rows):
        yield from zip(*(col.to_pylist() for col in batch.columns), strict=True)
