"""Reading one sales CSV in bounded memory: blocks of bytes → text → rows with line numbers.

The file is read in blocks cut at a newline (in UTF-8 and in CP932 the byte ``\\n`` only ever
means a line break), each block is decoded, split into lines and turned into Arrow columns.
Lines without a quote character (nearly all of them) are split by a vectorised pass; lines with
quotes go through the standard ``csv`` module, which also joins a quoted field that spans lines.
Every row keeps its physical line number (1 = the header) and its raw text, so a rejected row can
be shown exactly as it was written.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from revops.errors import SourceError, TerminalSourceError, UsageError

COLUMNS = ("order_id", "customer_id", "order_date", "revenue", "product_category")
REQUIRED = ("order_id", "customer_id", "order_date", "revenue")
BLOCK_BYTES = 1024 * 1024
UTF8_BOM = codecs.BOM_UTF8
DETECTABLE = ("utf-8", "cp932")


@dataclass
class RawRows:
    """Rows of one block: string columns plus ``line_no`` (and ``raw_line``, or the block's
    bytes to cut it from on demand); malformed lines; the count of blank lines."""

    table: pa.Table
    malformed: list[tuple[int, str, str]] = field(default_factory=list)
    blank: int = 0
    source: bytes | None = None  # set when row i is line i of these bytes
    _ends: np.ndarray | None = field(default=None, repr=False)

    def raw_lines(self, rows: np.ndarray) -> pa.Array:
        """The raw text of the rows at positions ``rows``."""
        if "raw_line" in self.table.column_names:
            return self.table["raw_line"].take(pa.array(rows))
        assert self.source is not None
        if self._ends is None:  # found once per block, however often rows are asked for
            self._ends = line_ends(self.source)
        return lines_at(self.source, rows, self._ends)

    def positions(self, line_no: np.ndarray) -> np.ndarray:
        """The positions in :attr:`table` of the rows starting at the lines ``line_no``."""
        lines = self.table["line_no"].to_numpy()
        if self.source is not None:  # row i is line first + i
            return line_no - lines[0] if len(lines) else line_no
        order = np.argsort(lines, kind="stable")
        return order[np.searchsorted(lines, line_no, sorter=order)]


def resolve_encoding(name: str | None, file: str) -> str | None:
    """The Python codec for ``--encoding`` / ``[sales] encoding`` (None: detect)."""
    if not name or name.lower() == "auto":
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError as exc:
        raise UsageError(
            f"unknown encoding {name!r} for the sales CSV",
            input=file,
            where="--encoding / [sales] encoding",
            hint="use utf-8, utf-8-sig, cp932 or shift_jis, or leave it unset to detect",
        ) from exc
    return "utf-8" if codec in ("utf-8", "utf-8-sig") else codec


class BlockDecoder:
    """Decodes the blocks of one file with a forced or detected encoding.

    Detection: a UTF-8 BOM or valid UTF-8 means UTF-8, else valid CP932 means CP932. While the
    text seen so far is plain ASCII the choice stays open, so a file whose first non-ASCII
    character comes late is still read right.
    """

    def __init__(self, file: str, forced: str | None) -> None:
        self.file = file
        self.encoding = forced
        self.locked = forced is not None
        self.bom = False

    def to_utf8(self, data: bytes, first_line: int) -> bytes:
        """``data`` (whole lines) as UTF-8 bytes; a byte that cannot be decoded is an error
        naming its line."""
        if first_line == 1 and data.startswith(UTF8_BOM):
            data = data[len(UTF8_BOM) :]
            self.bom = True
            if not self.locked:
                self.encoding, self.locked = "utf-8", True
        if data.isascii():
            self.encoding = self.encoding or "utf-8"
            return data
        if not self.locked:
            self.encoding = next((e for e in DETECTABLE if _decodes(data, e)), None)
            if self.encoding is None:
                raise self._undetectable(data, first_line)
            self.locked = True
        if self.encoding == "utf-8":
            return data  # Arrow validates UTF-8 while splitting; see :meth:`check`
        return self._strict(data, str(self.encoding), first_line).encode("utf-8")

    def check(self, data: bytes, first_line: int) -> None:
        """Raise the error naming the line when ``data`` does not decode."""
        self._strict(data, str(self.encoding or "utf-8"), first_line)

    def _strict(self, data: bytes, encoding: str, first_line: int) -> str:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            line = first_line + data.count(b"\n", 0, exc.start)
            other = next((e for e in DETECTABLE if e != encoding and _decodes(data, e)), None)
            hint = (
                f"the file looks like {other}: pass --encoding {other}"
                if other
                else "fix the bytes on that line, or pass the file's real encoding with --encoding"
            )
            raise TerminalSourceError(
                f"sales CSV is not valid {encoding} at line {line}",
                input=self.file,
                where=f"line {line}",
                hint=hint,
            ) from exc

    def _undetectable(self, data: bytes, first_line: int) -> SourceError:
        guess = None
        try:
            from charset_normalizer import from_bytes

            best = from_bytes(data[:65536]).best()
            guess = best.encoding if best is not None else None
        except ImportError:  # pragma: no cover - charset-normalizer ships with the extra
            pass
        looks = f" (it looks like {guess})" if guess else ""
        return TerminalSourceError(
            f"cannot tell the encoding of the sales CSV: it is neither UTF-8 nor CP932{looks}",
            input=self.file,
            where=f"lines from {first_line}",
            hint="pass --encoding NAME (or set [sales] encoding), or save the file as UTF-8",
        )


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def iter_blocks(fh: IO[bytes], size: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Blocks of whole lines (each ends with a newline, except perhaps the last)."""
    carry = b""
    while True:
        chunk = fh.read(size)
        if not chunk:
            if carry:
                yield carry
            return
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        yield data[: cut + 1]
        carry = data[cut + 1 :]


