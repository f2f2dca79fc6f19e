"""Bad suite files fail before any data is read, naming the file, the line and alternatives."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.quality.conftest import make_settings

from revops.errors import ConfigError
from revops.quality import load_suites, run_checks
from revops.warehouse.base import Warehouse

GOOD_HEAD = """\
suite: ads
table: raw_ads
expectations:
  - type: expect_column_values_to_not_be_null
    column: campaign_id
"""


def _write(tmp_path: Path, text: str, name: str = "ads.yaml") -> Path:
    folder = tmp_path / "suites"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("entry", "line", "message", "hint"),
    [
        (
            "  - type: expect_column_values_to_not_be_nul\n    column: clicks\n",
            6,
            "unknown expectation type 'expect_column_values_to_not_be_nul'",
            "did you mean: expect_column_values_to_not_be_null",
        ),
        (
            "  - type: expect_column_values_to_be_between\n    column: clicks\n    min_vale: 0\n",
            8,
            "expect_column_values_to_be_between has no argument 'min_vale'",
            "did you mean: min_value",
        ),
        (
            "  - type: expect_column_values_to_be_between\n    column: clicks\n    min_value: 0\n"
            "    severity: stop\n",
            9,
            "unknown severity 'stop'",
            "use warn or block",
        ),
        (
            "  - type: expect_column_values_to_be_in_set\n    column: channel\n    value_set: 3\n",
            6,
            "invalid arguments for expect_column_values_to_be_in_set",
            "Great Expectations docs",
        ),
    ],
)
def test_bad_entry_names_file_line_and_alternatives(tmp_path, entry, line, message, hint):
    folder = _write(tmp_path, GOOD_HEAD + entry)
    with pytest.raises(ConfigError) as err:
        load_suites(["ads"], suites_dir=folder)
    text = str(err.value)
    assert message in text
    assert f"where: {folder / 'ads.yaml'}:{line}" in text
    assert hint in text


def test_unknown_suite_key_and_yaml_error(tmp_path):
    folder = _write(tmp_path, GOOD_HEAD.replace("table: raw_ads", "tabel: raw_ads"))
    with pytest.raises(ConfigError) as err:
        load_suites(["ads"], suites_dir=folder)
    assert "unknown suite key 'tabel'" in str(err.value)
    assert f"{folder / 'ads.yaml'}:2" in str(err.value) and "did you mean: table?" in str(err.value)
    _write(tmp_path, GOOD_HEAD + "  - type: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML") as err:
        load_suites(["ads"], suites_dir=folder)
    assert f"{folder / 'ads.yaml'}:" in str(err.value)


def test_column_typo_fails_before_any_data_is_read(wh: Warehouse, tmp_path: Path):
    folder = _write(
        tmp_path,
        GOOD_HEAD + "  - type: expect_column_values_to_be_between\n"
        "    column: impresions\n    min_value: 0\n",
    )
    settings = make_settings(tmp_path, suites_dir=str(folder))
    with pytest.raises(ConfigError) as err:
        run_checks(wh, settings, ["ads"])
    text = str(err.value)
    assert "raw_ads has no column 'impresions'" in text
    assert f"where: {folder / 'ads.yaml'}:7" in text
    assert "did you mean: impressions?" in text
    assert wh.query_value("SELECT count(*) FROM revops.dq_results") == 0
    audits = wh.query("SELECT resource, action, status FROM revops.audit_events")
    assert audits == [{"resource": "quality", "action": "check", "status": "error"}]


def test_unknown_table_names_close_matches(wh: Warehouse, tmp_path: Path):
    folder = _write(tmp_path, GOOD_HEAD.replace("table: raw_ads", "table: raw_add"))
    with pytest.raises(ConfigError) as err:
        run_checks(wh, make_settings(tmp_path, suites_dir=str(folder)), ["ads"])
    assert "no table revops.raw_add" in str(err.value)
    assert "did you mean: raw_ads" in str(err.value)


def test_override_folder_replaces_and_adds(tmp_path):
    folder = _write(tmp_path, GOOD_HEAD)
    _write(tmp_path, GOOD_HEAD.replace("suite: ads", "suite: extra"), "extra.yaml")
    suites = {s.name: s for s in load_suites(suites_dir=folder)}
    assert len(suites["ads"].expectations) == 1  # replaced
    assert "extra" in suites and len(suites["sales"].expectations) == 7
    with pytest.raises(ConfigError, match="suites folder does not exist"):
        load_suites(suites_dir=tmp_path / "nope")
    _write(tmp_path, GOOD_HEAD, "ads_copy.yaml")
    with pytest.raises(ConfigError, match=r"named 'ads' but its file 'ads_copy\.yaml'"):
        load_suites(suites_dir=folder)


def test_large_duckdb_batch_is_sampled_and_says_so(duck: Warehouse, tmp_path: Path):
    from tests.quality.fixtures import ADS, DAY, NOW

    duck.insert_rows(
        "revops.raw_ads", ADS, [(DAY, f"c{i}", "Google", 10, 1, 1.0, 0, NOW) for i in range(12)]
    )
    report = run_checks(duck, make_settings(tmp_path, sample_rows=5), ["ads"])
    assert report.summary() == ["ads: ✅ PASS (9/9) · sampled 5 of 12 rows"]
    assert {(r["rows_checked"], r["rows_total"]) for r in report.results} == {(5, 12)}
    assert report.as_dict()["suites"][0]["sampled"] is True
    stored = duck.query_value("SELECT DISTINCT rows_checked FROM revops.dq_results")
    assert stored == 5


def test_great_expectations_is_imported_only_when_checks_run():
    import subprocess
    import sys

    code = (
        "import sys, revops.cli, revops.quality; "
        "print('great_expectations' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": "src", "PATH": ""},
    )
    assert out.stdout.split() == ["False", "False"]
