"""First-in-file-order dedupe of ``order_id`` over a whole file, in bounded memory.

A file of tens of millions of rows does not fit in a Python set. :class:`OrderDeduper` stages
the (order_id, line_no) of every good row in a private, in-process DuckDB database with a memory
limit (it spills to a temporary folder) and finds the duplicates there, after the file is read
(the PostgreSQL path). :func:`key_hashes` and :class:`KeyFilter` find the candidates while the
file is read instead, one bit per key, so rows can be written as they come (the DuckDB path,
:mod:`revops.sources.sales_direct`, which checks every candidate exactly).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import numpy as np
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

    def __init__(self, memory_limit: str = "256MB", spill_dir: str | None = None) -> None:
        import duckdb

        self._tmp = tempfile.TemporaryDirectory(prefix="revops-sales-", dir=spill_dir)
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


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))


def key_hashes(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash (FNV-1a over the UTF-8 bytes, then a final mix) of each string of
    ``keys`` (no nulls), computed column by column over the strings' bytes in numpy.

    Equal strings hash equal; different strings almost never do, and :class:`SeenKeys` users
    check every hit exactly, so a collision costs time, never a row.
    """
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    n = len(keys)
    if keys.type != pa.string():
        keys = keys.cast(pa.string())
    offsets = np.frombuffer(keys.buffers()[1], dtype=np.int32)[keys.offset : keys.offset + n + 1]
    data_buffer = keys.buffers()[2]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None and data_buffer.size
        else np.zeros(1, np.uint8)
    )
    starts = offsets[:-1].astype(np.int64)
    lengths = np.diff(offsets).astype(np.int64)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64) ^ lengths.astype(np.uint64)
    width = int(lengths.max()) if n else 0
    last = len(data) - 1
    with np.errstate(over="ignore"):
        if n and (lengths == width).all() and starts[-1] + width <= len(data):
            table = data[starts[0] : starts[0] + n * width].reshape(n, width)  # one width: a view
            for j in range(width):
                h = (h ^ table[:, j]) * _FNV_PRIME
        else:
            for j in range(width):  # a string's hash never depends on its neighbours' lengths
                byte = data[np.minimum(starts + j, last)]
                h = np.where(lengths > j, (h ^ byte) * _FNV_PRIME, h)
        h ^= h >> np.uint64(33)
        h *= _MIX[0]
        h ^= h >> np.uint64(33)
        h *= _MIX[1]
        h ^= h >> np.uint64(33)
    return h


def filter_bits_for(file_bytes: int, lowest: int = 23, highest: int = 28) -> int:
    """The size (log2 of bits) of the :class:`KeyFilter` for a file of ``file_bytes``: about
    one bit per 2 bytes of the file (some 24 bits a row), between 1 MiB and 32 MiB. At 10M rows
    about 1.8 % of the rows are held for the exact check (7 % with an 8 MiB filter, whose held
    rows took more memory than the 24 MiB it saves)."""
    return max(lowest, min(highest, max(1, (file_bytes - 1) >> 1).bit_length()))


class KeyFilter:
    """Remembers the hashes of the keys seen so far as one bit each in a fixed bit array.

    :meth:`maybe_seen` never misses a key seen before; a key it marks may be new (another
    hash sharing its bit, about ``keys / 2**bits`` of the time), so its callers check the
    marked keys exactly.
    """

    def __init__(self, bits: int = 26) -> None:
        self._shift = np.uint64(64 - bits)
        self._filter = np.zeros(1 << max(0, bits - 3), dtype=np.uint8)

    def maybe_seen(self, hashes: np.ndarray) -> np.ndarray:
        """Mark the entries of ``hashes`` that may repeat a hash seen before (in an earlier
        call, or at a lower position of this array; a repeat within the array is always
        marked), then remember all of them."""
        n = len(hashes)
        marked = np.ones(n, dtype=bool)
        if not n:
            return marked
        order = np.argsort(hashes)
        ordered = hashes[order]
        first = np.ones(n, dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        starts = np.flatnonzero(first)
        earliest = np.minimum.reduceat(order, starts)  # the lowest position of each hash
        bit = ordered[starts] >> self._shift  # sorted, so the bytes below are too
        byte = (bit >> np.uint64(3)).astype(np.intp)
        mask = np.left_shift(np.uint8(1), (bit & np.uint64(7)).astype(np.uint8))
        marked[earliest] = (self._filter[byte] & mask) != 0
        self._filter[byte] |= mask  # buffered: of bits sharing a byte, only one lands here
        same = np.flatnonzero(byte[1:] == byte[:-1])  # neighbours, as the bytes are sorted
        if len(same):
            both = np.union1d(same, same + 1)
            np.bitwise_or.at(self._filter, byte[both], mask[both])
        return marked