def parse_header(line: str, file: str) -> dict[str, int]:
    """Column positions by name; a missing required column is an error naming it."""
    names = [n.strip().lstrip("\ufeff").lower() for n in next(csv.reader([line]), [])]
    positions = {n: i for i, n in reversed(list(enumerate(names)))}
    missing = [c for c in REQUIRED if c not in positions]
    if missing:
        raise TerminalSourceError(
            f"sales CSV header lacks column(s) {', '.join(missing)}",
            input=file,
            where=f"line 1: {line[:200]!r}",
            hint="the header must name " + ", ".join(COLUMNS) + " (product_category optional)",
        )
    return positions


class RowSplitter:
    """Turns blocks of UTF-8 bytes into :class:`RawRows`; carries a quoted field that spans
    blocks over to the next one."""

    def __init__(self, positions: dict[str, int], width: int) -> None:
        self.positions = positions
        self.width = width  # the header's field count: every row must have exactly this many
        self._pattern = "^" + ",".join(f"(?P<f{i}>{_FIELD})" for i in range(width)) + "$"
        self._pending: tuple[int, bytes] | None = None

    def split(self, data: bytes, first_line: int) -> RawRows:
        """Rows of ``data`` (UTF-8, whole lines) whose first line is ``first_line``."""
        if self._pending is not None:
            first_line, head = self._pending
            data = head + data
            self._pending = None
        else:
            regular = self._regular(data, first_line)
            if regular is not None:
                return regular
        return self._rows(split_lines(data), first_line)

    def _regular(self, data: bytes, first_line: int) -> RawRows | None:
        """The fast path: Arrow's multi-threaded CSV parser on the whole block, accepted only
        when every line gave exactly one row (no blank line, no wrong field count, no quoted
        field spanning lines), so row i is line ``first_line + i``. Otherwise None, and the
        block goes line by line."""
        if data.count(b'"') % 2:  # an unbalanced quote somewhere: read line by line
            return None
        expected = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        invalid: list[int] = []

        def on_invalid(row: Any) -> str:
            invalid.append(1)
            return "skip"

        names = [f"c{i}" for i in range(self.width)]
        wanted = dict(self._wanted())
        try:
            table = pcsv.read_csv(
                pa.py_buffer(data),
                read_options=pcsv.ReadOptions(column_names=names, block_size=1 << 20),
                parse_options=pcsv.ParseOptions(
                    newlines_in_values=False, invalid_row_handler=on_invalid
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={f"c{pos}": pa.string() for pos in wanted.values()},
                    include_columns=[f"c{pos}" for pos in wanted.values()],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid:
            return None
        if invalid or table.num_rows != expected:
            return None
        if b'"' in data and any(
            pc.any(pc.match_substring(col, "\n")).as_py() for col in table.columns
        ):
            return None  # a quoted field spanning lines: numbering needs the slow path
        n = table.num_rows
        columns: dict[str, Any] = {
            "line_no": pa.array(np.arange(first_line, first_line + n, dtype=np.int64))
        }
        for name in COLUMNS:
            pos = wanted.get(name)
            columns[name] = (
                table[f"c{pos}"].combine_chunks() if pos is not None else pa.nulls(n, pa.string())
            )
        return RawRows(pa.table(columns), [], 0, source=data)

    def finish(self) -> list[tuple[int, str, str]]:
        """Malformed rows left at the end of the file (an unterminated quoted field)."""
        if self._pending is None:
            return []
        line_no, data = self._pending
        self._pending = None
        text = data.decode("utf-8").rstrip("\n").replace("\r\n", "\n")
        return [(line_no, text, "malformed_row: unterminated quoted field")]

    def _rows(self, lines: pa.Array, first_line: int) -> RawRows:
        n = len(lines)
        quotes = pc.count_substring(lines, '"').to_numpy(zero_copy_only=False)
        consumed = np.zeros(n, dtype=bool)
        malformed: list[tuple[int, str, str]] = []
        slow: list[tuple[int, str, list[str]]] = []
        if (quotes % 2).any():
            slow, malformed = self._multiline(lines, quotes, consumed, first_line)
        plain = np.flatnonzero(~consumed & (quotes == 0))
        quoted = np.flatnonzero(~consumed & (quotes > 0))
        tables = [self._plain(lines, plain, first_line, malformed)]
        rows = self._quoted(lines, quoted, first_line, malformed)
        if rows is not None:
            tables.append(rows)
        if slow:
            tables.append(_slow_table(slow, self.positions))
        blank = sum(1 for m in malformed if m[2] == BLANK)
        malformed = [m for m in malformed if m[2] != BLANK]
        return RawRows(pa.concat_tables(tables) if len(tables) > 1 else tables[0], malformed, blank)

    def _plain(
        self,
        lines: pa.Array,
        idx: np.ndarray,
        first_line: int,
        malformed: list[tuple[int, str, str]],
    ) -> pa.Table:
        """Lines without quotes: one vectorised split on commas."""
        part = lines if len(idx) == len(lines) else lines.take(pa.array(idx))
        fields = pc.split_pattern(part, ",")
        counts = pc.list_value_length(fields).to_numpy(zero_copy_only=False)
        ok = counts == self.width
        if not ok.all():
            for i in np.flatnonzero(~ok):
                raw = part[int(i)].as_py()
                reason = (
                    BLANK
                    if not raw.strip()
                    else (f"malformed_row: {counts[i]} fields, expected {self.width}")
                )
                malformed.append((first_line + int(idx[i]), raw, reason))
            keep = pa.array(np.flatnonzero(ok))
            fields, part, idx = fields.take(keep), part.take(keep), idx[ok]
        columns = {name: pc.list_element(fields, pos) for name, pos in self._wanted()}
        return _table(idx + first_line, part, columns)

    def _quoted(
        self,
        lines: pa.Array,
        idx: np.ndarray,
        first_line: int,
        malformed: list[tuple[int, str, str]],
    ) -> pa.Table | None:
        """Lines with balanced quotes: one vectorised regex; what it cannot read goes to the
        ``csv`` module."""
        if not len(idx):
            return None
        part = lines.take(pa.array(idx))
        found = pc.extract_regex(part, self._pattern)
        ok = pc.is_valid(found).to_numpy(zero_copy_only=False)
        slow: list[tuple[int, str, list[str]]] = []
        for i in np.flatnonzero(~ok):
            raw = part[int(i)].as_py()
            self._read_slow(first_line + int(idx[i]), raw, slow, malformed)
        if not ok.all():
            keep = pa.array(np.flatnonzero(ok))
            found, part = found.filter(pa.array(ok)), part.take(keep)
        columns = {
            name: _unquote(pc.struct_field(found, f"f{pos}")) for name, pos in self._wanted()
        }
        table = _table(idx[ok] + first_line, part, columns)
        return pa.concat_tables([table, _slow_table(slow, self.positions)]) if slow else table

    def _multiline(
        self, lines: pa.Array, quotes: np.ndarray, consumed: np.ndarray, first_line: int
    ) -> tuple[list[tuple[int, str, list[str]]], list[tuple[int, str, str]]]:
        """Records whose quoted field spans lines (an odd number of quotes on the first)."""
        rows: list[tuple[int, str, list[str]]] = []
        malformed: list[tuple[int, str, str]] = []
        n = len(quotes)
        for odd in np.flatnonzero(quotes % 2):
            i = int(odd)
            if consumed[i]:
                continue
            end, count = i, int(quotes[i])
            while count % 2 and end + 1 < n:
                end += 1
                count += int(quotes[end])
            consumed[i : end + 1] = True
            text = [lines[j].as_py() for j in range(i, end + 1)]
            if count % 2:
                self._pending = (first_line + i, ("\n".join(text) + "\n").encode("utf-8"))
                break
            self._read_slow(first_line + i, "\n".join(text), rows, malformed)
        return rows, malformed

    def _read_slow(
        self,
        line_no: int,
        raw: str,
        rows: list[tuple[int, str, list[str]]],
        malformed: list[tuple[int, str, str]],
    ) -> None:
        fields = next(csv.reader([raw]), [])
        if len(fields) == self.width:
            rows.append((line_no, raw, fields))
        else:
            malformed.append(
                (line_no, raw, f"malformed_row: {len(fields)} fields, expected {self.width}")
            )

    def _wanted(self) -> list[tuple[str, int]]:
        return [(name, self.positions[name]) for name in COLUMNS if name in self.positions]


BLANK = "blank"
_FIELD = r'(?:"(?:[^"]|"")*"|[^,"]*)'
_LINE_OPTIONS: dict[str, Any] = {}


def split_lines(data: bytes) -> pa.Array:
    """The lines of UTF-8 ``data`` as an Arrow string array (no line-end characters).

    Arrow's CSV reader splits in C++; when it would count lines differently from ``\\n``
    (a lone carriage return, a unit-separator byte) the plain Python split is used instead.
    """
    expected = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if b"\x1f" not in data and (b"\r" not in data or data.count(b"\r") == data.count(b"\r\n")):
        try:
            table = pcsv.read_csv(pa.py_buffer(data), **_line_options())
        except pa.ArrowInvalid:
            table = None
        if table is not None and table.num_rows == expected:
            return table.column(0).combine_chunks()
    lines = data.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return pa.array([ln[:-1] if ln.endswith("\r") else ln for ln in lines], pa.string())


def line_ends(data: bytes) -> np.ndarray:
    """The offsets of the newline bytes of ``data``."""
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)


def lines_at(data: bytes, rows: np.ndarray, ends: np.ndarray | None = None) -> pa.Array:
    """Lines ``rows`` (0-based, as :func:`split_lines` counts them) of UTF-8 ``data``, cut by
    newline offsets (``ends``, from :func:`line_ends`): the few rejected rows of a block need
    no split of the whole block."""
    if ends is None:
        ends = line_ends(data)
    count = len(ends) + (0 if data.endswith(b"\n") or not data else 1)
    offsets = np.empty(count + 1, dtype=np.int32)  # line i is data[offsets[i]:offsets[i + 1]]
    offsets[0] = 0
    offsets[1 : len(ends) + 1] = ends + 1
    offsets[-1] = len(data)
    lines = pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))
    picked = lines.take(pa.array(np.asarray(rows, dtype=np.int64)))
    # Without its line end (a CRLF one included): as split_lines cuts it.
    return pc.replace_substring_regex(picked, "\r?\n?$", "", max_replacements=1)


