"""First-in-file-order dedupe of ``order_id`` over a whole file, in bounded memory.

A file of tens of millions of rows does not fit in a Python set, so the (order_id, line_no) of
every good row is staged in a private, in-process DuckDB database with a memory limit (it spills
to a temporary folder) and the duplicates are found there. This works the same whichever engine
the warehouse is.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pyarrow as pa

_FIRST_SEEN = """
SELECT s.line_no
FROM stage s JOIN (SELECT order_id, min(line_no) AS first_line FROM stage GROUP BY order_id
                   HAVING count(*) > 1) f USING (order_id)
WHERE s.line_no <> f.first_line
ORDER BY s.line_no
"""


class OrderDeduper:
    """Collects the keys of one file's good rows; :meth:`duplicate_lines` names the later
    rows of each repeated ``order_id``."""

    def __init__(self, memory_limit: str = "256MB") -> None:
        import duckdb

        self._tmp = tempfile.TemporaryDirectory(prefix="revops-sales-")
        self._con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": memory_limit,
                "temp_directory": self._tmp.name,
                "preserve_insertion_order": False,
            },
        )
        self._con.execute("CREATE TABLE stage (order_id VARCHAR, line_no BIGINT)")
        self.rows = 0

    def add(self, order_id: pa.Array, line_no: pa.Array) -> None:
        """Stage the keys of a block of good rows."""
        if len(order_id):
            block = pa.table({"order_id": order_id, "line_no": line_no})
            self._con.register("_block", block)
            try:
                self._con.execute("INSERT INTO stage SELECT * FROM _block")
            finally:
                self._con.unregister("_block")
            self.rows += len(order_id)

    def duplicate_lines(self, batch_rows: int = 100_000) -> Iterator[list[int]]:
        """Line numbers of the rows to reject as duplicates, ascending, in batches."""
        if not self.rows:
            return
        for batch in self._con.sql(_FIRST_SEEN).to_arrow_reader(batch_rows):
            yield batch.column(0).to_pylist()

    def close(self) -> None:
        """Drop the staged keys and their spill folder."""
        self._con.close()
        self._tmp.cleanup()

    def __enter__(self) -> OrderDeduper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
