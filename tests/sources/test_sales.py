"""The sales CSV extractor: both encodings, every dirty-row kind, slices, bad input."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from revops.config import Settings
from revops.errors import TerminalSourceError, UsageError
from revops.sources.sales import extract_sales, months_for_day
from revops.sources.sales_clean import parse_order_date, parse_revenue

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sales"

# Hand-read from tests/fixtures/sales/*/sales_2024-01.csv (line 1 is the header).
EXPECTED_REJECTS = {
    7: "missing_customer_id",
    8: "missing_revenue",
    9: "unreadable_revenue",
    10: "negative_revenue",
    11: "duplicate_order_id",
    12: "malformed_row",
    13: "missing_order_id",
    14: "unreadable_order_date",
    17: "negative_revenue",
}
EXPECTED_ROWS = {  # line → (order_id, revenue)
    2: ("O-001", "1234"),
    3: ("O-002", "1234"),
    4: ("O-003", "1234"),
    5: ("O-004", "1234"),
    6: ("O-005", "1234"),
    16: ("O-012", "1234"),
    18: ("O-014", "12345"),
    20: ("O-015", "0"),
    21: ("O-006", "700"),
    22: ("O-016", "1234.5"),
}


def _settings(path: Path | str, **sales: object) -> Settings:
    return Settings(data={"sales": {"path": str(path), **sales}}, env={})


def _rows(wh, month="2024-01"):
    return {
        r["line_no"]: r
        for r in wh.query(
            "SELECT * FROM revops.raw_sales_orders WHERE month = ? ORDER BY line_no", (month,)
        )
    }


def _rejects(wh, month="2024-01"):
    return {
        r["line_no"]: r
        for r in wh.query(
            "SELECT * FROM revops.sales_rejects WHERE month = ? ORDER BY line_no", (month,)
        )
    }


@pytest.mark.parametrize("folder", ["utf8", "cp932"])
def test_fixture_in_both_encodings(wh, folder):
    report = extract_sales(wh, _settings(FIXTURES / folder), month="2024-01")
    rows, rejects = _rows(wh), _rejects(wh)
    expected_rows = dict(EXPECTED_ROWS)
    expected_rejects = dict(EXPECTED_REJECTS)
    if folder == "cp932":  # there "\5,000円" is quoted: the backslash is Shift_JIS's yen sign
        expected_rows[23] = ("O-017", "5000")
    else:  # unquoted, its comma makes 6 fields
        expected_rejects[23] = "malformed_row"
    assert {k: (v["order_id"], v["revenue"]) for k, v in rows.items()} == {
        k: (o, Decimal(r)) for k, (o, r) in expected_rows.items()
    }
    assert {k: v["reason"].split(":")[0] for k, v in rejects.items()} == expected_rejects
    assert report.loaded == len(expected_rows) and report.rejected == len(expected_rejects)
    assert report.skipped == 1  # the blank line 15
    assert rows[4]["order_date"] == date(2024, 1, 7)  # 2024年1月7日
    assert rows[16]["order_date"] == date(2024, 1, 17)  # 20240117
    assert rows[18]["product_category"] == "multi\nline category"
    assert rows[4]["product_category"] == "サービス"
    assert rejects[11]["raw_line"] == "O-001,C010,2024-01-14,999,Software"
    assert rejects[12]["reason"] == "malformed_row: 4 fields, expected 5"
    assert rejects[17]["raw_line"] == 'O-013,C015,2024.01.18,"▲1,000",Software'
    assert {r["file"] for r in rejects.values()} == {"sales_2024-01.csv"}
    expected_encoding = "utf-8, BOM" if folder == "utf8" else "cp932"
    assert report.inputs[0].endswith(f"({expected_encoding})")


def test_small_blocks_give_the_same_rows(wh, tmp_path):
    # 1 KiB blocks cut the file mid-way, also inside the quoted field that spans two lines.
    report = extract_sales(wh, _settings(FIXTURES / "utf8", block_bytes=1024), month="2024-01")
    big = {k: (v["order_id"], v["revenue"]) for k, v in _rows(wh).items()}
    data = (FIXTURES / "utf8" / "sales_2024-01.csv").read_bytes()
    cut = data.index(b'"multi') + 3
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "sales_2024-01.csv").write_bytes(data)
    extract_sales(wh, _settings(folder, block_bytes=1024), month="2024-01")
    assert cut > 0 and report.loaded == 10
    assert {k: (v["order_id"], v["revenue"]) for k, v in _rows(wh).items()} == big


def test_block_boundary_inside_a_quoted_field(duck, tmp_path):
    lines = ["order_id,customer_id,order_date,revenue,product_category"]
    lines += [f"O-{i},C{i},2024-02-01,{i},cat" for i in range(1, 60)]
    lines.insert(30, 'O-X,CX,2024-02-02,"1,000","a\nb\nc"')
    lines.append('O-open,C,2024-02-03,5,"never closed')
    (tmp_path / "sales_2024-02.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = extract_sales(duck, _settings(tmp_path, block_bytes=1024), month="2024-02")
    rows = _rows(duck, "2024-02")
    assert rows[31]["product_category"] == "a\nb\nc" and rows[31]["revenue"] == 1000
    assert rows[34]["order_id"] == "O-30"  # numbering continues after the 3-line record
    assert report.loaded == 60
    rejects = _rejects(duck, "2024-02")
    assert list(rejects) == [64]  # O-59 is on line 63
    assert rejects[64]["reason"] == "malformed_row: unterminated quoted field"


def test_rerun_replaces_the_month_slice(wh):
    settings = _settings(FIXTURES / "utf8")
    extract_sales(wh, settings, month="2024-01")
    extract_sales(wh, settings, month="2024-01")
    assert wh.query_value("SELECT count(*) FROM revops.raw_sales_orders") == 10
    assert wh.query_value("SELECT count(*) FROM revops.sales_rejects") == 10
    assert wh.query_value("SELECT count(*) FROM revops.sales_stage_orders") == 0


def test_failure_mid_file_leaves_the_previous_slice(wh, tmp_path):
    shutil.copy(FIXTURES / "utf8" / "sales_2024-01.csv", tmp_path / "sales_2024-01.csv")
    settings = _settings(tmp_path, block_bytes=1024)
    extract_sales(wh, settings, month="2024-01")
    good = (FIXTURES / "utf8" / "sales_2024-01.csv").read_bytes()
    (tmp_path / "sales_2024-01.csv").write_bytes(good + b"O-900,C1,2024-01-30,\xff\xfe,x\r\n")
    with pytest.raises(TerminalSourceError) as info:
        extract_sales(wh, settings, month="2024-01")
    text = str(info.value)
    assert "not valid utf-8 at line 24" in text and "sales_2024-01.csv" in text
    assert wh.query_value("SELECT count(*) FROM revops.raw_sales_orders") == 10
    assert wh.query_value("SELECT count(*) FROM revops.sales_rejects") == 10
    for stage in ("sales_stage_orders", "sales_stage_rejects"):  # the failed load left nothing
        assert wh.query_value(f"SELECT count(*) FROM revops.{stage}") == 0


def test_forcing_the_wrong_encoding_hints_at_the_right_one(duck):
    with pytest.raises(TerminalSourceError) as info:
        extract_sales(duck, _settings(FIXTURES / "cp932"), month="2024-01", encoding="utf-8")
    assert "pass --encoding cp932" in str(info.value)


def test_shift_jis_name_is_accepted(duck):
    report = extract_sales(
        duck, _settings(FIXTURES / "cp932"), month="2024-01", encoding="shift_jis"
    )
    assert report.loaded == 11 and report.inputs[0].endswith("(shift_jis)")


def test_unknown_encoding_name(duck):
    with pytest.raises(UsageError) as info:
        extract_sales(duck, _settings(FIXTURES / "cp932"), month="2024-01", encoding="klingon")
    assert "unknown encoding 'klingon'" in str(info.value) and "--encoding" in str(info.value)


def test_undetectable_encoding(duck, tmp_path):
    body = "order_id,customer_id,order_date,revenue,product_category\nO-1,C1,2024-01-01,5,"
    (tmp_path / "sales_2024-01.csv").write_bytes(body.encode() + b"caf\xc3\xa9 \x81\x20\n")
    with pytest.raises(TerminalSourceError) as info:
        extract_sales(duck, _settings(tmp_path), month="2024-01")
    assert "neither UTF-8 nor CP932" in str(info.value) and "--encoding" in str(info.value)


def test_missing_file_and_folder(duck, tmp_path):
    with pytest.raises(TerminalSourceError) as info:
        extract_sales(duck, _settings(FIXTURES / "utf8"), month="2024-02")
    text = str(info.value)
    assert "sales_2024-02.csv" in text and "holds: sales_2024-01.csv" in text
    with pytest.raises(TerminalSourceError, match="sales folder not found"):
        extract_sales(duck, _settings(tmp_path / "nope"), month="2024-01")


def test_missing_header_column(duck, tmp_path):
    (tmp_path / "sales_2024-01.csv").write_text("order_id,customer,revenue\nO-1,C1,5\n")
    with pytest.raises(TerminalSourceError) as info:
        extract_sales(duck, _settings(tmp_path), month="2024-01")
    assert "lacks column(s) customer_id, order_date" in str(info.value)


def test_bad_month_argument(duck):
    with pytest.raises(UsageError, match="YYYY-MM"):
        extract_sales(duck, _settings(FIXTURES / "utf8"), month="2024-1")


def test_daily_run_reads_the_months_of_the_kpi_period_and_warns_on_a_missing_one(duck):
    assert months_for_day(date(2024, 2, 10), 30) == ["2024-01", "2024-02"]
    assert months_for_day(date(2024, 2, 1), 31) == ["2024-01"]
    assert months_for_day(date(2024, 1, 1), 30) == ["2023-12"]
    report = extract_sales(duck, _settings(FIXTURES / "utf8"), day=date(2024, 2, 10))
    assert report.slice == "2024-01,2024-02" and report.loaded == 10
    assert len(report.warnings) == 1 and "2024-02" in report.warnings[0]
    status = duck.query_value("SELECT status FROM revops.audit_events WHERE resource = 'sales'")
    assert status == "warning"
    with pytest.raises(TerminalSourceError):
        extract_sales(duck, _settings(FIXTURES / "utf8"), day=date(2024, 5, 10))


def test_reads_from_s3(duck, tmp_path):
    moto = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.create_bucket(Bucket="sales")
        s3.upload_file(
            str(FIXTURES / "cp932" / "sales_2024-01.csv"), "sales", "monthly/sales_2024-01.csv"
        )
        options = {
            "key": "test",
            "secret": "test",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        report = extract_sales(
            duck, _settings("s3://sales/monthly", storage_options=options), month="2024-01"
        )
        assert report.loaded == 11
    finally:
        server.stop()


@given(st.integers(min_value=0, max_value=10**12))
def test_revenue_forms_read_as_the_same_number(n):
    full = str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    forms = [
        str(n),
        f"{n:,}",
        f"¥{n:,}",
        f"￥{n:,}",
        f"\\{n:,}",
        f"{n:,}円",
        full,
        f"JPY {n}",
        f" {n} ",
    ]
    values, ok = parse_revenue(pa.array(forms))
    assert all(ok.to_pylist())
    assert set(values.to_pylist()) == {Decimal(n)}


def test_negative_and_unreadable_revenue():
    values, ok = parse_revenue(pa.array(["-5", "▲1,000", "(300)", "1.2.3", "abc", None, "1e5"]))
    assert values.to_pylist()[:3] == [Decimal(-5), Decimal(-1000), Decimal(-300)]
    assert ok.to_pylist() == [True, True, True, False, False, False, False]


def test_date_forms():
    got = parse_order_date(
        pa.array(
            [
                "2024-01-05",
                "2024/1/5",
                "2024.01.05",
                "2024年1月5日",
                "20240105",
                "２０２４-０１-０５",
                "2024-01-05 10:00:00",
                "2024-02-30",
                "05/01/2024",
                None,
            ]
        )
    ).to_pylist()
    assert got[:7] == [date(2024, 1, 5)] * 7
    assert got[7:] == [None, None, None]


@pytest.mark.parametrize("invalid_iso", [False, True])
def test_date_forms_beside_iso_dates(invalid_iso):
    # ISO-shaped dates take one strict cast unless one of them is invalid (then every date
    # goes the careful way): the same dates either way.
    texts = ["2024-03-31", "2024/3/1", None, "2024-03-01", "2024年3月2日", "2024-3-4", "bad"]
    texts += ["2024-02-30"] if invalid_iso else []
    got = parse_order_date(pa.array(texts)).to_pylist()
    march = [date(2024, 3, d) for d in (31, 1)] + [None] + [date(2024, 3, d) for d in (1, 2, 4)]
    assert got[:7] == [*march, None]
    assert got[7:] == ([None] if invalid_iso else [])


def test_revenue_beside_missing_and_long_values():
    values, ok = parse_revenue(pa.array(["12", None, "", "1" * 20, "¥1,000", "x", "007"]))
    assert values.to_pylist() == [
        Decimal(12),
        None,
        None,
        Decimal("1" * 20),
        Decimal(1000),
        None,
        Decimal(7),
    ]
    assert ok.to_pylist() == [True, False, False, True, True, False, True]


def test_fast_and_line_by_line_paths_agree(duck, tmp_path):
    import io

    from revops.sources.sales_clean import clean_rows
    from revops.sources.sales_read import RowSplitter, read_sales_rows, split_lines

    lines = ["order_id,customer_id,order_date,revenue,product_category"]
    for i in range(1, 400):
        revenue = ("", "-5", '"1,234"', '"a ""quoted"" word"', "¥77", str(i))[i % 6]
        lines.append(f"O-{i % 350},C{i},2024-03-{i % 28 + 1:02d},{revenue},cat {i % 3}")
    data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    (tmp_path / "sales_2024-03.csv").write_bytes(data)
    blocks = list(read_sales_rows(io.BytesIO(data), "f", None, 2048))[1:]
    assert all(b.source is not None for b in blocks)  # every block took the fast path
    splitter = RowSplitter({n: i for i, n in enumerate(lines[0].split(","))}, 5)
    slow = splitter._rows(split_lines(data), 1)
    fast_rejects = [
        r for b in blocks for r in clean_rows(b.table, b.raw_lines).rejected.to_pylist()
    ]
    slow_rejects = clean_rows(slow.table).rejected.to_pylist()
    header = {"line_no": 1, "raw_line": lines[0], "reason": "unreadable_revenue"}
    assert sorted(fast_rejects, key=lambda r: r["line_no"]) == [
        r for r in sorted(slow_rejects, key=lambda r: r["line_no"]) if r != header
    ]
    report = extract_sales(duck, _settings(tmp_path, block_bytes=2048), month="2024-03")
    rejects = _rejects(duck, "2024-03")
    assert rejects[4]["raw_line"] == 'O-3,C3,2024-03-04,"a ""quoted"" word",cat 0'
    assert rejects[4]["reason"] == "unreadable_revenue"
    assert rejects[2]["reason"] == "negative_revenue" and rejects[7]["reason"] == "missing_revenue"
    assert (report.loaded, report.reasons["duplicate_order_id"]) == _count_good(lines[1:])


def _count_good(lines):
    """(kept, duplicates) computed the plain way: valid revenue, first order_id wins."""
    import csv

    seen, kept, duplicates = set(), 0, 0
    for line in lines:
        order, _, _, revenue, _ = next(csv.reader([line]))
        if not revenue.replace(",", "").replace("¥", "").isdigit():
            continue
        if order in seen:
            duplicates += 1
        else:
            seen.add(order)
            kept += 1
    return kept, duplicates


def test_failed_month_of_a_run_keeps_every_slice_and_no_scratch(duck, tmp_path):
    folder, scratch = tmp_path / "sales", tmp_path / "scratch"
    folder.mkdir()
    scratch.mkdir()
    shutil.copy(FIXTURES / "utf8" / "sales_2024-01.csv", folder / "sales_2024-01.csv")
    header = "order_id,customer_id,order_date,revenue\n"
    (folder / "sales_2024-02.csv").write_text(header + "F-1,C1,2024-02-01,5\n")
    settings = _settings(folder, scratch_dir=str(scratch))
    report = extract_sales(duck, settings, day=date(2024, 2, 10))  # reads 2024-01 and 2024-02
    assert report.tables == {"raw_sales_orders[2024-01]": 10, "raw_sales_orders[2024-02]": 1}
    # January's file changes, then February's turns unreadable: the run fails as a whole.
    (folder / "sales_2024-01.csv").write_text(header + "J-1,C1,2024-01-02,7\n")
    (folder / "sales_2024-02.csv").write_bytes(header.encode() + b"F-2,C1,2024-02-01,\xff\n")
    with pytest.raises(TerminalSourceError, match="not valid utf-8 at line 2"):
        extract_sales(duck, settings, day=date(2024, 2, 10), encoding="utf-8")
    assert set(_rows(duck)) == set(EXPECTED_ROWS)
    assert [r["order_id"] for r in _rows(duck, "2024-02").values()] == ["F-1"]
    assert len(_rejects(duck)) == 10  # as the first run left them
    assert list(scratch.iterdir()) == []  # the run's Parquet files are gone


def test_raw_lines_are_cut_as_the_line_split_counts_them():
    import numpy as np

    from revops.sources.sales_read import lines_at, split_lines

    data = b'a,1\r\nb,2\n\nc\rd\n"x,y"\r\nlast'
    expected = ["a,1", "b,2", "", "c\rd", '"x,y"', "last"]
    assert split_lines(data).to_pylist() == expected
    assert lines_at(data, np.array([5, 0, 3, 2])).to_pylist() == ["last", "a,1", "c\rd", ""]


def _dirty_lines(n: int, seed: int) -> list[str]:
    """Rows with many repeated order ids (some first seen on an invalid row), quoted fields,
    a field spanning lines and blank lines (which send blocks down the line-by-line path)."""
    import random

    rng = random.Random(seed)
    lines = ["order_id,customer_id,order_date,revenue,product_category"]
    for i in range(n):
        order = (
            f"O-{rng.randint(0, n // 3)}" if rng.random() < 0.8 else f"U-{i:0{rng.randint(1, 9)}d}"
        )
        revenue = rng.choice(["12", '"1,234"', "¥77", "-5", "", "x", "1234円"])
        category = rng.choice(["a", '"b, c"', '"multi\nline"', "サービス"])
        lines.append(f"{order},C{i % 7},2024-04-{i % 28 + 1:02d},{revenue},{category}")
        if rng.random() < 0.01:
            lines.append("")
    return lines


def _slices(wh, month):
    rows = {k: (v["order_id"], v["revenue"]) for k, v in _rows(wh, month).items()}
    rejects = {k: (v["reason"], v["raw_line"]) for k, v in _rejects(wh, month).items()}
    return rows, rejects


def test_first_valid_row_of_each_order_id_is_kept(wh, tmp_path):
    import csv

    lines = _dirty_lines(3000, seed=11)
    (tmp_path / "sales_2024-04.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = extract_sales(wh, _settings(tmp_path, block_bytes=4096), month="2024-04")
    rows, rejects = _slices(wh, "2024-04")
    # The plain way: the first row (in file order) with a readable, non-negative revenue wins.
    records = list(csv.reader(("\n".join(lines[1:]) + "\n").splitlines(keepends=True)))
    line, first = 2, {}
    for fields in records:
        if fields and fields[3] in ("12", "1,234", "¥77", "1234円") and fields[0] not in first:
            first[fields[0]] = line
        line += sum(f.count("\n") for f in fields) + 1
    assert {order: ln for ln, (order, _) in rows.items()} == first
    duplicates = {ln for ln, (reason, _) in rejects.items() if reason == "duplicate_order_id"}
    assert len(duplicates) == report.reasons["duplicate_order_id"] > 100
    assert all(rejects[ln][1].split(",", 1)[0] in first for ln in duplicates)
    assert not duplicates & set(first.values())


def test_order_id_candidates_are_checked_exactly(duck, tmp_path, monkeypatch):
    # A one-byte filter marks every row as a possible repeat: the exact check alone decides,
    # and the slices are the same as with the filter sized for the file.
    import revops.sources.sales_direct as direct

    lines = _dirty_lines(2000, seed=12)
    (tmp_path / "sales_2024-04.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = _settings(tmp_path, block_bytes=4096)
    extract_sales(duck, settings, month="2024-04")
    expected = _slices(duck, "2024-04")
    monkeypatch.setattr(direct, "filter_bits_for", lambda size: 3)
    extract_sales(duck, settings, month="2024-04")
    assert _slices(duck, "2024-04") == expected


def test_a_repeat_on_a_lower_line_of_the_line_by_line_path_wins(duck, tmp_path):
    # The blank line sends the block line by line, where quoted lines are read apart from
    # plain ones: the quoted first row (line 2) must still win over the plain repeat (line 3).
    data = (
        "order_id,customer_id,order_date,revenue,product_category\n"
        'O-1,C1,2024-05-01,"1,000",a\n'
        "O-1,C2,2024-05-02,5,b\n"
        "\n"
        "O-2,C3,2024-05-03,7,c\n"
    )
    (tmp_path / "sales_2024-05.csv").write_text(data, encoding="utf-8")
    report = extract_sales(duck, _settings(tmp_path), month="2024-05")
    assert {k: v["order_id"] for k, v in _rows(duck, "2024-05").items()} == {2: "O-1", 5: "O-2"}
    rejects = _rejects(duck, "2024-05")
    assert {k: v["reason"] for k, v in rejects.items()} == {3: "duplicate_order_id"}
    assert rejects[3]["raw_line"] == "O-1,C2,2024-05-02,5,b"
    assert report.skipped == 1


@given(st.lists(st.text(max_size=12), min_size=1, max_size=40), st.integers(0, 5))
def test_key_hashes_depend_on_the_string_only(keys, cut):
    from revops.sources.sales_dedupe import key_hashes

    array = pa.array(keys, pa.string())
    alone = [int(key_hashes(pa.array([k], pa.string()))[0]) for k in keys]
    assert [int(h) for h in key_hashes(array)] == alone
    sliced = array.slice(min(cut, len(keys) - 1))
    assert [int(h) for h in key_hashes(sliced)] == alone[len(keys) - len(sliced) :]


@given(st.lists(st.lists(st.integers(0, 300), max_size=60), max_size=12), st.integers(3, 12))
def test_key_filter_never_misses_a_repeat(blocks, bits):
    import numpy as np

    from revops.sources.sales_dedupe import KeyFilter

    seen_filter, seen = KeyFilter(bits), set()
    for block in blocks:
        hashes = np.array(block, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        marked = seen_filter.maybe_seen(hashes)
        for value, mark in zip(hashes.tolist(), marked.tolist(), strict=True):
            assert mark or value not in seen
            seen.add(value)


def test_key_filter_is_sized_by_the_file_within_its_bounds():
    from revops.sources.sales_dedupe import filter_bits_for

    assert filter_bits_for(0) == filter_bits_for(1000) == 23  # 1 MiB at least
    assert filter_bits_for(32 * 2**20) == 24  # one bit per 2 bytes of the file
    assert filter_bits_for(64 * 2**20) == 25
    assert filter_bits_for(500 * 10**6) == filter_bits_for(10**12) == 28  # 32 MiB at most


def _slice_files(wh) -> list[str]:
    from revops.warehouse.slices import slice_folder

    return sorted(p.name for p in slice_folder(wh).glob("*.parquet"))


def test_duckdb_keeps_slices_as_parquet_files_swapped_in_by_the_commit(duck, monkeypatch):
    import revops.sources.sales as sales

    report = extract_sales(duck, _settings(FIXTURES / "utf8"), month="2024-01")
    assert report.loaded == len(EXPECTED_ROWS)
    first = _slice_files(duck)
    listed = duck.query("SELECT month, file, row_count FROM revops.sales_slices ORDER BY file")
    assert [r["file"] for r in listed] == first and {r["month"] for r in listed} == {"2024-01"}
    assert sum(r["row_count"] for r in listed) == len(EXPECTED_ROWS)
    kinds = duck.query(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = 'revops' AND table_name LIKE 'raw_sales_orders%'"
    )
    assert {r["table_name"]: r["table_type"] for r in kinds} == {
        "raw_sales_orders": "VIEW",
        "raw_sales_orders_rows": "BASE TABLE",
    }

    # A run that fails after writing its files removes them and keeps the slice.
    real = sales.read_month_directly

    def broken(*args):
        real(*args)
        raise RuntimeError("disk gone")

    monkeypatch.setattr(sales, "read_month_directly", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        extract_sales(duck, _settings(FIXTURES / "utf8"), month="2024-01")
    assert _slice_files(duck) == first
    assert sorted(_rows(duck)) == sorted(EXPECTED_ROWS)

    # A run that succeeds swaps its files in and removes the superseded ones.
    monkeypatch.setattr(sales, "read_month_directly", real)
    extract_sales(duck, _settings(FIXTURES / "utf8"), month="2024-01")
    second = _slice_files(duck)
    assert second and not set(second) & set(first)
    assert sorted(_rows(duck)) == sorted(EXPECTED_ROWS)


def test_a_table_of_an_older_warehouse_becomes_the_rows_under_the_view(tmp_path):
    from revops.warehouse import connect, ensure_schema
    from revops.warehouse.slices import sales_rows_table

    url = f"duckdb:///{tmp_path}/old.duckdb"
    old = connect(url)
    old.execute("CREATE SCHEMA revops")
    old.execute(
        "CREATE TABLE revops.raw_sales_orders (order_id VARCHAR NOT NULL, customer_id VARCHAR "
        "NOT NULL, order_date DATE, revenue DECIMAL(38, 6) NOT NULL, product_category VARCHAR, "
        "month VARCHAR NOT NULL, source_file VARCHAR NOT NULL, line_no BIGINT NOT NULL, "
        "loaded_at TIMESTAMPTZ NOT NULL)"
    )
    old.execute(
        "INSERT INTO revops.raw_sales_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
        ("OLD-1", "C1", date(2023, 12, 5), Decimal("5"), "x", "2023-12", "f.csv", 2),
    )
    old.execute(
        "INSERT INTO revops.raw_sales_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
        ("OLD-2", "C1", date(2024, 1, 5), Decimal("7"), "x", "2024-01", "f.csv", 2),
    )
    old.close()

    wh = connect(url)
    ensure_schema(wh)
    assert sales_rows_table(wh) == "revops.raw_sales_orders_rows"
    ids = "SELECT order_id FROM revops.raw_sales_orders ORDER BY order_id"
    assert [r["order_id"] for r in wh.query(ids)] == ["OLD-1", "OLD-2"]
    # A new extraction of January replaces the old table's January rows, not December's.
    extract_sales(wh, _settings(FIXTURES / "utf8"), month="2024-01")
    got = [r["order_id"] for r in wh.query(ids)]
    assert "OLD-1" in got and "OLD-2" not in got and len(got) == 1 + len(EXPECTED_ROWS)
    wh.close()


def test_a_moved_warehouse_reads_its_slices_from_its_new_folder(tmp_path):
    from revops.warehouse import connect, ensure_schema

    before = tmp_path / "a"
    wh = connect(f"duckdb:///{before}/w.duckdb")
    ensure_schema(wh)
    extract_sales(wh, _settings(FIXTURES / "utf8"), month="2024-01")
    wh.close()
    after = tmp_path / "b"
    shutil.move(before, after)
    moved = connect(f"duckdb:///{after}/w.duckdb")
    ensure_schema(moved)
    assert sorted(_rows(moved)) == sorted(EXPECTED_ROWS)
    moved.close()


def test_an_in_memory_warehouse_keeps_its_slices_until_it_closes():
    from revops.warehouse import connect, ensure_schema
    from revops.warehouse.slices import slice_folder

    wh = connect("duckdb:///:memory:")
    ensure_schema(wh)
    extract_sales(wh, _settings(FIXTURES / "utf8"), month="2024-01")
    assert sorted(_rows(wh)) == sorted(EXPECTED_ROWS)
    folder = slice_folder(wh)
    assert list(folder.glob("*.parquet"))
    wh.close()
    assert not folder.exists()


def test_an_unwritable_slice_folder_is_a_clear_error(duck, monkeypatch):
    from pathlib import Path as _Path

    from revops.errors import WarehouseError
    from revops.warehouse.slices import slice_folder

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_Path, "mkdir", refuse)
    with pytest.raises(WarehouseError, match="sales slice files") as info:
        extract_sales(duck, _settings(FIXTURES / "utf8"), month="2024-01")
    assert str(slice_folder(duck)) in str(info.value)
    monkeypatch.undo()
    assert _rows(duck) == {}  # nothing loaded, nothing half-written