def _line_options() -> dict[str, Any]:
    if not _LINE_OPTIONS:
        _LINE_OPTIONS.update(
            read_options=pcsv.ReadOptions(
                column_names=["line"], block_size=1 << 24, use_threads=False
            ),
            parse_options=pcsv.ParseOptions(
                delimiter="\x1f",
                quote_char=False,
                escape_char=False,
                ignore_empty_lines=False,
                newlines_in_values=False,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={"line": pa.string()},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    return _LINE_OPTIONS


def _unquote(arr: pa.Array) -> pa.Array:
    """A CSV field as written → its value (surrounding quotes removed, doubled quotes undone)."""
    quoted = pc.starts_with(arr, '"')
    inner = pc.replace_substring(pc.utf8_slice_codeunits(arr, 1, -1), '""', '"')
    return pc.if_else(quoted, inner, arr)


def _table(line_no: np.ndarray, raw: pa.Array, columns: dict[str, pa.Array]) -> pa.Table:
    n = len(raw)
    data: dict[str, Any] = {"line_no": pa.array(line_no, pa.int64()), "raw_line": raw}
    for name in COLUMNS:
        data[name] = columns.get(name, pa.nulls(n, pa.string()))
    return pa.table(data)


def _slow_table(rows: list[tuple[int, str, list[str]]], positions: dict[str, int]) -> pa.Table:
    columns: dict[str, pa.Array] = {
        "line_no": pa.array([r[0] for r in rows], pa.int64()),
        "raw_line": pa.array([r[1] for r in rows], pa.string()),
    }
    for name in COLUMNS:
        pos = positions.get(name)
        columns[name] = pa.array(
            [r[2][pos] if pos is not None else None for r in rows], pa.string()
        )
    return pa.table(columns)


def read_sales_rows(
    fh: IO[bytes], file: str, encoding: str | None, block_bytes: int = BLOCK_BYTES
) -> Iterator[RawRows | BlockDecoder]:
    """Yield the :class:`BlockDecoder` first (its ``encoding`` fills in as blocks are read),
    then the :class:`RawRows` of every block of ``fh``."""
    decoder = BlockDecoder(file, encoding)
    yield decoder
    splitter: RowSplitter | None = None
    line = 1
    for data in iter_blocks(fh, block_bytes):
        block_first = data_first = line
        line += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        try:
            utf8 = decoder.to_utf8(data, data_first)
            if splitter is None:
                cut = utf8.find(b"\n")
                header = (utf8 if cut < 0 else utf8[:cut]).decode("utf-8").rstrip("\r")
                utf8 = b"" if cut < 0 else utf8[cut + 1 :]
                width = len(next(csv.reader([header]), []))
                splitter = RowSplitter(parse_header(header, file), width)
                block_first += 1
                if not utf8:
                    continue
            rows = splitter.split(utf8, block_first)
        except UnicodeDecodeError:
            decoder.check(data, data_first)  # raises the error that names the line
            raise
        yield rows
    if splitter is None:
        raise TerminalSourceError(
            "sales CSV is empty (no header line)",
            input=file,
            hint="the first line must name " + ", ".join(COLUMNS),
        )
    leftover = splitter.finish()
    if leftover:
        yield RawRows(_slow_table([], splitter.positions), leftover, 0)


def raw_lines_at(
    fh: IO[bytes], wanted: np.ndarray, decoder: BlockDecoder, block_bytes: int = BLOCK_BYTES
) -> pa.Array:
    """The raw text of the records starting at the ascending line numbers ``wanted`` (a
    second, cheap pass: lines are split but not parsed). A record whose quoted field spans
    lines is joined back, within one block."""
    out: list[str] = []
    line = 1
    for data in iter_blocks(fh, block_bytes):
        count = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        lo, hi = np.searchsorted(wanted, [line, line + count])
        if hi > lo:
            if line == 1 and data.startswith(UTF8_BOM):
                data = data[len(UTF8_BOM) :]
            encoding = decoder.encoding or "utf-8"
            utf8 = data if encoding == "utf-8" else data.decode(encoding).encode("utf-8")
            lines = split_lines(utf8)
            for target in wanted[lo:hi]:
                i = int(target) - line
                text = lines[i].as_py()
                while text.count('"') % 2 and i + 1 < len(lines):
                    i += 1
                    text += "\n" + lines[i].as_py()
                out.append(text)
        line += count
    return pa.array(out, pa.string())
